/**
 * The environment of the API and worker containers, built from the shared ENV names only
 * (services/shared/contracts/names.ts), so every variable set here is one the services
 * read with loadApiConfig / loadWorkerConfig. Pure functions: the tests feed the
 * synthesized values back through those loaders.
 */
import { ENV } from '../../services/shared/contracts/names.js';

/** Fargate Spot gives two minutes' notice; ECS waits this long after SIGTERM before SIGKILL. */
export const WORKER_STOP_TIMEOUT_SECONDS = 120;
/**
 * The worker's hand-over budget after SIGTERM (COT_SHUTDOWN_GRACE_SECONDS): in-flight steps
 * finish and commit within it, then leases are released and messages made visible; the
 * remaining 20 s of the stop timeout cover that release and process exit.
 */
export const WORKER_SHUTDOWN_GRACE_SECONDS = 100;

export interface SharedEnvironment {
  /** Each table's env var (TABLES[...].env) and its physical name. */
  readonly tables: readonly { readonly env: string; readonly name: string }[];
  readonly jobQueueUrl: string;
  /** https://{api}.execute-api.{region}.amazonaws.com/{stage} */
  readonly wsManagementEndpoint: string;
  readonly logLevel?: string;
  /** Absolute path of the circle file inside the image, when not the default one. */
  readonly circleFile?: string;
}

export interface WorkerEnvironmentOptions {
  readonly deadLetterQueueUrl: string;
  /** Must equal the queue's redrive maxReceiveCount. */
  readonly maxReceiveCount: number;
  /** Must equal the queue's visibility timeout. */
  readonly visibilitySeconds: number;
  readonly concurrency: number;
  /** The deployment's guardrail, for circle members that name `deployment`. */
  readonly guardrail?: { readonly identifier: string; readonly version: string };
}

export interface ApiEnvironmentOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly port: number;
  /** Origins whose pages may call the API from a browser (the web app's). */
  readonly corsOrigins?: readonly string[];
}

function sharedEnvironment(shared: SharedEnvironment): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.jobQueueUrl]: shared.jobQueueUrl,
    [ENV.wsManagementEndpoint]: shared.wsManagementEndpoint,
    [ENV.tracing]: 'on',
    [ENV.logLevel]: shared.logLevel ?? 'info',
  };
  for (const table of shared.tables) env[table.env] = table.name;
  if (shared.circleFile) env[ENV.circleFile] = shared.circleFile;
  return env;
}

/** The worker container's environment. */
export function workerEnvironment(shared: SharedEnvironment, options: WorkerEnvironmentOptions): Record<string, string> {
  return {
    ...sharedEnvironment(shared),
    [ENV.deadLetterQueueUrl]: options.deadLetterQueueUrl,
    [ENV.maxReceiveCount]: String(options.maxReceiveCount),
    [ENV.visibilitySeconds]: String(options.visibilitySeconds),
    [ENV.workerConcurrency]: String(options.concurrency),
    [ENV.shutdownGraceSeconds]: String(WORKER_SHUTDOWN_GRACE_SECONDS),
    ...(options.guardrail ? { [ENV.guardrailIdentifier]: options.guardrail.identifier, [ENV.guardrailVersion]: options.guardrail.version } : {}),
  };
}

/** The API container's environment; it listens on all interfaces so the NLB can reach it. */
export function apiEnvironment(shared: SharedEnvironment, options: ApiEnvironmentOptions): Record<string, string> {
  return {
    ...sharedEnvironment(shared),
    [ENV.oidcIssuer]: options.issuer,
    [ENV.oidcAudience]: options.audience,
    [ENV.apiHost]: '0.0.0.0',
    [ENV.apiPort]: String(options.port),
    ...(options.corsOrigins?.length ? { [ENV.corsOrigins]: options.corsOrigins.join(',') } : {}),
  };
}
