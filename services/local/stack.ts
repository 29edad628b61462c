/**
 * The whole backend on one machine: DynamoDB Local, fauxqs, the tables and queues, the
 * Bedrock stand-in, the OpenID provider, the API process, the WebSocket gateway, N worker
 * processes and, when asked, the web app (built when stale, served with its config.json).
 * `npm start` and every whole-stack test go through this one function.
 *
 * Any AWS part already configured by the SDK's endpoint variables (AWS_ENDPOINT_URL,
 * AWS_ENDPOINT_URL_DYNAMODB/_SQS/_BEDROCK_RUNTIME) is not started and is passed through;
 * likewise an OpenID issuer given by COT_OIDC_ISSUER (+ COT_OIDC_AUDIENCE).
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { ENV } from '../shared/contracts/names.js';
import type { WebConfig } from '../shared/contracts/web-config.js';
import { startBedrockStandin } from './bedrock/server.js';
import { startOidcProvider } from './oidc/provider.js';
import { startWsGateway } from './ws-gateway/ws-gateway.js';
import { ENDPOINT_ENV, configuredEndpoint, startAwsStandins, type AwsStandins, type Env } from './aws-standins.js';
import type { TableNames } from './bootstrap.js';
import { LocalConfigError, StartupError } from './errors.js';
import { getFreePort } from './free-port.js';
import { loadStackServiceSettings } from './local-config.js';
import { describeExit, spawnManaged, tail, type ManagedProcess } from './processes.js';
import { requeueUnfinishedJobs } from './requeue-unfinished.js';
import { localWebConfig } from './web-host/local-web-config.js';
import { DEFAULT_WEB_DIR, ensureWebBuild, hasWebApp, type WebBuild } from './web-host/web-build.js';
import { startWebHost, type WebHost } from './web-host/web-host.js';
import { startLocalTelemetry, type LocalTelemetry } from './local-telemetry.js';

/** The repository root: children run from here so `--import tsx` and relative paths resolve. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const SERVICE_ENTRYPOINTS = {
  api: join(REPO_ROOT, 'services/api/main.ts'),
  worker: join(REPO_ROOT, 'services/worker/main.ts'),
} as const;

export type WorkerProcess = ManagedProcess;
export type ProcessLineHandler = (source: string, line: string, stream: 'stdout' | 'stderr') => void;

export interface LocalStackPorts {
  api: number;
  ws: number;
  oidc: number;
  bedrock: number;
  bedrockControl: number;
  dynamodb: number;
  sqs: number;
  web: number;
}

export interface LocalStackOptions {
  /** Local state directory (DynamoDB data when `persist`); default `.local`. */
  dir?: string;
  /** Shorthand for ports.api. */
  apiPort?: number;
  /** 0 or unset: ephemeral. */
  ports?: Partial<LocalStackPorts>;
  /** Worker processes to start; default 2. */
  workers?: number;
  /** Keep DynamoDB data under `<dir>/dynamodb` across restarts (npm start); in memory otherwise. */
  persist?: boolean;
  /** Appended to every table and queue name, so several stacks can share one DynamoDB/SQS. */
  tableSuffix?: string;
  /** The environment inherited by the services (endpoint variables in it are honoured); default process.env. */
  baseEnv?: Env;
  /** Extra variables for every service process; they win over everything else. */
  env?: Record<string, string>;
  /** Token timing of the Bedrock stand-in, and its bad-day switch (a share of calls misbehave). */
  bedrock?: { tokenDelayMs?: number; firstTokenDelayMs?: number; badDay?: { rate: number; seed: string } };
  /** The stack's own progress messages. */
  log?: (line: string) => void;
  /** Every output line of every child process (and DynamoDB Local), as it arrives. */
  onProcessLine?: ProcessLineHandler;
  /** How long each part may take to become ready; default 60 s. */
  readyTimeoutMs?: number;
  /**
   * Serve the web app (npm start does): build `dir` (default web/) with Vite when its dist/
   * is missing or stale, serve it with its config.json, register its redirect URIs at the
   * local provider and allow its origin in the API's CORS. Skipped, with a log line, when
   * `dir` holds no app (no index.html).
   */
  web?: boolean | { dir?: string };
}

