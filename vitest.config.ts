import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Integration tests start real stand-ins (DynamoDB Local is a JVM), so files run one at a
// time on 2 cores and each file starts what it needs once. The web app's component tests
// run in jsdom; everything else in node (the reduced chaos run, test/e2e/chaos.test.ts, included).

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'node', include: ['test/**/*.test.ts'], environment: 'node' } },
      {
        extends: true,
        plugins: [react()],
        test: { name: 'web', include: ['web/src/**/*.test.{ts,tsx}'], environment: 'jsdom', setupFiles: ['web/src/test/setup.ts'] },
      },
    ],
  },
});
