/**
 * Everything a worker tells operators about its jobs, in one place: each run's trace segment
 * (continuing the job's trace), EMF metrics, the run record behind the job's timeline, and
 * the log context of its lines. The worker's code calls it in one place (JobRun.start); the
 * rest is observed at the ports it already uses — the snapshot store (commits, lease loss,
 * fencing), the model client (calls), the job queue (queue age) and live push — through the
 * decorators this class hands out, wired in the composition root.
 */
import { isTerminal, WORK_STAGES, type JobItem } from '../../shared/contracts/job.js';
import { SERVICE } from '../../shared/contracts/names.js';
import { invalidOutputErrorOf } from '../../../machines/advisory.context.js';
import { DIMENSION, METRIC, TRACE_NAME, type MetricName } from '../../shared/contracts/telemetry.js';
import type { RunOutcomeKind } from '../../shared/contracts/timeline.js';
import type { Circle } from '../../shared/circle/circle.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock, CommitRequest, JobQueue, Lease, Metrics, MetricValue, ModelClient, QueueMessage, RunRecordStore, SnapshotStore, Span, Tracer } from '../../shared/ports/index.js';
import { decodeSnapshot, readSnapshot } from '../../shared/snapshot-reader.js';
import { buildTimeline } from '../../shared/timeline.js';
import { joinLogContext } from '../../shared/telemetry/log-context.js';
import { userHash } from '../../shared/telemetry/user-hash.js';
import type { PushObserver } from '../live-push.js';
import { END_WRITE_DELAY_MS, RunRecorder } from './run-recorder.js';
import { ObservedModelClient } from './observed-model-client.js';
import type { ActiveRun } from './active-run.js';
import { ObservedSnapshotStore } from './observed-snapshot-store.js';
import { ObservedJobQueue } from './observed-job-queue.js';
import { PushTally } from './push-tally.js';

export interface WorkerTelemetryDeps {
  tracer: Tracer;
  metrics: Metrics;
  runs: RunRecordStore;
  /** Read once a job has finished, for its latency and overhead metrics. */
  transitions: Pick<SnapshotStore, 'transitionsAfter'>;
  circle: Circle;
  clock: Clock;
  logger: Logger;
}

/** A run as JobRun starts it. */
export interface RunContext {
  job: JobItem;
  lease: Lease;
  /** The delivery that woke the run (its trace header continues the job's trace). */
  message?: QueueMessage;
}

/** How a run ended (JobRun's RunOutcome). */
export interface RunEnd {
  kind: RunOutcomeKind;
  status?: string;
}

type Dimensions = Record<string, string>[];
/** How long an ended run still takes pushes into its record (they follow its last commit). */
const RECENT_RUN_MS = 4 * END_WRITE_DELAY_MS;
const OVERALL: Dimensions = [{}];

export class WorkerTelemetry {
  /** Runs of this worker by job id. */
  private readonly active = new Map<string, ActiveRun>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly recorders = new Set<RunRecorder>();
  private readonly pushTally: PushTally;

  constructor(private readonly deps: WorkerTelemetryDeps) {
    this.pushTally = new PushTally(deps.metrics);
  }

  /**
   * Runs a job run in its trace segment and log context. `start` must start the run
   * synchronously (a synchronous throw, e.g. an incompatible snapshot, is rethrown as it is)
   * and return its outcome.
   */
  run(ctx: RunContext, start: () => Promise<RunEnd>): Promise<void> {
    const { job, lease, message } = ctx;
    return joinLogContext({ jobId: job.jobId, run: lease.epoch }, () =>
      this.deps.tracer.segment(
        SERVICE.worker,
        (span) => {
          const run = this.begin(ctx, span);
          let outcome: Promise<RunEnd>;
          try {
            outcome = start();
          } catch (err) {
            this.end(run, { kind: 'failed' });
            throw err;
          }
          return outcome.then((end) => this.end(run, end));
        },
        { parent: message?.traceHeader, live: true },
      ),
    );
  }

  /** The model client with every call traced, measured and recorded. */
  modelClient(inner: ModelClient): ModelClient {
    return new ObservedModelClient(inner, this.deps, this);
  }