export interface LocalStack {
  /** Everything a service process needs (AWS endpoints/region/credentials, COT_* names and URLs). */
  env: Record<string, string>;
  endpoints: {
    api: string;
    ws: string;
    management: string;
    oidcIssuer: string;
    bedrock: string;
    bedrockControl?: string;
    dynamodb?: string;
    sqs?: string;
    web?: string;
  };
  apiUrl: string;
  /** The web app, when it is served (see LocalStackOptions.web). */
  webUrl?: string;
  wsUrl: string;
  oidc: { issuer: string; audience: string };
  /** controlUrl is absent when Bedrock comes from AWS_ENDPOINT_URL_BEDROCK_RUNTIME. */
  bedrock: { url: string; controlUrl?: string };
  managementEndpoint: string;
  jobQueueUrl: string;
  dlqUrl: string;
  tables: TableNames;
  queueNames: { jobs: string; dlq: string };
  /** SDK clients on the stack's DynamoDB and SQS, for inspection. */
  aws: Pick<AwsStandins, 'dynamo' | 'doc' | 'sqs'>;
  /** Where the services' traces and EMF metrics go (services/local/local-telemetry.ts). */
  telemetry: Pick<LocalTelemetry, 'tracesFile' | 'metricsFile'>;
  api: ManagedProcess;
  /** The web app's config.json, when it is served. */
  webConfig?: WebConfig;
  /** PIDs of the child processes this stack started (API, workers, DynamoDB Local). */
  pids(): { api: number; workers: number[]; dynamodb?: number };
  /** Live list: includes workers spawned later, and ones that exited. */
  workers: WorkerProcess[];
  /** Starts one more worker with the stack's env plus `extraEnv`; resolves once it logged "worker ready". */
  spawnWorker(extraEnv?: Record<string, string>): Promise<WorkerProcess>;
  /** Stops everything it started, workers first; idempotent. */
  stop(): Promise<void>;
}

/** Grace for the API after SIGTERM: it finishes in-flight requests within 10 s itself. */
const API_STOP_GRACE_MS = 12_000;
/** On top of the workers' own shutdown grace, before they are SIGKILLed. */
export const WORKER_STOP_MARGIN_MS = 5_000;

