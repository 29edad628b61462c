/**
 * `npm start`: the whole backend in the foreground on 127.0.0.1. Prints one line per
 * endpoint and a final `ready` line, writes .local/stack.json, relays every process's
 * logs with a prefix, and on Ctrl-C / SIGTERM stops everything it started and exits 0.
 * Exit codes: 0 stopped cleanly, 1 could not start (or the API died), 130 forced stop (a
 * second Ctrl-C; the relays of the first one are told apart in stop-signals.ts).
 */
import { JavaMissingError, LocalConfigError, StartupError } from './errors.js';
import { WebBuildError, WebBuildLockTimeoutError } from './web-host/errors.js';
import { BootstrapError } from './bootstrap.js';
import { loadLocalConfig, type LocalConfig } from './local-config.js';
import { createLineFormatter } from './log-format.js';
import { describeExit } from './processes.js';
import { describeStack, removeStackFile, stackFilePath, writeStackFile } from './stack-file.js';
import { startLocalStack, type LocalStack } from './stack.js';
import { onStopSignals } from './stop-signals.js';
import { ConfigError } from '../shared/errors.js';

const out = process.stdout;
const formatter = createLineFormatter({ colour: Boolean(out.isTTY) });
const relay = (source: string, line: string): void => void out.write(`${formatter.format(source, line)}\n`);
const say = (line: string): void => relay('stack', line);

async function main(): Promise<number> {
  let config: LocalConfig;
  try {
    config = loadLocalConfig(process.env);
  } catch (err) {
    if (err instanceof LocalConfigError) return fail(err.message);
    throw err;
  }

  let stack: LocalStack | undefined;
  let stopping: Promise<number> | undefined;
  let signalled = false;
  const file = stackFilePath(config.dir);
  const stop = (code: number): Promise<number> =>
    (stopping ??= (async () => {
      say('stopping: workers hand their jobs over, then the API and the stand-ins stop (Ctrl-C again to force)');
      await removeStackFile(file, process.pid).catch(() => undefined);
      await stack?.stop();
      say('stopped');
      return code;
    })());
  onStopSignals({
    stop(signal) {
      signalled = true;
      if (stack) void stop(0).then((code) => process.exit(code));
      else say(`${signal}: stopping once start-up has finished`);
    },
    force(signal) {
      // Our children's orphan guards SIGTERM them as soon as this process is gone.
      say(`${signal} again: exiting now`);
      process.exit(130);
    },
  });

  say('starting DynamoDB Local, fauxqs, the Bedrock stand-in, the OpenID provider and the web app …');
  try {
    stack = await startLocalStack({
      dir: config.dir,
      persist: true,
      workers: config.workers,
      ports: config.ports,
      bedrock: config.bedrock,
      web: { dir: config.webDir },
      log: say,
      onProcessLine: (id, line) => relay(id, line),
    });
  } catch (err) {
    const known = [JavaMissingError, StartupError, LocalConfigError, ConfigError, BootstrapError, WebBuildError, WebBuildLockTimeoutError];
    if (known.some((type) => err instanceof type)) return fail((err as Error).message);
    throw err;
  }
  if (signalled) return stop(0);

  watchChildren(stack, stop, () => stopping !== undefined);
  await writeStackFile(file, describeStack(stack, process.pid));
  printEndpoints(stack, file);
  return new Promise<number>(() => undefined); // runs until a signal
}

function watchChildren(stack: LocalStack, stop: (code: number) => Promise<number>, isStopping: () => boolean): void {
  void stack.api.exited.then((info) => {
    if (isStopping()) return;
    say(`the API exited unexpectedly (${describeExit(info)}); stopping the stack`);
    void stop(1).then((code) => process.exit(code));
  });
  for (const w of stack.workers) {
    void w.exited.then((info) => {
      if (!isStopping()) say(`${w.id} (pid ${w.pid}) exited unexpectedly (${describeExit(info)})`);
    });
  }
}

function printEndpoints(stack: LocalStack, file: string): void {
  const pids = stack.pids();
  const rows: [string, string][] = [
    ['Web app', stack.webUrl ?? '(not served: the web app has no index.html)'],
    ['API', stack.apiUrl],
    ['WebSocket', stack.wsUrl],
    ['OIDC issuer', `${stack.oidc.issuer} (audience ${stack.oidc.audience})`],
    ['Bedrock', `${stack.bedrock.url}${stack.bedrock.controlUrl ? ` (control ${stack.bedrock.controlUrl})` : ''}`],
    ['DynamoDB', stack.endpoints.dynamodb ?? '(SDK default)'],
    ['SQS', stack.endpoints.sqs ?? '(SDK default)'],
    ['Management', stack.managementEndpoint],
    ['Tables', Object.values(stack.tables).join(', ')],
    ['Queue', stack.jobQueueUrl],
    ['DLQ', stack.dlqUrl],
    ['Workers', `${pids.workers.length} (pids ${pids.workers.join(', ') || '-'}); npm run worker adds one`],
    ['Stack file', file],
  ];
  for (const [name, value] of rows) out.write(`${name.padEnd(12)} ${value}\n`);
  const open = stack.webUrl ? `open ${stack.webUrl} (sign in as alice), or ` : '';
  out.write(`ready — ${open}try: TOKEN=$(npm run -s token -- alice); Ctrl-C stops everything\n`);
}

function fail(message: string): number {
  process.stderr.write(`npm start: ${message}\n`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`npm start: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
