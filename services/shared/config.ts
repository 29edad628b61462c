/**
 * Configuration, parsed once from the environment with a schema (the t3-env way). Only
 * composition roots (main.ts files, the local launcher) call these; everything else
 * receives typed values.
 */
import { z } from 'zod';
import { DEFAULT_NAMES, ENV, JOB_VISIBILITY_SECONDS_DEFAULT, MAX_RECEIVE_COUNT_DEFAULT } from './contracts/names.js';
import { formatIssues } from './contracts/issues.js';
import { ConfigError } from './errors.js';
import { DEFAULT_CIRCLE_FILE } from './circle/circle.js';

type Env = Record<string, string | undefined>;

const seconds = (def: number) => z.coerce.number().positive().default(def);
const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);

const tablesSchema = z.object({
  [ENV.jobsTable]: z.string().min(1).default(DEFAULT_NAMES.jobsTable),
  [ENV.resultsTable]: z.string().min(1).default(DEFAULT_NAMES.resultsTable),
  [ENV.stateTable]: z.string().min(1).default(DEFAULT_NAMES.stateTable),
  [ENV.transitionsTable]: z.string().min(1).default(DEFAULT_NAMES.transitionsTable),
  [ENV.connectionsTable]: z.string().min(1).default(DEFAULT_NAMES.connectionsTable),
  [ENV.runsTable]: z.string().min(1).default(DEFAULT_NAMES.runsTable),
});

const commonSchema = tablesSchema.extend({
  [ENV.circleFile]: z.string().min(1).default(DEFAULT_CIRCLE_FILE),
  [ENV.logLevel]: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  [ENV.tracing]: z.enum(['on', 'off']).default('off'),
  [ENV.tracingSampling]: z.enum(['centralized', 'local']).default('centralized'),
  [ENV.metrics]: z.enum(['on', 'off']).default('on'),
  [ENV.metricsFile]: z.string().min(1).optional(),
  [ENV.jobQueueUrl]: z.string().url(),
  [ENV.wsManagementEndpoint]: z.string().url().optional(),
});

export interface CommonConfig {
  tables: { jobs: string; results: string; state: string; transitions: string; connections: string; runs: string };
  jobQueueUrl: string;
  wsManagementEndpoint?: string;
  circleFile: string;
  logLevel: string;
  tracing: boolean;
  tracingSampling: 'centralized' | 'local';
  metrics: boolean;
  metricsFile?: string;
}

export interface ApiConfig extends CommonConfig {
  host: string;
  port: number;
  oidc: { issuer: string; audience: string; jwksUrl?: string; algorithms: string[] };
  maxQuestionChars: number;
  rateLimitPerMinute: number;
  /** Origins allowed to call the API from a browser (CORS), normalised; empty: none. */
  corsOrigins: string[];
  /** GET requests per user per minute. */
  readRateLimitPerMinute: number;
  /** Open WebSocket connections per user. */
  wsMaxConnectionsPerUser: number;
  /** What the WebSocket API's integration proves itself with; required when /ws/* is served. */
  wsIntegrationSecret?: string;
}

export interface WorkerConfig extends CommonConfig {
  concurrency: number;
  leaseMs: number;
  visibilitySeconds: number;
  /**
   * How long a received message is hidden before its job is leased: two heartbeats, then the
   * lease's run extends it to `visibilitySeconds`. A delivery no worker acts on (it went to
   * a poll whose worker was stopped or died) hides the job this long, not a whole visibility.
   */
  receiveVisibilitySeconds: number;
  heartbeatMs: number;
  shutdownGraceMs: number;
  pollWaitSeconds: number;
  /** The queue's redrive threshold (a backstop; see MAX_RECEIVE_COUNT_DEFAULT). */
  maxReceiveCount: number;
  /** Runs in a row without progress after which the job is failed as poison. */
  maxStalledRuns: number;
  deadLetterQueueUrl?: string;
  dlqSweepMs: number;
  deltaBatchMs: number;
  /** The deployment's guardrail, for circle members that name `deployment`. */
  guardrail?: { identifier: string; version: string };
}

function parse<S extends z.ZodType>(schema: S, env: Env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(`invalid configuration: ${formatIssues(result.error.issues)}`);
  }
  return result.data;
}