  /** The snapshot store with commits, lease loss and fencing observed. */
  snapshotStore(inner: SnapshotStore): SnapshotStore {
    return new ObservedSnapshotStore(inner, this.deps.clock, {
      committed: (request, at, ms) => this.committed(request, at, ms),
      fenced: (jobId) => this.count(METRIC.fencedRuns, { jobId }),
      leaseLost: (jobId) => this.leaseLost(jobId),
    });
  }

  /** The job queue with each message's age at receive measured. */
  jobQueue(inner: JobQueue): JobQueue {
    return new ObservedJobQueue(inner, this.deps.clock, (ageMs) => this.deps.metrics.record([{ name: METRIC.queueAge, value: ageMs }], OVERALL));
  }

  /** Hears live push deliveries. */
  readonly push: PushObserver = {
    pushed: ({ jobId, type, seq, readyAt, ms, outcome }) => {
      // Latency and the timeline's pushes: transitions only (streamed text is batched on purpose).
      const transition = type === 'job.transition' && seq !== undefined;
      this.pushTally.add(outcome, outcome === 'ok' && transition ? ms : undefined);
      if (transition) this.active.get(jobId)?.recorder.push(seq, readyAt, ms, outcome === 'gone');
    },
  };

  /** The DLQ sweep failed a job whose message reached the dead-letter queue. */
  deadLettered(jobId: string): void {
    this.count(METRIC.deadLettered, { jobId });
  }

  /** The run of `jobId` on this worker, if one is running (or has just ended). */
  activeRun(jobId: string): ActiveRun | undefined {
    return this.active.get(jobId);
  }

  /** Metrics with the current job's properties. */
  record(values: MetricValue[], dimensions: Dimensions, properties: Record<string, string | number>): void {
    this.deps.metrics.record(values, dimensions, properties);
  }

  /** Resolves once every run record and metric so far is written (SIGTERM). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await Promise.all([...this.recorders].map((r) => r.idle()));
    this.pushTally.flush();
    await this.deps.metrics.flush();
  }

  private begin({ job, lease, message }: RunContext, span: Span): ActiveRun {
    const { clock } = this.deps;
    // A run whose lease came with its first commit began before that commit.
    const startedAt = Math.min(clock.now(), lease.first?.request.transition.at ?? Infinity);
    const resumed = lease.state.version > 0;
    span.annotate({ jobId: job.jobId, user: userHash(job.owner), run: lease.epoch, resumed });
    const recorder = new RunRecorder(
      {
        jobId: job.jobId,
        epoch: lease.epoch,
        startedAt,
        fromVersion: lease.state.version,
        ...(span.traceId ? { traceId: span.traceId } : {}),
        ...(message ? { message: { receiveCount: message.receiveCount, ...(message.sentAt !== undefined ? { sentAt: message.sentAt } : {}) } } : {}),
        expiresAt: job.expiresAt,
      },
      this.deps.runs,
      this.deps.logger,
    );
    this.recorders.add(recorder);
    const stage = readSnapshot(lease.state)?.stage;
    const run: ActiveRun = { job, epoch: lease.epoch, startedAt, span, recorder, ...(stage ? { stage: { name: stage, since: startedAt } } : {}) };
    this.active.set(job.jobId, run);
    if (resumed) this.count(METRIC.resumes, { jobId: job.jobId });
    // The first transition was committed with the lease, just before the run began.
    if (lease.first) this.committed(lease.first.request, lease.first.request.transition.at, lease.first.ms ?? 0);
    return run;
  }

  private end(run: ActiveRun, end: RunEnd): void {
    const at = this.deps.clock.now();
    this.closeStage(run, at);
    run.span.annotate({ outcome: end.kind });
    if (end.kind === 'failed') run.span.flag('fault');
    run.recorder.end(end.kind, at);
    // Pushes of the last transitions land after the run ended: keep hearing them for a while.
    const forget = setTimeout(() => {
      if (this.active.get(run.job.jobId) === run) this.active.delete(run.job.jobId);
      this.recorders.delete(run.recorder);
    }, RECENT_RUN_MS);
    forget.unref();
  }

  private committed(request: CommitRequest, at: number, ms: number): void {
    const { transition } = request;
    const run = this.active.get(request.jobId);
    const properties = { jobId: request.jobId, seq: transition.seq };
    this.deps.metrics.record([{ name: METRIC.commitLatency, value: ms }], OVERALL, properties);
    for (const change of transition.changes) {
      if (change.repair) {
        this.deps.metrics.record([{ name: METRIC.repairs, value: 1 }], [{}, { [DIMENSION.error]: invalidOutputErrorOf(change.stepId) }], { ...properties, step: change.stepId });
      }
      if (change.status !== 'retrying' || !change.error) continue;
      this.deps.metrics.record([{ name: METRIC.retries, value: 1 }], [{}, { [DIMENSION.error]: change.error.error }], { ...properties, step: change.stepId });
    }
    if (!run) return;
    run.recorder.commit({ seq: transition.seq, at: transition.at, ms });
    if (run.stage?.name !== transition.stage) {
      this.closeStage(run, transition.at);
      run.stage = { name: transition.stage, since: transition.at };
    }
    if (transition.seq === 1) {
      const queueWait = run.startedAt - Date.parse(run.job.createdAt);
      this.deps.metrics.record([{ name: METRIC.jobsStarted, value: 1 }, { name: METRIC.queueWait, value: Math.max(0, queueWait) }], OVERALL, properties);
    }
    if (isTerminal(transition.status)) this.finished(run, request);
  }

  /** A job reached its end in this run: its outcome counts, and its latency once the timeline is read. */
  private finished(run: ActiveRun, request: CommitRequest): void {
    const { status } = request.transition;
    run.span.annotate({ status });
    if (status === 'failed') run.span.flag('fault');
    const counts: Partial<Record<string, MetricName>> = { succeeded: METRIC.jobsSucceeded, failed: METRIC.jobsFailed, cancelled: METRIC.jobsCancelled };
    const values: MetricValue[] = [];
    const metric = counts[status];
    if (metric) values.push({ name: metric, value: 1 });
    const steps = Object.values(decodeSnapshot(request.snapshot)?.context.steps ?? {});
    if (status === 'succeeded' && steps.some((s) => s?.status === 'failed')) values.push({ name: METRIC.jobsDegraded, value: 1 });
    this.deps.metrics.record(values, OVERALL, { jobId: request.jobId, status });
    this.track(this.timings(run));
  }

