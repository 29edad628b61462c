/**
 * Names shared by the services, the local stack and the CDK app: environment variables,
 * default resource names, index names. infra/ and web/ import from here, never from
 * the services' implementation.
 */

/** Environment variables the services read (parsed once, in services/shared/config.ts). */
export const ENV = {
  // Resources
  jobsTable: 'COT_JOBS_TABLE',
  resultsTable: 'COT_RESULTS_TABLE',
  stateTable: 'COT_STATE_TABLE',
  transitionsTable: 'COT_TRANSITIONS_TABLE',
  connectionsTable: 'COT_CONNECTIONS_TABLE',
  runsTable: 'COT_RUNS_TABLE',
  jobQueueUrl: 'COT_JOB_QUEUE_URL',
  deadLetterQueueUrl: 'COT_DLQ_URL',
  /** https endpoint of the WebSocket API's management API (…/{stage}), for PostToConnection. */
  wsManagementEndpoint: 'COT_WS_MANAGEMENT_ENDPOINT',
  // Identity
  oidcIssuer: 'COT_OIDC_ISSUER',
  oidcAudience: 'COT_OIDC_AUDIENCE',
  /** Optional JWKS URL; discovered from the issuer when unset. */
  oidcJwksUrl: 'COT_OIDC_JWKS_URL',
  oidcAlgorithms: 'COT_OIDC_ALGORITHMS',
  // Circle
  circleFile: 'COT_CIRCLE_FILE',
  /** The deployment's Bedrock guardrail, for circle members whose `guardrail` is `deployment`. */
  guardrailIdentifier: 'COT_GUARDRAIL_IDENTIFIER',
  guardrailVersion: 'COT_GUARDRAIL_VERSION',
  // API
  apiPort: 'COT_API_PORT',
  apiHost: 'COT_API_HOST',
  maxQuestionChars: 'COT_MAX_QUESTION_CHARS',
  rateLimitPerMinute: 'COT_RATE_LIMIT_PER_MINUTE',
  /** Comma-separated origins whose pages may call the API from a browser (CORS); never `*`. */
  corsOrigins: 'COT_CORS_ORIGINS',
  /** GET requests per user per minute (a generous limit: reads are cheap but not free). */
  readRateLimitPerMinute: 'COT_READ_RATE_LIMIT_PER_MINUTE',
  /** Open WebSocket connections per user; $connect beyond it is refused with 429. */
  wsMaxConnectionsPerUser: 'COT_WS_MAX_CONNECTIONS_PER_USER',
  /** Shared secret the WebSocket API's integration sends with every /ws/* call (Secrets Manager in AWS). */
  wsIntegrationSecret: 'COT_WS_INTEGRATION_SECRET',
  // Worker
  workerConcurrency: 'COT_WORKER_CONCURRENCY',
  leaseSeconds: 'COT_LEASE_SECONDS',
  visibilitySeconds: 'COT_VISIBILITY_SECONDS',
  heartbeatSeconds: 'COT_HEARTBEAT_SECONDS',
  shutdownGraceSeconds: 'COT_SHUTDOWN_GRACE_SECONDS',
  pollWaitSeconds: 'COT_POLL_WAIT_SECONDS',
  maxReceiveCount: 'COT_MAX_RECEIVE_COUNT',
  /** Runs in a row that may end without progress (a crash, a failure) before the job is failed as poison. */
  maxStalledRuns: 'COT_MAX_STALLED_RUNS',
  dlqSweepSeconds: 'COT_DLQ_SWEEP_SECONDS',
  deltaBatchMs: 'COT_DELTA_BATCH_MS',
  // Observability
  logLevel: 'COT_LOG_LEVEL',
  tracing: 'COT_TRACING',
  /** `centralized` (X-Ray's rules, via the daemon) or `local` (the same rules, never fetched). */
  tracingSampling: 'COT_TRACING_SAMPLING',
  /** EMF metrics: `on` (stdout, or COT_METRICS_FILE) or `off`. */
  metrics: 'COT_METRICS',
  /** Append EMF lines to this file instead of stdout (the local stack's .local/metrics.jsonl). */
  metricsFile: 'COT_METRICS_FILE',
} as const;

/** Default logical names; in AWS the CDK app passes the physical names through ENV. */
export const DEFAULT_NAMES = {
  jobsTable: 'cot-jobs',
  resultsTable: 'cot-results',
  stateTable: 'cot-state',
  transitionsTable: 'cot-transitions',
  connectionsTable: 'cot-connections',
  runsTable: 'cot-runs',
  jobQueue: 'cot-jobs',
  deadLetterQueue: 'cot-jobs-dlq',
} as const;

/** Index names the code queries. */
export const INDEX = {
  /** Jobs by owner, newest first: PK owner, SK createdAt. */
  jobsByOwner: 'byOwner',
  /** The turns of a conversation: PK conversationId (the first job's id), SK createdAt. */
  jobsByConversation: 'byConversation',
  /** Connections by subscribed job: PK jobId, SK connectionId. */
  connectionsByJob: 'byJob',
} as const;

/**
 * The SQS redrive threshold: only a backstop. Poison is decided by runs counted in DynamoDB
 * (COT_MAX_STALLED_RUNS), because receive counts also grow with deliveries a worker never
 * saw (a poll abandoned by a stopping or killed worker). A delivery no worker acts on hides
 * the message for two heartbeats (4 s), one a dead worker held for its lease (6 s): 100 of
 * them take 7 to 10 minutes, and a healthy job loses none unless a worker stops or dies.
 */
export const MAX_RECEIVE_COUNT_DEFAULT = 100;

/**
 * The job queue's visibility timeout, and the worker's default COT_VISIBILITY_SECONDS: a
 * message hidden by a worker that died comes back this long after that worker's last
 * heartbeat, together with its lease (COT_LEASE_SECONDS has the same default).
 */
export const JOB_VISIBILITY_SECONDS_DEFAULT = 6;

/** Service names used for logs, traces and metrics. */
export const SERVICE = { api: 'cot-api', worker: 'cot-worker' } as const;
