/**
 * The local stack as the bench runs it: the same `startLocalStack` as `npm start`, but with
 * DynamoDB Local behind a counting proxy and the instrumented Bedrock stand-in, both given
 * to the stack as external endpoints through the SDK's own endpoint variables.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENDPOINT_ENV, resourceNames } from '../../services/local/aws-standins.js';
import type { TableNames } from '../../services/local/bootstrap.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from '../../services/local/dynamodb-local.js';
import { getAccessToken } from '../../services/local/oidc/token-client.js';
import { startLocalStack, type LocalStack } from '../../services/local/stack.js';
import type { StandinConfig } from '../../services/local/bedrock/standin.types.js';
import { startDynamoCounter, type DynamoCounter } from './dynamo-counter.js';
import { startTimedBedrock, type TimedBedrock } from './timed-bedrock.js';
import { startPushProbe, type PushProbe } from './push-probe.js';
import { ENV } from '../../services/shared/contracts/names.js';

/** Where DynamoDB Local keeps its tables: on disk (its default, and `npm start`'s) or in memory. */
export type DynamoMode = 'disk' | 'memory';

export interface BenchStackOptions {
  workers: number;
  /** COT_WORKER_CONCURRENCY of each worker. */
  workerConcurrency: number;
  /** POST /chat limit per user and minute (the bench submits everything as one user). */
  rateLimitPerMinute: number;
  bedrock: StandinConfig;
  /** The user every job belongs to. */
  user: string;
  /** Progress lines. */
  log: (line: string) => void;
  /** Relay every service log line (noisy). */
  verbose: boolean;
  /** Also build (when stale) and serve the web app, as `npm start` does. */
  web?: boolean;
  /** DynamoDB Local on disk (a fresh temporary directory) or in memory; default memory. */
  dynamo?: DynamoMode;
}

export interface BenchStack {
  stack: LocalStack;
  bedrock: TimedBedrock;
  dynamo: DynamoCounter;
  /** Times posts to the WebSocket gateway's management endpoint. */
  push: PushProbe;
  /** Reads DynamoDB Local directly, past the counter, so the bench's own reads are not counted. */
  direct: DynamoDBDocumentClient;
  tables: TableNames;
  /** An access token of `user`. */
  token: string;
  /** Service log lines at warn level or above, for the report. */
  problems: string[];
  /** PIDs by part: `stand-ins` is the bench process itself (it hosts the Bedrock stand-in, fauxqs, the gateway, the proxies and the clients), api, worker-1…, dynamodb. */
  pids(): Record<string, number[]>;
  stop(): Promise<void>;
}

/** Starts DynamoDB Local, the counter, the instrumented stand-in and the stack; stops what started if one fails. */
export async function startBenchStack(opts: BenchStackOptions): Promise<BenchStack> {
  const suffix = `bench${Date.now().toString(36)}`;
  const { tables } = resourceNames(suffix);
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  const problems: string[] = [];
  try {
    const onDisk = opts.dynamo === 'disk';
    const dbPath = onDisk ? mkdtempSync(join(tmpdir(), 'cot-bench-ddb-')) : undefined;
    if (dbPath) cleanups.push(async () => rmSync(dbPath, { recursive: true, force: true }));
    const ddb: DynamoDbLocal = await startDynamoDbLocal(dbPath ? { inMemory: false, dbPath } : { inMemory: true });
    cleanups.push(() => ddb.stop());
    const dynamo = await startDynamoCounter(ddb.endpoint, tables.state);
    cleanups.push(() => dynamo.close());
    const bedrock = await startTimedBedrock(opts.bedrock);
    cleanups.push(() => bedrock.close());
    const push = await startPushProbe();
    cleanups.push(() => push.close());
    const direct = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
    cleanups.push(async () => direct.destroy());

    const stack = await startLocalStack({
      workers: opts.workers,
      persist: false,
      tableSuffix: suffix,
      web: opts.web ?? false,
      baseEnv: { ...servicesBaseEnv(), [ENDPOINT_ENV.dynamodb]: dynamo.url, [ENDPOINT_ENV.bedrockRuntime]: bedrock.url },
      env: {
        COT_WORKER_CONCURRENCY: String(opts.workerConcurrency),
        COT_RATE_LIMIT_PER_MINUTE: String(opts.rateLimitPerMinute),
        // Every client is the bench user: its reads and WebSocket connections are not limited either.
        [ENV.readRateLimitPerMinute]: String(opts.rateLimitPerMinute),
        [ENV.wsMaxConnectionsPerUser]: String(opts.rateLimitPerMinute),
        // Jobs still running when the bench ends are handed over quickly, not waited for.
        COT_SHUTDOWN_GRACE_SECONDS: '5',
        COT_LOG_LEVEL: 'info',
        [ENV.wsManagementEndpoint]: push.url,
      },
      log: (line) => opts.log(`stack: ${line}`),
      onProcessLine: (id, line) => {
        if (opts.verbose) process.stderr.write(`[${id}] ${line}\n`);
        else if (/"level":(4|5|6)\d/.test(line)) problems.push(`${id}: ${problemOf(line)}`);
      },
    });
    cleanups.push(() => stack.stop());
    push.target(stack.managementEndpoint);
    const token = await getAccessToken({ issuer: stack.oidc.issuer, audience: stack.oidc.audience, user: opts.user });
    const pids = (): Record<string, number[]> => {
      const p = stack.pids();
      const workers = Object.fromEntries(p.workers.map((pid, i) => [`worker-${i + 1}`, [pid]]));
      return { 'stand-ins': [process.pid], api: [p.api], ...workers, dynamodb: [ddb.pid] };
    };
    return { stack, bedrock, dynamo, push, direct, tables, token, problems, pids, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A warn/error log line in one line: its message and error, without the stack. */
function problemOf(line: string): string {
  try {
    const entry = JSON.parse(line) as { msg?: string; jobId?: string; err?: { type?: string; message?: string } };
    const err = entry.err ? ` (${entry.err.type ?? 'Error'}: ${entry.err.message ?? ''})` : '';
    return `${entry.msg ?? ''}${err}${entry.jobId ? ` [job ${entry.jobId}]` : ''}`;
  } catch {
    return line.slice(0, 400);
  }
}

/**
 * The bench's environment without SDK endpoint variables, AWS credentials or COT_* settings,
 * so it never touches a developer's real AWS account or long-running stand-ins.
 */
function servicesBaseEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('AWS_') || key.startsWith('COT_')) delete env[key];
  return env;
}
