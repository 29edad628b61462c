/**
 * The contract of the advisory machine: its input, context, events, and the two actors
 * the worker provides (`runStep` for model calls, `waitUntil` for retry back-off).
 * Everything here is plain JSON so that persisted snapshots stay small and portable.
 */

/**
 * Bumped whenever older code could not continue a snapshot of this code correctly (a new
 * state, a new meaning of a field). Snapshots of every earlier version this code lists in
 * RESTORABLE_MACHINE_VERSIONS still restore, migrated on the way in.
 * advisory/2: unusable output is repaired once; a failed review or chair degrades the advice.
 */
export const ADVISORY_MACHINE_VERSION = 'advisory/2';

/** Repairs an unusable review or synthesis gets (never the identical prompt again). */
export const MAX_REPAIRS = 1;

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
  /**
   * Redrive: the context of the failed job to go on from (see advisory.redrive.ts). Every
   * succeeded step is kept; the others of the stage it failed in, and the later ones, run again.
   */
  redriveOf?: AdvisoryContext;
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
  /** Summed over every attempt that produced output (an unusable one too: it was paid for). */
  usage?: Usage;
  costUsd?: number;
  finishedAt?: number;
  /** Repairs asked so far (at most MAX_REPAIRS). */
  repairs?: number;
  /** The unusable output a repair attempt answers, and what was wrong with it. */
  repairOf?: Repair;
  /** The step ended with output that stayed unusable after its repair: what was wrong with it. */
  unusable?: string;
}

/** An unusable output to repair: where it is stored and the parser's message about it. */
export interface Repair {
  resultRef: string;
  problem: string;
}

/** The chair's stated confidence; `unstated` when its text names none. */
export type Confidence = 'high' | 'medium' | 'low' | 'unstated';

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
  confidence?: Confidence;
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
  /** A repair attempt: the unusable output it answers and what was wrong with it. */
  repair?: Repair;
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
  confidence?: Confidence;
  /** The output is stored but cannot be used as it is: the parser's message (the machine decides on a repair). */
  problem?: string;
  /** The model answered with no text at all. */
  empty?: boolean;
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

/** The kind of a step id. */
export const kindOfStepId = (stepId: StepId): StepKind =>
  stepId === 'synthesize' ? 'synthesize' : (stepId.slice(0, stepId.indexOf('.')) as StepKind);

export const resultRefOf = (stepId: StepId, attempt: number): string => `${stepId}#${attempt}`;
