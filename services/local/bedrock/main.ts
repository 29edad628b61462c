/**
 * Runs the Bedrock Runtime stand-in on its own:
 *   npx tsx services/local/bedrock/main.ts [--port N] [--control-port N] [--token-delay-ms N] [--first-token-delay-ms N] [--bad-day RATE]
 * Environment (flags win): COT_BEDROCK_PORT, COT_BEDROCK_CONTROL_PORT, COT_BEDROCK_TOKEN_DELAY_MS,
 * COT_BEDROCK_FIRST_TOKEN_DELAY_MS, COT_BEDROCK_BAD_DAY (share of calls that misbehave, 0–1).
 * Prints one JSON line {url, controlUrl} once listening.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startBedrockStandin } from './server.js';

const optionsSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(0),
  controlPort: z.coerce.number().int().min(0).max(65535).default(0),
  tokenDelayMs: z.coerce.number().min(0).optional(),
  firstTokenDelayMs: z.coerce.number().min(0).optional(),
  badDay: z.coerce.number().min(0).max(1).optional(),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'control-port': { type: 'string' },
      'token-delay-ms': { type: 'string' },
      'first-token-delay-ms': { type: 'string' },
      'bad-day': { type: 'string' },
    },
  });
  const env = process.env;
  const parsed = optionsSchema.safeParse({
    port: values.port ?? env.COT_BEDROCK_PORT,
    controlPort: values['control-port'] ?? env.COT_BEDROCK_CONTROL_PORT,
    tokenDelayMs: values['token-delay-ms'] ?? env.COT_BEDROCK_TOKEN_DELAY_MS,
    firstTokenDelayMs: values['first-token-delay-ms'] ?? env.COT_BEDROCK_FIRST_TOKEN_DELAY_MS,
    badDay: values['bad-day'] ?? env.COT_BEDROCK_BAD_DAY,
  });
  if (!parsed.success) {
    console.error(`bedrock stand-in: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    process.exit(2);
  }
  const { badDay, ...timing } = parsed.data;
  const standin = await startBedrockStandin({ host: '127.0.0.1', ...timing, badDay: badDay ? { rate: badDay, seed: 'bad-day' } : null });
  console.log(JSON.stringify({ url: standin.url, controlUrl: standin.controlUrl }));
  const stop = (): void => {
    void standin.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`bedrock stand-in failed to start: ${(err as Error).message}`);
  process.exit(1);
});