function common(e: z.infer<typeof commonSchema>): CommonConfig {
  return {
    tables: {
      jobs: e[ENV.jobsTable],
      results: e[ENV.resultsTable],
      state: e[ENV.stateTable],
      transitions: e[ENV.transitionsTable],
      connections: e[ENV.connectionsTable],
      runs: e[ENV.runsTable],
    },
    jobQueueUrl: e[ENV.jobQueueUrl],
    wsManagementEndpoint: e[ENV.wsManagementEndpoint],
    circleFile: e[ENV.circleFile],
    logLevel: e[ENV.logLevel],
    tracing: e[ENV.tracing] === 'on',
    tracingSampling: e[ENV.tracingSampling],
    metrics: e[ENV.metrics] === 'on',
    metricsFile: e[ENV.metricsFile],
  };
}

/** `scheme://host[:port]` of an http(s) URL with nothing after the host, normalised; undefined otherwise. */
function originOf(entry: string): string | undefined {
  const url = URL.parse(entry);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return undefined;
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
  return url.origin;
}

/** A comma-separated allow-list of origins; `*` (or anything that is not an origin) is an error, not a wildcard. */
const corsOrigins = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const origins = new Set<string>();
    for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
      const origin = originOf(entry);
      if (!origin) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} is not an origin (scheme://host[:port], nothing after it; "*" is never allowed)` });
        return z.NEVER;
      }
      origins.add(origin);
    }
    return [...origins];
  });

