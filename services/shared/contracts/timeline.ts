/**
 * A job's timeline: what happened when, from the queue to the last push, built from the
 * Transitions table (every commit, retry and back-off) and the Runs table (what each worker
 * run observed: its lease, its model calls with time to first token, commit latencies and
 * pushes). GET /jobs/{id}/timeline answers a JobTimeline; the worker writes RunRecords.
 */
import type { JobStage, JobStatus, WorkStage } from './job.js';

/** How a run ended; `lost` when its record says nothing (its worker died or was fenced before writing it). */
export type RunOutcomeKind = 'finished' | 'handed-over' | 'fenced' | 'failed';

/** One model call as the worker saw it. */
export interface ModelCallRecord {
  stepId: string;
  attempt: number;
  /** The circle member called (advisor, or the chair for the synthesis). */
  advisorId: string;
  modelId: string;
  /** Epoch ms the call was sent. */
  startedAt: number;
  /** Sent → last byte (or the error). */
  ms: number;
  /** Sent → first streamed text; absent when no text arrived. */
  ttftMs?: number;
  /** `ok`, or the error name (ThrottlingException, States.Timeout, …). */
  outcome: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** One commit of this run: the Transitions record is the truth, this adds how long the write took. */
export interface CommitRecord {
  seq: number;
  at: number;
  ms: number;
}

/** Pushes of one committed transition (or of streamed text, seq absent) to subscribed connections. */
export interface PushRecord {
  seq?: number;
  /** Epoch ms the message was ready (the commit, or the end of a token batch). */
  at: number;
  /** Ready → the slowest PostToConnection answered. */
  ms: number;
  /** Connections it reached. */
  connections: number;
  /** Connections that were gone. */
  gone: number;
}

/** The Runs table item: one per worker run (lease) of a job. */
export interface RunRecord {
  jobId: string;
  /** The lease's fencing epoch: unique per run of a job, increasing. */
  epoch: number;
  /** Epoch ms the run took the lease. */
  startedAt: number;
  /** State version the run started from (> 0: it resumed the job). */
  fromVersion: number;
  traceId?: string;
  /** The SQS delivery that woke the run: when it was sent and how often it had been received. */
  message?: { sentAt?: number; receiveCount: number };
  endedAt?: number;
  outcome?: RunOutcomeKind;
  modelCalls: ModelCallRecord[];
  commits: CommitRecord[];
  pushes: PushRecord[];
  /** Epoch ms the run learned another worker owns the job. */
  leaseLostAt?: number;
  /** Events beyond the per-run limit were left out (the item stays far below 400 KB). */
  truncated?: boolean;
  expiresAt: number;
}

export type TimelineEntry =
  /** The job waited for its first run: created → leased. */
  | { type: 'queued'; at: number; ms: number }
  /** A worker run took the lease; `waitedMs` = its wake-up message sent → leased. */
  | { type: 'lease'; at: number; run: number; resumed: boolean; delivery?: number; waitedMs?: number }
  | ({ type: 'model-call'; at: number; run: number } & Omit<ModelCallRecord, 'startedAt'>)
  /** A committed transition; `ms` = how long the write took, when its run recorded it. */
  | { type: 'commit'; at: number; seq: number; event: string; status: JobStatus; stage: JobStage; ms?: number; run?: number }
  /** A failed attempt that will be retried at `dueAt` after `backoffMs`. */
  | { type: 'retry'; at: number; stepId: string; attempt: number; error: string; dueAt: number; backoffMs: number }
  | ({ type: 'push'; run: number } & PushRecord)
  | { type: 'run-end'; at: number; run: number; outcome: RunOutcomeKind | 'lost' };

/** The stages a timeline times: the work stages. */
export type TimelineStage = WorkStage;

/** The headline figures of a job, from its timeline. */
export interface TimelineSummary {
  status: JobStatus;
  /** Epoch ms of POST /chat. */
  createdAt: number;
  /** Epoch ms of the terminal transition. */
  endedAt?: number;
  latencyMs?: number;
  /** Sum over stages of the slowest step (its calls plus its back-off waits). */
  criticalPathMs?: number;
  /** latency − critical path: queueing, leases, commits, scheduling. */
  overheadMs?: number;
  queueWaitMs?: number;
  stages: Partial<Record<TimelineStage, number>>;
  runs: number;
  modelCalls: number;
  retries: number;
  /** Sum over the model calls recorded (failed calls cost nothing). */
  costUsd: number;
}

/** GET /jobs/{id}/timeline. */
export interface JobTimeline {
  jobId: string;
  /** The job's X-Ray trace (absent when tracing is off). */
  traceId?: string;
  summary: TimelineSummary;
  /** In time order. */
  entries: TimelineEntry[];
}
