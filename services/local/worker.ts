/**
 * `npm run worker`: one more worker against the stack `npm start` is running. Reads the
 * service environment from .local/stack.json (variables set in the shell win) and runs the
 * worker's own composition root in this process, so signals reach it directly.
 */
import { StartupError } from './errors.js';
import { loadLocalConfig } from './local-config.js';
import { processExists } from './processes.js';
import { readStackFile, stackFilePath } from './stack-file.js';

async function main(): Promise<void> {
  const file = stackFilePath(loadLocalConfig(process.env).dir);
  const stack = await readStackFile(file);
  if (!processExists(stack.pid)) {
    throw new StartupError(`the stack in ${file} is not running any more (pid ${stack.pid}): start it with npm start`);
  }
  for (const [key, value] of Object.entries(stack.env)) {
    // A variable set in the shell is a deliberate override (e.g. COT_WORKER_CONCURRENCY=1).
    if (process.env[key] === undefined) process.env[key] = value;
  }
  await import('../worker/main.js');
}

main().catch((err: unknown) => {
  const known = err instanceof StartupError || (err instanceof Error && err.name === 'LocalConfigError');
  process.stderr.write(`npm run worker: ${known ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