const apiSchema = commonSchema.extend({
  [ENV.apiHost]: z.string().default('127.0.0.1'),
  [ENV.apiPort]: port(8080),
  [ENV.oidcIssuer]: z.string().url(),
  [ENV.oidcAudience]: z.string().min(1),
  [ENV.oidcJwksUrl]: z.string().url().optional(),
  [ENV.oidcAlgorithms]: z.string().default('RS256,PS256,ES256'),
  [ENV.maxQuestionChars]: z.coerce.number().int().positive().default(4000),
  [ENV.rateLimitPerMinute]: z.coerce.number().int().positive().default(30),
  [ENV.corsOrigins]: corsOrigins,
  [ENV.readRateLimitPerMinute]: z.coerce.number().int().positive().default(600),
  [ENV.wsMaxConnectionsPerUser]: z.coerce.number().int().positive().default(20),
  // Long enough that guessing is hopeless; a value with spaces or quotes cannot travel in a header mapping.
  [ENV.wsIntegrationSecret]: z
    .string()
    .regex(/^(?!.*['"\\])[\x21-\x7e]{32,512}$/, 'must be 32 to 512 visible ASCII characters, without quotes or backslashes')
    .optional(),
});

/** The API service's configuration. */
export function loadApiConfig(env: Env = process.env): ApiConfig {
  const e = parse(apiSchema, env);
  if (e[ENV.wsManagementEndpoint] && !e[ENV.wsIntegrationSecret]) {
    throw new ConfigError(`${ENV.wsIntegrationSecret} is required when ${ENV.wsManagementEndpoint} is set: without it anyone could call /ws/*`);
  }
  return {
    ...common(e),
    host: e[ENV.apiHost],
    port: e[ENV.apiPort],
    oidc: {
      issuer: e[ENV.oidcIssuer],
      audience: e[ENV.oidcAudience],
      jwksUrl: e[ENV.oidcJwksUrl],
      algorithms: e[ENV.oidcAlgorithms].split(',').map((a) => a.trim()).filter((a) => a && a !== 'none'),
    },
    maxQuestionChars: e[ENV.maxQuestionChars],
    rateLimitPerMinute: e[ENV.rateLimitPerMinute],
    corsOrigins: e[ENV.corsOrigins],
    readRateLimitPerMinute: e[ENV.readRateLimitPerMinute],
    wsMaxConnectionsPerUser: e[ENV.wsMaxConnectionsPerUser],
    wsIntegrationSecret: e[ENV.wsIntegrationSecret],
  };
}

/**
 * The queue settings the worker and the local launcher (which creates the queue) both need:
 * one schema, so the queue is created with the values the workers assume.
 */
const queueSchema = z.object({
  [ENV.visibilitySeconds]: z.coerce.number().int().positive().max(43200).default(JOB_VISIBILITY_SECONDS_DEFAULT),
  // SQS accepts 1 to 1000.
  [ENV.maxReceiveCount]: z.coerce.number().int().min(1).max(1000).default(MAX_RECEIVE_COUNT_DEFAULT),
  [ENV.shutdownGraceSeconds]: seconds(90),
});

export interface QueueSettings {
  visibilitySeconds: number;
  maxReceiveCount: number;
  shutdownGraceMs: number;
}

/** The queue's visibility and redrive threshold, and how long a stopping worker may take. */
export function loadQueueSettings(env: Env = process.env): QueueSettings {
  return queueSettingsOf(parse(queueSchema, env));
}

function queueSettingsOf(e: z.infer<typeof queueSchema>): QueueSettings {
  return {
    visibilitySeconds: e[ENV.visibilitySeconds],
    maxReceiveCount: e[ENV.maxReceiveCount],
    shutdownGraceMs: e[ENV.shutdownGraceSeconds] * 1000,
  };
}

// Defaults for a Spot fleet (docs/architecture.md, "Recovery defaults"): a dead worker's job
// resumes about 6 s after its last heartbeat, when both its lease and its message's visibility lapse.
const workerSchema = commonSchema.extend(queueSchema.shape).extend({
  [ENV.workerConcurrency]: z.coerce.number().int().positive().max(256).default(8),
  // The lease lapses when the message's visibility does: neither waits for the other.
  [ENV.leaseSeconds]: seconds(JOB_VISIBILITY_SECONDS_DEFAULT),
  [ENV.heartbeatSeconds]: seconds(2),
  // A stopping worker waits for its open poll rather than abandon it (see Worker.shutdown).
  [ENV.pollWaitSeconds]: z.coerce.number().int().min(0).max(20).default(5),
  [ENV.maxStalledRuns]: z.coerce.number().int().positive().max(100).default(5),
  [ENV.deadLetterQueueUrl]: z.string().url().optional(),
  [ENV.dlqSweepSeconds]: seconds(30),
  [ENV.deltaBatchMs]: z.coerce.number().int().positive().default(50),
  [ENV.guardrailIdentifier]: z.string().min(1).optional(),
  [ENV.guardrailVersion]: z.string().min(1).optional(),
});

/** The worker's configuration; the heartbeat must come well before the lease expires. */
export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const e = parse(workerSchema, env);
  const leaseMs = e[ENV.leaseSeconds] * 1000;
  const heartbeatMs = e[ENV.heartbeatSeconds] * 1000;
  if (heartbeatMs * 2 > leaseMs) {
    throw new ConfigError(`${ENV.heartbeatSeconds} must be at most half of ${ENV.leaseSeconds}`);
  }
  const guardrailId = e[ENV.guardrailIdentifier];
  const guardrailVersion = e[ENV.guardrailVersion];
  if (Boolean(guardrailId) !== Boolean(guardrailVersion)) {
    throw new ConfigError(`${ENV.guardrailIdentifier} and ${ENV.guardrailVersion} go together: set both or neither`);
  }
  if (e[ENV.heartbeatSeconds] * 2 > e[ENV.visibilitySeconds]) {
    throw new ConfigError(`${ENV.heartbeatSeconds} must be at most half of ${ENV.visibilitySeconds}`);
  }
  return {
    ...common(e),
    ...queueSettingsOf(e),
    concurrency: e[ENV.workerConcurrency],
    leaseMs,
    heartbeatMs,
    pollWaitSeconds: e[ENV.pollWaitSeconds],
    // SQS takes whole seconds; the heartbeat may be a fraction (tests run at 0.5 s).
    receiveVisibilitySeconds: Math.min(e[ENV.visibilitySeconds], Math.ceil(2 * e[ENV.heartbeatSeconds])),
    maxStalledRuns: e[ENV.maxStalledRuns],
    deadLetterQueueUrl: e[ENV.deadLetterQueueUrl],
    dlqSweepMs: e[ENV.dlqSweepSeconds] * 1000,
    deltaBatchMs: e[ENV.deltaBatchMs],
    ...(guardrailId && guardrailVersion ? { guardrail: { identifier: guardrailId, version: guardrailVersion } } : {}),
  };
}
