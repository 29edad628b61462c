/**
 * `npm run worker`: one more worker against the stack `npm start` is running. Reads the
 * service environment from .local/stack.json (variables set in the shell win), runs the
 * worker as a child process and relays its logs as readable lines, like `npm start` does.
 * Ctrl-C hands its jobs over (within COT_SHUTDOWN_GRACE_SECONDS); a second one kills it.
 * Exits with the worker's exit code (0 after a clean hand-over), 130 when forced.
 */
import { StartupError } from './errors.js';
import { loadLocalConfig, loadStackServiceSettings } from './local-config.js';
import { createLineFormatter } from './log-format.js';
import { processExists } from './processes.js';
import { readStackFile, stackFilePath } from './stack-file.js';
import { SERVICE_ENTRYPOINTS, WORKER_STOP_MARGIN_MS, spawnService } from './stack.js';
import { onStopSignals } from './stop-signals.js';

async function main(): Promise<number> {
  const file = stackFilePath(loadLocalConfig(process.env).dir);
  const stack = await readStackFile(file);
  if (!processExists(stack.pid)) {
    throw new StartupError(`the stack in ${file} is not running any more (pid ${stack.pid}): start it with npm start`);
  }
  // A variable set in the shell is a deliberate override (e.g. COT_WORKER_CONCURRENCY=1).
  const env = { ...stack.env, ...process.env };
  const graceMs = loadStackServiceSettings(env).shutdownGraceMs + WORKER_STOP_MARGIN_MS;
  const formatter = createLineFormatter({ colour: Boolean(process.stdout.isTTY) });
  const worker = spawnService('worker', SERVICE_ENTRYPOINTS.worker, env, (source, line) => {
    process.stdout.write(`${formatter.format(source, line)}\n`);
  });
  onStopSignals({
    stop: () => void worker.stop(graceMs),
    force(signal) {
      process.stdout.write(`${formatter.format('worker', `${signal} again: killing the worker now`)}\n`);
      worker.kill('SIGKILL');
      process.exit(130);
    },
  });
  const exit = await worker.exited;
  return exit.code ?? 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof StartupError || (err instanceof Error && err.name === 'LocalConfigError');
    process.stderr.write(`npm run worker: ${known ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
