import { defineConfig } from 'vitest/config';

// Integration tests start real stand-ins (DynamoDB Local is a JVM), so files run one at a
// time on 2 cores and each file starts what it needs once.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default'],
  },
});