  /** Job latency, critical path, overhead and stage latency, from the same timeline GET /jobs/{id}/timeline shows. */
  private async timings(run: ActiveRun): Promise<void> {
    const { job } = run;
    try {
      const [stored, transitions] = await Promise.all([this.deps.runs.list(job.jobId), this.deps.transitions.transitionsAfter(job.jobId, 0)]);
      const runs = [...stored.filter((r) => r.epoch !== run.epoch), run.recorder.snapshot()];
      const { summary } = buildTimeline({ job, transitions, runs });
      const values: MetricValue[] = [];
      if (summary.latencyMs !== undefined) values.push({ name: METRIC.jobLatency, value: summary.latencyMs });
      if (summary.criticalPathMs !== undefined) values.push({ name: METRIC.criticalPath, value: summary.criticalPathMs });
      if (summary.overheadMs !== undefined) values.push({ name: METRIC.jobOverhead, value: summary.overheadMs });
      this.deps.metrics.record(values, OVERALL, { jobId: job.jobId });
      for (const [stage, ms] of Object.entries(summary.stages)) {
        this.deps.metrics.record([{ name: METRIC.stageLatency, value: ms }], [{ [DIMENSION.stage]: stage }], { jobId: job.jobId });
      }
    } catch (err) {
      this.deps.logger.warn({ jobId: job.jobId, err }, 'job timings not recorded');
    }
  }

  private leaseLost(jobId: string): void {
    this.count(METRIC.leasesLost, { jobId });
    this.active.get(jobId)?.recorder.leaseLost(this.deps.clock.now());
  }

  /** The stage the run was in, as a finished subsegment of its segment. */
  private closeStage(run: ActiveRun, at: number): void {
    const stage = run.stage;
    // Stages with a subsegment of their own: the work stages (not queued, not the end).
    if (!stage || !(WORK_STAGES as readonly string[]).includes(stage.name)) return;
    run.span.record(TRACE_NAME.stage, stage.since, Math.max(stage.since, at), { stage: stage.name });
    run.stage = undefined;
  }

  private count(name: MetricName, properties: Record<string, string | number>): void {
    this.deps.metrics.record([{ name, value: 1 }], OVERALL, properties);
  }

  private track(task: Promise<unknown>): void {
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
  }
}
