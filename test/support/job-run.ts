/**
 * A job run as the worker starts one, for tests that watch what it tells the outside
 * (telemetry, traces): a queued job, its first lease, and a JobRun wired to in-memory results,
 * no live push, no queue (its message is never extended) and no jitter (a retry is due at once).
 */
import type { AdvisoryInput } from '../../machines/advisory.types.js';
import type { Circle } from '../../services/shared/circle/circle.js';
import type { JobItem, StateItem } from '../../services/shared/contracts/job.js';
import { silentLogger } from '../../services/shared/logging.js';
import type { CommitRequest, Lease, ModelClient, QueueMessage, ResultStore, SnapshotStore, Tracer } from '../../services/shared/ports/index.js';
import { NO_EVENTS } from '../../services/worker/job-events.js';
import type { Turn } from '../../services/worker/history.js';
import { firstCommitOf, JobRun } from '../../services/worker/job-run.js';
import { WorkerTelemetry } from '../../services/worker/telemetry/worker-telemetry.js';
import { NO_METRICS } from '../../services/shared/ports/metrics.js';
import { NO_TRACER } from '../../services/shared/ports/tracer.js';
import { MemoryResultStore } from '../unit/api-memory-ports.js';
import { MemoryRunRecordStore } from './telemetry.js';

export interface FixtureRun {
  circle: Circle;
  job: { jobId: string; owner: string; question: string; advisors: string[]; createdAt?: number };
  quorum: number;
  /** The model client as the worker wraps it (telemetry.modelClient(…) and the like). */
  model: ModelClient;
  snapshots: SnapshotStore;
  tracer: Tracer;
  telemetry: WorkerTelemetry;
  workerId: string;
  /** The delivery that woke the run (its trace header, its age). */
  message?: QueueMessage;
  /** When the lease lapses by the worker's clock (default: in 30 s). */
  leaseExpiresAt?: number;
  /** The job's first commit, written with the lease (as `acquire` does); the caller stores it. */
  firstCommit?: CommitRequest;
  /** Instead, the State item of a job an earlier run committed to: this run resumes it (the caller stores it). */
  resumes?: StateItem;
  /** The Results table as the run sees it (default: an empty one in memory). */
  results?: ResultStore;
  /** The job's earlier turns (default: none, at once). */
  loadHistory?: () => Promise<Turn[]>;
  /** How often the run beats (default: 10 s, so a short test sees none). */
  heartbeatMs?: number;
  /** Extends the run's message (default: it always can). */
  extendMessage?: () => Promise<boolean>;
}

/** The job item startFixtureRun runs, as JobStore.create writes it. */
export function queuedJob(f: Pick<FixtureRun, 'job'>, now = Date.now()): JobItem {
  const { jobId, owner, question, advisors, createdAt = now } = f.job;
  return {
    jobId,
    owner,
    question,
    questionPreview: question,
    advisors,
    mode: 'quick',
    status: 'queued',
    stage: 'queued',
    createdAt: new Date(createdAt).toISOString(),
    updatedAt: new Date(now).toISOString(),
    expiresAt: Math.floor(now / 1000) + 86_400,
  };
}

/** What the run is given as its machine's input. */
export function inputOf(f: Pick<FixtureRun, 'job' | 'circle' | 'quorum'>): AdvisoryInput {
  const { jobId, advisors } = f.job;
  return { jobId, advisors, chair: f.circle.chair.id, mode: 'quick', quorum: f.quorum, seed: jobId, policies: f.circle.policies };
}

/** The job's first commit, stored as a worker's lease stores it (`acquire` with `firstCommitOf`). */
export async function commitFirst(snapshots: SnapshotStore, f: Pick<FixtureRun, 'job' | 'circle' | 'quorum'>): Promise<CommitRequest> {
  const first = firstCommitOf(queuedJob(f), () => inputOf(f), Date.now())!;
  const request = { ...first, jobId: f.job.jobId, expectedVersion: 0, epoch: 1 };
  await snapshots.commit(request);
  return request;
}

/** Telemetry that traces and measures nothing and keeps run records in memory. */
export function quietTelemetry(snapshots: SnapshotStore, circle: Circle): WorkerTelemetry {
  return new WorkerTelemetry({ tracer: NO_TRACER, metrics: NO_METRICS, runs: new MemoryRunRecordStore(), transitions: snapshots, circle, clock: { now: () => Date.now() }, logger: silentLogger() });
}

/** Starts the run of a quick job that no worker has run yet (or resumes `resumes`); await `run.outcome` for its end. */
export function startFixtureRun(f: FixtureRun): JobRun {
  const now = Date.now();
  const { jobId } = f.job;
  const job = queuedJob(f, now);
  const lease: Lease = {
    jobId,
    owner: f.workerId,
    epoch: f.resumes?.epoch ?? 1,
    expiresAt: f.leaseExpiresAt ?? now + 30_000,
    state: f.resumes ?? { jobId, version: 0, epoch: 1, expiresAt: job.expiresAt },
    first: f.firstCommit ? { request: f.firstCommit } : undefined,
  };
  const input = inputOf(f);
  const run = new JobRun(
    {
      results: f.results ?? new MemoryResultStore(),
      model: f.model,
      circle: f.circle,
      clock: { now: () => Date.now() },
      ids: { random: () => 0 },
      workerId: f.workerId,
      tracer: f.tracer,
      snapshots: f.snapshots,
      telemetry: f.telemetry,
      events: NO_EVENTS,
      logger: silentLogger(),
      leaseMs: 30_000,
      heartbeatMs: f.heartbeatMs ?? 10_000,
      extendMessage: f.extendMessage ?? (async () => true),
      loadHistory: f.loadHistory ?? (async () => []),
      message: f.message,
    },
    job,
    lease,
    input,
  );
  run.start();
  return run;
}
