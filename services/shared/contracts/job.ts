/**
 * The job as the API, the worker, the WebSocket protocol and the UI see it.
 */
import type { Mode, StepError, StepStatus, Usage, Aggregate } from '../../../machines/advisory.types.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type JobStage = 'queued' | 'advising' | 'reviewing' | 'synthesizing' | 'done';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminal = (status: JobStatus): boolean => TERMINAL_STATUSES.includes(status);

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
  cancelRequested?: boolean;
  cancelReason?: string;
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
  confidence: 'high' | 'medium' | 'low';
}

/** One committed transition: the Transitions table item and the `job.transition` payload. */
export interface TransitionRecord {
  jobId: string;
  /** = the State version this transition committed. Gapless from 1. */
  seq: number;
  /** Epoch ms of the commit. */
  at: number;
  /** What happened, in domain words: job.started, step.started, step.succeeded, step.retrying, step.failed, job.succeeded, job.failed, job.cancelled. */
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
}

export interface StepView {
  status: StepStatus;
  attempt: number;
  text?: string;
  error?: StepError;
  usage?: Usage;
  costUsd?: number;
  dueAt?: number;
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
