/**
 * The contract of the advisory machine: its input, context, events, and the two actors
 * the worker provides (`runStep` for model calls, `waitUntil` for retry back-off).
 * Everything here is plain JSON so that persisted snapshots stay small and portable.
 */

/** Bumped whenever a change makes older persisted snapshots unrestorable. */
export const ADVISORY_MACHINE_VERSION = 'advisory/1';

export type Mode = 'full' | 'quick';
export type StepKind = 'advise' | 'review' | 'synthesize';
/** `cancelled`: the step had not finished when its job was cancelled. */
export type StepStatus = 'pending' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** Step ids: `advise.<advisorId>`, `review.<advisorId>`, `synthesize`. */
export type StepId = string;

export interface StepError {
  /** Error name, matched by Retry/Catch ErrorEquals (e.g. ThrottlingException, States.Timeout). */
  error: string;
  /** Human-readable cause. */
  cause: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** Step Functions Retrier, as data. */
export interface Retrier {
  ErrorEquals: string[];
  /** Seconds before the first retry (fractions allowed locally). Default 1. */
  IntervalSeconds?: number;
  /** Retries (not attempts) allowed by this retrier. Default 3; 0 = never retry. */
  MaxAttempts?: number;
  /** Multiplier per retry. Default 2. */
  BackoffRate?: number;
  /** Upper bound of one delay. */
  MaxDelaySeconds?: number;
  /** FULL: delay is uniformly random in [0, computed]; NONE: exact. Default NONE. */
  JitterStrategy?: 'FULL' | 'NONE';
}

/** Step Functions Catcher, as data: on a match the step is marked failed with {error, cause}. */
export interface Catcher {
  ErrorEquals: string[];
}

export interface TaskPolicy {
  Retry: Retrier[];
  Catch: Catcher[];
  TimeoutSeconds: number;
}

export type StepPolicies = Record<StepKind, TaskPolicy>;

export interface AdvisoryInput {
  jobId: string;
  /** Advisor ids in circle order; one parallel branch each. */
  advisors: string[];
  /** The chair's id (may be one of the advisors' models, but is its own step). */
  chair: string;
  mode: Mode;
  /** Advisors that must answer for the job to continue (clamped to advisors.length). */
  quorum: number;
  /** Seed for the per-reviewer label shuffle; the job id by default. */
  seed: string;
  policies: StepPolicies;
}

export interface StepRecord {
  status: StepStatus;
  /** 1-based number of the attempt running or last run; 0 before the first. */
  attempt: number;
  /** Retries used so far, per retrier index (Step Functions counts each retrier separately). */
  retries: number[];
  /** Epoch ms before which the next attempt must not start (status retrying). */
  dueAt?: number;
  /** Results-table stepKey (`<stepId>#<attempt>`) of the committed output. */
  resultRef?: string;
  /** Last error (retrying) or final error (failed). */
  error?: StepError;
  usage?: Usage;
  costUsd?: number;
  finishedAt?: number;
}

export interface RankedAdvisor {
  advisorId: string;
  /** Mean 1-based position over the reviewers that ranked this advisor (Borda by mean). */
  meanPosition: number;
  /** Number of reviewers that ranked this advisor. */
  votes: number;
}

export interface Aggregate {
  /** Best first. */
  ranking: RankedAdvisor[];
  /**
   * agreement[a][b] for reviewers a, b: 1 minus the mean distance between the relative
   * positions (0 best … 1 worst) they gave the advisors both ranked (1 = placed alike);
   * absent when they ranked no advisor in common.
   */
  agreement: Record<string, Record<string, number>>;
}

export interface AdvisoryContext {
  jobId: string;
  mode: Mode;
  quorum: number;
  advisors: string[];
  chair: string;
  seed: string;
  policies: StepPolicies;
  steps: Record<StepId, StepRecord>;
  /** Per reviewer: label ("A", "B", …) → advisor id; the reviewer's own answer excluded. */
  labels: Record<string, Record<string, string>>;
  /** Per reviewer: advisor ids best first (de-anonymised from the reviewer's labels). */
  rankings: Record<string, string[]>;
  aggregate?: Aggregate;
  /** Chair's stated confidence, from the synthesis output. */
  confidence?: 'high' | 'medium' | 'low';
  /** Readable reason when the job failed. */
  failure?: { reason: string; errors: Record<StepId, StepError> };
  cancellation?: { reason: string };
}

/** Input of the `runStep` actor; persisted with the snapshot, so references only. */
export interface StepInput {
  jobId: string;
  stepId: StepId;
  kind: StepKind;
  /** The advisor answering or reviewing, or the chair. */
  advisorId: string;
  attempt: number;
  timeoutSeconds: number;
  /** review: the others' answers under this reviewer's labels. */
  anonymised?: { label: string; resultRef: string }[];
  /** synthesize: every answer with its real advisor. */
  answers?: { advisorId: string; resultRef: string }[];
  /** synthesize (full mode): every review with its reviewer, the label maps and the aggregate. */
  reviews?: { reviewerId: string; resultRef: string }[];
  labels?: Record<string, Record<string, string>>;
  aggregate?: Aggregate;
}

/** Output of the `runStep` actor (what the worker committed to the Results table). */
export interface StepOutput {
  resultRef: string;
  usage: Usage;
  costUsd: number;
  finishedAt: number;
  /** review: labels best first. */
  ranking?: string[];
  /** synthesize: the chair's confidence. */
  confidence?: 'high' | 'medium' | 'low';
}

/** What the `runStep` actor rejects with: a named error plus the time and jitter draw. */
export interface StepFailure extends StepError {
  /** Epoch ms when the attempt failed (the machine reads no clock). */
  at: number;
  /** A uniform draw in [0, 1) for JitterStrategy FULL (the machine draws no randomness). */
  jitter: number;
}

/** Input and output of the `waitUntil` actor. */
export interface WaitInput {
  until: number;
}
export interface WaitOutput {
  now: number;
}

/** What a step's stopped attempt consumed (an aborted stream's partial usage), so a job's cost is what was spent. */
export interface Spent {
  usage: Usage;
  costUsd: number;
}

/** Events the worker sends to the machine (besides actor done/error events). */
export type AdvisoryEvent =
  /** `spent`: per unfinished step, what its stopped attempt consumed. */
  | { type: 'job.cancel'; reason: string; spent?: Record<StepId, Spent> }
  | { type: 'job.fail'; reason: string };

/** Top-level state names, in order. */
export type Stage = 'advising' | 'reviewing' | 'synthesizing' | 'succeeded' | 'failed' | 'cancelled';

export const stepIdOf = (kind: StepKind, advisorId?: string): StepId =>
  kind === 'synthesize' ? 'synthesize' : `${kind}.${advisorId}`;

export const resultRefOf = (stepId: StepId, attempt: number): string => `${stepId}#${attempt}`;