/** Starts the whole local stack and resolves once the API is healthy and every worker is ready. */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const log = opts.log ?? (() => undefined);
  const onLine = opts.onProcessLine;
  const baseEnv: Env = opts.baseEnv ?? process.env;
  const ports = { ...opts.ports, ...(opts.apiPort !== undefined ? { api: opts.apiPort } : {}) };
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const settings = loadStackServiceSettings({ ...baseEnv, ...opts.env });
  const stoppers: Stopper[] = [];

  const stopAll = async (): Promise<void> => {
    // Workers first (they still need everything to hand their jobs over), then the gateway
    // (its $disconnects go to the API), the API, and last what they all depend on.
    for (const s of stoppers.splice(0).sort((a, b) => a.order - b.order)) {
      try {
        await s.stop();
      } catch (err) {
        log(`stopping ${s.name} failed: ${(err as Error).message}`);
      }
    }
  };

  try {
    // First, so the build runs while the rest starts, and the app's URL is known to the
    // provider (redirect URIs) and the API (CORS) before they start.
    const web = await startWeb(opts, baseEnv, ports, stoppers, log, onLine);
    const [aws, bedrock, oidc, telemetry] = await allStarted([
      track(stoppers, 'dynamodb+sqs', STOP_ORDER.standins, startAws(opts, baseEnv, ports, settings, onLine)),
      track(stoppers, 'bedrock', STOP_ORDER.standins, startBedrock(opts, baseEnv, ports)),
      track(stoppers, 'oidc', STOP_ORDER.standins, startOidc(baseEnv, ports, web ? [`${web.host.url}/callback`, `${web.host.url}/`] : [])),
      track(stoppers, 'telemetry', STOP_ORDER.standins, startLocalTelemetry({ dir: opts.persist ? (opts.dir ?? '.local') : undefined, baseEnv: { ...baseEnv, ...opts.env } })),
    ] as const);
    if (aws.started.dynamodb) log(`DynamoDB Local started at ${aws.endpoints.dynamodb ?? ''}`);
    if (opts.persist && aws.started.dynamodb && aws.started.sqs) {
      const n = await requeueUnfinishedJobs(aws.doc, aws.sqs, aws.tables, aws.jobQueueUrl);
      if (n > 0) log(`re-enqueued ${n} unfinished job(s) from the previous run`);
    }

    // The API must be told the gateway's management endpoint and the gateway the API's URL:
    // fix the API's port first, start the gateway, then the API.
    const apiPort = ports.api || (await getFreePort());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    // Proves the gateway to the API's /ws/* routes, as the AWS integration does with its
    // secret; only the API process is told it (not the workers, not stack.json).
    const integrationSecret = randomBytes(32).toString('base64url');
    const gateway = await track(
      stoppers,
      'ws-gateway',
      STOP_ORDER.gateway,
      portHint(
        startWsGateway({ host: '127.0.0.1', port: ports.ws ?? 0, integrationUrl: apiUrl, integrationSecret, logger: gatewayLogger(log) }),
        'WebSocket gateway',
        'COT_LOCAL_WS_PORT',
        ports.ws ?? 0,
      ),
    );

    const env: Record<string, string> = {
      ...aws.env,
      ...bedrock.env,
      ...telemetry.env,
      [ENV.oidcIssuer]: oidc.issuer,
      [ENV.oidcAudience]: oidc.audience,
      [ENV.apiHost]: '127.0.0.1',
      [ENV.apiPort]: String(apiPort),
      [ENV.wsManagementEndpoint]: gateway.managementEndpoint,
      ...opts.env,
    };
    const corsOrigins = originList(env[ENV.corsOrigins] ?? baseEnv[ENV.corsOrigins], web?.host.url);
    if (corsOrigins) env[ENV.corsOrigins] = corsOrigins;
    const childEnv = (extra?: Record<string, string>): Env => ({ ...baseEnv, ...env, ...extra });

    const api = spawnService('api', SERVICE_ENTRYPOINTS.api, childEnv({ [ENV.wsIntegrationSecret]: integrationSecret }), onLine);
    stoppers.push({ name: 'api', order: STOP_ORDER.api, stop: async () => void (await api.stop(API_STOP_GRACE_MS)) });
    await waitForHealthy(apiUrl, api, readyTimeoutMs);
    log(`API healthy at ${apiUrl}`);

    const workers: WorkerProcess[] = [];
    let workerCount = 0;
    const spawnWorker = async (extraEnv?: Record<string, string>): Promise<WorkerProcess> => {
      const worker = spawnService(`worker-${++workerCount}`, SERVICE_ENTRYPOINTS.worker, childEnv(extraEnv), onLine);
      workers.push(worker);
      await worker.waitForLog((e) => e.msg === 'worker ready', readyTimeoutMs);
      return worker;
    };
    const workerGraceMs = settings.shutdownGraceMs + WORKER_STOP_MARGIN_MS;
    stoppers.push({
      name: 'workers',
      order: STOP_ORDER.workers,
      stop: async () => void (await Promise.all(workers.map((w) => w.stop(workerGraceMs)))),
    });
    await Promise.all(Array.from({ length: opts.workers ?? 2 }, () => spawnWorker()));
    log(`${workers.length} worker(s) ready`);

    let webConfig: WebConfig | undefined;
    if (web) {
      const build = await web.building;
      webConfig = localWebConfig({
        apiUrl,
        wsUrl: gateway.wsUrl,
        oidc: { issuer: oidc.issuer, audience: oidc.audience },
        localProvider: oidc.local,
        simulated: bedrock.controlUrl !== undefined,
      });
      web.host.serve({ distDir: build.distDir, config: webConfig });
      log(`web app ${build.built ? 'built and ' : ''}served at ${web.host.url}`);
    }

    let stopping: Promise<void> | undefined;
    return {
      env,
      endpoints: {
        api: apiUrl,
        ws: gateway.wsUrl,
        management: gateway.managementEndpoint,
        oidcIssuer: oidc.issuer,
        bedrock: bedrock.url,
        bedrockControl: bedrock.controlUrl,
        dynamodb: aws.endpoints.dynamodb,
        sqs: aws.endpoints.sqs,
        web: web?.host.url,
      },
      apiUrl,
      webUrl: web?.host.url,
      webConfig,
      wsUrl: gateway.wsUrl,
      oidc: { issuer: oidc.issuer, audience: oidc.audience },
      bedrock: { url: bedrock.url, controlUrl: bedrock.controlUrl },
      managementEndpoint: gateway.managementEndpoint,
      jobQueueUrl: aws.jobQueueUrl,
      dlqUrl: aws.dlqUrl,
      tables: aws.tables,
      queueNames: aws.queueNames,
      aws: { dynamo: aws.dynamo, doc: aws.doc, sqs: aws.sqs },
      telemetry: { tracesFile: telemetry.tracesFile, metricsFile: telemetry.metricsFile },
      api,
      pids: () => ({ api: api.pid, workers: workers.map((w) => w.pid), dynamodb: aws.started.dynamodb?.pid }),
      workers,
      spawnWorker,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface Stopper {
  name: string;
  order: number;
  stop: () => Promise<void>;
}

const STOP_ORDER = { workers: 0, gateway: 1, web: 1, api: 2, standins: 3 } as const;

/** Registers a started part's stop function as soon as it has started. */
async function track<T extends { stop?: () => Promise<void>; close?: () => Promise<void> }>(
  stoppers: Stopper[],
  name: string,
  order: number,
  starting: Promise<T>,
): Promise<T> {
  const part = await starting;
  const stop = part.stop ?? part.close;
  if (stop) stoppers.push({ name, order, stop: () => stop.call(part) });
  return part;
}

/**
 * Like Promise.all, but waits for every start to settle before rejecting, so that nothing
 * started in parallel is left running (and untracked) when another part fails.
 */
async function allStarted<T extends readonly Promise<unknown>[]>(starting: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(starting);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

async function startAws(
  opts: LocalStackOptions,
  baseEnv: Env,
  ports: Partial<LocalStackPorts>,
  settings: { maxReceiveCount: number; visibilitySeconds: number },
  onLine: ProcessLineHandler | undefined,
): Promise<AwsStandins> {
  try {
    return await startAwsStandins({
      baseEnv,
      suffix: opts.tableSuffix,
      dynamoDbPath: opts.persist ? join(resolve(opts.dir ?? '.local'), 'dynamodb') : undefined,
      dynamoPort: ports.dynamodb,
      sqsPort: ports.sqs,
      maxReceiveCount: settings.maxReceiveCount,
      visibilityTimeoutSeconds: settings.visibilitySeconds,
      onDynamoLine: onLine ? (l) => onLine('dynamodb', l, 'stdout') : undefined,
    });
  } catch (err) {
    if (isPortInUse(err) && ports.sqs && String((err as Error).message).includes(String(ports.sqs))) {
      throw new StartupError(`port ${ports.sqs} (SQS/fauxqs) is in use: set COT_LOCAL_SQS_PORT to a free port (0 picks one)`, { cause: err });
    }
    if ((err as Error).name === 'PortInUseError' && ports.dynamodb) {
      throw new StartupError(`port ${ports.dynamodb} (DynamoDB Local) is in use: set COT_LOCAL_DYNAMODB_PORT to a free port (0 picks one)`, { cause: err });
    }
    throw err;
  }
}

interface BedrockPart {
  url: string;
  controlUrl?: string;
  env: Record<string, string>;
  close?: () => Promise<void>;
}

async function startBedrock(opts: LocalStackOptions, baseEnv: Env, ports: Partial<LocalStackPorts>): Promise<BedrockPart> {
  const external = configuredEndpoint(baseEnv, ENDPOINT_ENV.bedrockRuntime);
  if (external) return { url: external, env: {} };
  const standin = await portHint(
    startBedrockStandin({
      host: '127.0.0.1',
      port: ports.bedrock ?? 0,
      controlPort: ports.bedrockControl ?? 0,
      tokenDelayMs: opts.bedrock?.tokenDelayMs,
      firstTokenDelayMs: opts.bedrock?.firstTokenDelayMs,
      badDay: opts.bedrock?.badDay,
    }),
    'Bedrock stand-in',
    'COT_LOCAL_BEDROCK_PORT / COT_LOCAL_BEDROCK_CONTROL_PORT',
    ports.bedrock ?? 0,
  );
  return { url: standin.url, controlUrl: standin.controlUrl, env: { [ENDPOINT_ENV.bedrockRuntime]: standin.url }, close: () => standin.close() };
}

async function startOidc(
  baseEnv: Env,
  ports: Partial<LocalStackPorts>,
  webRedirectUris: string[],
): Promise<{ issuer: string; audience: string; local: boolean; close?: () => Promise<void> }> {
  const issuer = baseEnv[ENV.oidcIssuer];
  if (issuer) {
    const audience = baseEnv[ENV.oidcAudience];
    if (!audience) throw new LocalConfigError(`${ENV.oidcIssuer} is set, so ${ENV.oidcAudience} must be set too`);
    return { issuer, audience, local: false };
  }
  const provider = await portHint(
    startOidcProvider({ host: '127.0.0.1', port: ports.oidc ?? 0, webRedirectUris }),
    'OpenID provider',
    'COT_LOCAL_OIDC_PORT',
    ports.oidc ?? 0,
  );
  return { issuer: provider.issuer, audience: provider.audience, local: true, close: () => provider.close() };
}

interface WebPart {
  host: WebHost;
  /** The build, started at once and awaited when everything else is up. */
  building: Promise<WebBuild>;
}

/** Listens for the web app and starts its build, when asked for and there is an app to build. */
async function startWeb(
  opts: LocalStackOptions,
  baseEnv: Env,
  ports: Partial<LocalStackPorts>,
  stoppers: Stopper[],
  log: (line: string) => void,
  onLine: ProcessLineHandler | undefined,
): Promise<WebPart | undefined> {
  if (!opts.web) return undefined;
  const webDir = resolve((typeof opts.web === 'object' && opts.web.dir) || DEFAULT_WEB_DIR);
  if (!hasWebApp(webDir)) {
    log(`not serving the web app: ${join(webDir, 'index.html')} does not exist`);
    return undefined;
  }
  const host = await track(stoppers, 'web-host', STOP_ORDER.web, portHint(startWebHost({ host: '127.0.0.1', port: ports.web ?? 0 }), 'web host', 'COT_LOCAL_WEB_PORT', ports.web ?? 0));
  const building = ensureWebBuild({ webDir, env: baseEnv, log, onLine: onLine ? (line) => onLine('web-build', line, 'stdout') : undefined });
  // Awaited once the rest is up; a start-up that fails earlier must not leave it unhandled.
  building.catch(() => undefined);
  return { host, building };
}

/** `existing` (a comma-separated list, possibly unset) plus the web app's origin, without repeats. */
function originList(existing: string | undefined, webUrl: string | undefined): string | undefined {
  const origins = new Set((existing ?? '').split(',').map((o) => o.trim()).filter(Boolean));
  if (webUrl) origins.add(new URL(webUrl).origin);
  return origins.size > 0 ? [...origins].join(',') : undefined;
}

/** `node --import tsx <entry>`: no tsx CLI wrapper process in between, so signals reach the service directly. */
export function spawnService(id: string, entry: string, env: Env, onLine: ProcessLineHandler | undefined): ManagedProcess {
  return spawnManaged({
    id,
    command: process.execPath,
    args: ['--import', 'tsx', entry],
    env,
    cwd: REPO_ROOT,
    onLine: onLine ? (line, stream) => onLine(id, line, stream) : undefined,
  });
}

async function waitForHealthy(apiUrl: string, api: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (api.hasExited()) {
      const info = await api.exited;
      const out = api.output();
      const hint = /EADDRINUSE/.test(out) ? `\nport ${new URL(apiUrl).port} is in use: set ${ENV.apiPort} to a free port (0 picks one)` : '';
      throw new StartupError(`the API exited (${describeExit(info)}) before it was healthy:\n${tail(out.split('\n'))}${hint}`);
    }
    try {
      const res = await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new StartupError(`the API did not answer GET /healthz within ${timeoutMs} ms:\n${tail(api.output().split('\n'))}`);
    await Promise.race([new Promise((r) => setTimeout(r, 100)), api.exited]);
  }
}

function isPortInUse(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string }; message?: string } | undefined;
  return e?.code === 'EADDRINUSE' || e?.cause?.code === 'EADDRINUSE' || /EADDRINUSE/.test(e?.message ?? '');
}

/** Turns EADDRINUSE on a fixed port into a message saying which variable to change. */
async function portHint<T>(starting: Promise<T>, what: string, variable: string, port: number): Promise<T> {
  try {
    return await starting;
  } catch (err) {
    if (isPortInUse(err)) {
      throw new StartupError(`a port of the ${what} (${port || 'ephemeral'}) is in use: set ${variable} to a free port (0 picks one)`, { cause: err });
    }
    throw err;
  }
}

function gatewayLogger(log: (line: string) => void): { warn(details: Record<string, unknown>, message: string): void } {
  return { warn: (details, message) => log(`ws-gateway: ${message} ${JSON.stringify(details)}`) };
}
