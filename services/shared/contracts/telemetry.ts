/**
 * What the services measure and what the CDK app watches, in one place: the CloudWatch
 * namespace, metric and dimension names (the services write them as EMF, the dashboard and
 * alarms read them), and the X-Ray sampling rules (deployed by the CDK app, applied as
 * local rules by the local stack). Contracts import nothing but other contracts.
 */
import { SERVICE } from './names.js';

/** The CloudWatch namespace of every metric the services write. */
export const METRICS_NAMESPACE = 'CircleOfTrust';

/**
 * Dimension names. Every metric is written with {Service} (overall: cot-api or cot-worker)
 * and, where it says so, also with {Service, <dimension>}.
 */
export const DIMENSION = {
  service: 'Service',
  /** A circle member's id (advisor or chair): per-advisor model metrics. */
  advisor: 'Advisor',
  /** advising, reviewing, synthesizing: stage latency. */
  stage: 'Stage',
  /** The error name of a retried step: retries and repairs by error. */
  error: 'Error',
} as const;

/** Metric names, by the question they answer. Units in METRIC_UNITS. */
export const METRIC = {
  // Jobs (overall): written by the worker when a job starts and ends.
  jobsStarted: 'JobsStarted',
  jobsSucceeded: 'JobsSucceeded',
  /** Succeeded, but an advisor, a review or the synthesis failed: the advice is partial. */
  jobsDegraded: 'JobsDegraded',
  jobsFailed: 'JobsFailed',
  jobsCancelled: 'JobsCancelled',
  /** POST /chat → terminal transition committed. */
  jobLatency: 'JobLatency',
  /** Job latency minus the models' critical path (the slowest step of each stage): what the system added. */
  jobOverhead: 'JobOverhead',
  criticalPath: 'CriticalPath',
  /** Job created → first lease: time in the queue before any worker took it. */
  queueWait: 'QueueWait',
  /** Per Stage. */
  stageLatency: 'StageLatency',
  // Model calls: overall and per Advisor.
  modelCalls: 'ModelCalls',
  modelErrors: 'ModelErrors',
  modelLatency: 'ModelLatency',
  timeToFirstToken: 'TimeToFirstToken',
  inputTokens: 'InputTokens',
  outputTokens: 'OutputTokens',
  /** USD of the tokens of a call (circle prices). */
  cost: 'CostUsd',
  // Steps: overall and per Error.
  retries: 'StepRetries',
  /** Retries of unusable output (…InvalidOutput): the repair attempt. */
  repairs: 'StepRepairs',
  // Durable execution (overall).
  commitLatency: 'CommitLatency',
  leasesLost: 'LeasesLost',
  fencedRuns: 'FencedRuns',
  /** Runs that continued a job another run had started (after a crash or a hand-over). */
  resumes: 'Resumes',
  /** SQS message sent → received by a worker. */
  queueAge: 'QueueAgeAtReceive',
  /** Jobs the DLQ sweep failed because their message reached the dead-letter queue. */
  deadLettered: 'DeadLetteredJobs',
  // Live push (overall).
  pushes: 'Pushes',
  pushGone: 'PushGone',
  /** Message ready (transition committed, tokens batched) → PostToConnection answered. */
  pushLatency: 'PushLatency',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
export type MetricUnit = 'Count' | 'Milliseconds' | 'None';

export const METRIC_UNITS: Readonly<Record<MetricName, MetricUnit>> = {
  JobsStarted: 'Count',
  JobsSucceeded: 'Count',
  JobsDegraded: 'Count',
  JobsFailed: 'Count',
  JobsCancelled: 'Count',
  JobLatency: 'Milliseconds',
  JobOverhead: 'Milliseconds',
  CriticalPath: 'Milliseconds',
  QueueWait: 'Milliseconds',
  StageLatency: 'Milliseconds',
  ModelCalls: 'Count',
  ModelErrors: 'Count',
  ModelLatency: 'Milliseconds',
  TimeToFirstToken: 'Milliseconds',
  InputTokens: 'Count',
  OutputTokens: 'Count',
  CostUsd: 'None',
  StepRetries: 'Count',
  StepRepairs: 'Count',
  CommitLatency: 'Milliseconds',
  LeasesLost: 'Count',
  FencedRuns: 'Count',
  Resumes: 'Count',
  QueueAgeAtReceive: 'Milliseconds',
  DeadLetteredJobs: 'Count',
  Pushes: 'Count',
  PushGone: 'Count',
  PushLatency: 'Milliseconds',
};

/**
 * An X-Ray sampling rule as data. The CDK app deploys these (AWS::XRay::SamplingRule); the
 * local stack applies the same matches as local rules. Sampling is decided when a trace
 * starts (POST /chat); every later part of the job — the SQS hop, every worker run — follows
 * that decision through the trace header, so a rule that samples every POST /chat traces
 * every job, the failed ones included.
 */
export interface SamplingRule {
  readonly name: string;
  /** Lower wins. */
  readonly priority: number;
  readonly service: string;
  readonly method: string;
  readonly path: string;
  /** Traces per second sampled before `rate` applies. */
  readonly reservoir: number;
  readonly rate: number;
  readonly description: string;
}

export const SAMPLING_RULES: readonly SamplingRule[] = [
  {
    name: 'every-job',
    priority: 100,
    service: SERVICE.api,
    method: 'POST',
    path: '/chat',
    reservoir: 1,
    rate: 1,
    description: 'Every job: POST /chat starts the job trace, so every job (failed or not) is traced.',
  },
  {
    name: 'api-requests',
    priority: 1000,
    service: SERVICE.api,
    method: '*',
    path: '*',
    reservoir: 1,
    rate: 0.05,
    description: 'Other API requests (reads, cancels, WebSocket routes): one per second and 5 % beyond.',
  },
];

/** Segment and subsegment names the services use (searchable in X-Ray). */
export const TRACE_NAME = {
  modelCall: 'model-call',
  stage: 'stage',
} as const;
