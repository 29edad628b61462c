/**
 * The job as the API, the worker, the WebSocket protocol and the UI see it. Contracts
 * import nothing but other contracts, so the web app and the infra can use them alone; the
 * machine's own types are checked against these in services/shared/job-view.ts.
 */

export type Mode = 'full' | 'quick';
export const MODES: readonly Mode[] = ['full', 'quick'];

/** A step's state; `cancelled` is an unfinished step of a job that was cancelled. */
export type StepStatus = 'pending' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** Step statuses that are not final: the step has not started, is running, or waits to retry. */
export const UNFINISHED_STEP_STATUSES: readonly StepStatus[] = ['pending', 'running', 'retrying'];
/** True while a step may still change (see UNFINISHED_STEP_STATUSES). */
export const isUnfinishedStep = (status: StepStatus): boolean => UNFINISHED_STEP_STATUSES.includes(status);

export interface StepError {
  /** Error name (e.g. ThrottlingException, States.Timeout, Review.InvalidOutput). */
  error: string;
  /** Human-readable cause. */
  cause: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface RankedAdvisor {
  advisorId: string;
  /** Mean 1-based position over the reviewers that ranked this advisor (lower is better). */
  meanPosition: number;
  /** Number of reviewers that ranked this advisor. */
  votes: number;
}

export interface Aggregate {
  /** Best first. */
  ranking: RankedAdvisor[];
  /** agreement[a][b] for reviewers a, b in [0, 1] (1 = placed the advisors alike); absent when they share no advisor. */
  agreement: Record<string, Record<string, number>>;
}

/** The chair's stated confidence; `unstated` when the chair's text names none. */
export type Confidence = 'high' | 'medium' | 'low' | 'unstated';

/**
 * How complete the advice of a finished job is (a job still succeeds while the quorum
 * answered): `complete`; `unranked` (every review failed, the chair wrote without a
 * ranking); `unstructured` (the chair's text could not be read into sections and is shown
 * as written); `unsynthesized` (the chair could not write: the answers and the ranking are
 * the advice).
 */
export type AdviceQuality = 'complete' | 'unranked' | 'unstructured' | 'unsynthesized';

/*
 * The stage and status vocabulary, in one place: every service, the web app and the infra
 * read terminal-ness from here. The advisory machine keeps its own list of top-level states
 * (machines import nothing); services/shared/job-view.ts checks it fits MachineStage.
 */

/** How a job ends. */
export type TerminalStatus = 'succeeded' | 'failed' | 'cancelled';
export type JobStatus = 'queued' | 'running' | TerminalStatus;
/** The stages a job works through, in order. */
export type WorkStage = 'advising' | 'reviewing' | 'synthesizing';
/** The coarse stage shown to people: `done` once the job has ended. */
export type JobStage = 'queued' | WorkStage | 'done';
/** The advisory machine's top-level states: the work stages, then how the job ended. */
export type MachineStage = WorkStage | TerminalStatus;

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const satisfies readonly JobStatus[];
export const TERMINAL_STATUSES: readonly TerminalStatus[] = ['succeeded', 'failed', 'cancelled'];
export const WORK_STAGES: readonly WorkStage[] = ['advising', 'reviewing', 'synthesizing'];
export const MACHINE_STAGES: readonly MachineStage[] = [...WORK_STAGES, ...TERMINAL_STATUSES];

/** True once the job has ended (a job status, or the machine stage it ended in). */
export const isTerminal = (status: JobStatus | MachineStage): status is TerminalStatus =>
  (TERMINAL_STATUSES as readonly string[]).includes(status);
/** True for one of the advisory machine's top-level states (e.g. read from a stored snapshot). */
export const isMachineStage = (value: string): value is MachineStage => (MACHINE_STAGES as readonly string[]).includes(value);
/** The job status a machine stage stands for. */
export const statusOfStage = (stage: MachineStage): JobStatus => (isTerminal(stage) ? stage : 'running');
/** The stage shown to people for a machine stage. */
export const jobStageOf = (stage: MachineStage): JobStage => (isTerminal(stage) ? 'done' : stage);

/** The Jobs table item. */
export interface JobItem {
  jobId: string;
  /** The token subject that created the job; every read is checked against it. */
  owner: string;
  question: string;
  /** First 120 characters of the question, for listings. */
  questionPreview: string;
  advisors: string[];
  mode: Mode;
  /** The conversation this job is a turn of: the id of its first job (its own id for a new one). */
  conversationId?: string;
  status: JobStatus;
  stage: JobStage;
  createdAt: string; // ISO 8601, sorts as the byOwner index key
  updatedAt: string;
  /** Readable reason for failed or cancelled jobs. */
  reason?: string;
  cancelRequested?: boolean;
  expiresAt: number; // epoch seconds (TTL)
}

/** The State table item (durable execution). */
export interface StateItem {
  jobId: string;
  /** JSON of the XState persisted snapshot; absent before the first commit. */
  snapshot?: string;
  machineVersion?: string;
  /** One per committed transition; 0 before the first. */
  version: number;
  /** Fencing token, incremented by every lease acquisition. */
  epoch: number;
  leaseOwner?: string;
  /** Epoch ms. */
  leaseExpiresAt?: number;
  /** Version at the previous acquisition: progress since then resets poison counting. */
  versionAtAcquire?: number;
  /**
   * Runs in a row, the current one included, that began without the one before making
   * progress (a commit) or handing the job over cleanly: what decides poison, never the
   * SQS receive count, which deliveries no worker saw also raise.
   */
  stalledRuns?: number;
  cancelRequested?: boolean;
  cancelReason?: string;
  /**
   * The version a redrive committed (POST /jobs/{id}/redrive). While it is still `version`, the
   * snapshot is the failed run's and the next run starts the machine again from it.
   */
  redriveVersion?: number;
  expiresAt: number;
}

/** A write-once Results table item. */
export interface ResultItem {
  jobId: string;
  /** `<stepId>#<attempt>`. */
  stepKey: string;
  stepId: string;
  attempt: number;
  advisorId: string;
  modelId: string;
  text: string;
  usage: Usage;
  costUsd: number;
  stopReason?: string;
  /** review: parsed {ranking (labels), critiques by label}; synthesize: parsed sections. */
  parsed?: ReviewParsed | SynthesisParsed;
  /** Why the output could not be used as it is (then `parsed` is absent). */
  problem?: string;
  /** The endpoint marked the answer as simulated (the local stand-in). */
  simulated?: boolean;
  createdAt: string;
  expiresAt: number;
}

export interface ReviewParsed {
  kind: 'review';
  ranking: string[];
  critiques: Record<string, string>;
}

export interface SynthesisParsed {
  kind: 'synthesis';
  recommendation: string;
  agreement: string;
  dissent: string;
  confidence: Confidence;
}

/** One committed transition: the Transitions table item and the `job.transition` payload. */
export interface TransitionRecord {
  jobId: string;
  /** = the State version this transition committed. Gapless from 1. */
  seq: number;
  /** Epoch ms of the commit. */
  at: number;
  /**
   * What happened, in domain words: job.started, step.started, step.succeeded, step.retrying, step.failed, job.succeeded, job.failed, job.cancelled;
   * job.redriven when the owner redrove a failed job (status queued; its next run starts with job.started).
   */
  event: string;
  status: JobStatus;
  stage: JobStage;
  /** Steps whose record changed in this transition. */
  changes: TransitionChange[];
  reason?: string;
  expiresAt?: number;
}

export interface TransitionChange {
  stepId: string;
  status: StepStatus;
  attempt: number;
  resultRef?: string;
  error?: StepError;
  dueAt?: number;
  usage?: Usage;
  costUsd?: number;
  /** The step's output could not be used and the model is asked again, told what was wrong (same attempt): its text starts afresh. */
  repair?: true;
}

export interface StepView {
  status: StepStatus;
  attempt: number;
  text?: string;
  error?: StepError;
  usage?: Usage;
  costUsd?: number;
  /** Epoch ms of the next attempt while retrying. */
  dueAt?: number;
  /** The model stopped at its token limit: the text is kept but cut short. */
  truncated?: boolean;
}

export interface AdvisorView {
  id: string;
  name: string;
  modelId: string;
  answer: StepView;
  review: StepView & { ranking?: string[]; critiques?: Record<string, string> };
}

/** GET /jobs/{id} and the `job.view` message. */
export interface JobView {
  jobId: string;
  status: JobStatus;
  stage: JobStage;
  mode: Mode;
  question: string;
  conversationId?: string;
  createdAt: string;
  updatedAt: string;
  /** The State version this view reflects (0 while queued). */
  seq: number;
  advisors: AdvisorView[];
  chair: { id: string; name: string; modelId: string };
  ranking?: Aggregate['ranking'];
  agreement?: Aggregate['agreement'];
  synthesis?: StepView & Partial<Omit<SynthesisParsed, 'kind'>>;
  usage: Usage;
  costUsd: number;
  /** Readable reason for a failed or cancelled job. */
  reason?: string;
  /** Things a reader should know, e.g. an advisor that could not answer. */
  notes: string[];
  /** How complete the advice is, once the job has succeeded (absent before). */
  adviceQuality?: AdviceQuality;
  /** The advisors were the local simulation: the text is template text, not advice. */
  simulated?: boolean;
  /** Model calls the job has started, by cause. */
  modelCalls?: ModelCalls;
}

/**
 * Model calls of a job, by cause: `first` attempts of each step, `retries` after a
 * transport or throttling error (the same prompt), `repairs` of unusable output (a prompt
 * that says what was wrong). `total` is their sum.
 */
export interface ModelCalls {
  total: number;
  first: number;
  retries: number;
  repairs: number;
}

/** GET /jobs item. */
export interface JobSummary {
  jobId: string;
  status: JobStatus;
  stage: JobStage;
  mode: Mode;
  questionPreview: string;
  createdAt: string;
  updatedAt: string;
}

/** The SQS message body: only a pointer, DynamoDB holds the truth. */
export interface JobMessage {
  jobId: string;
}
