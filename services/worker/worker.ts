/**
 * The worker: long-polls the job queue, leases each job in the State table and runs it as
 * a JobRun; watches its jobs' cancel flags; sweeps the dead-letter queue to fail poison
 * jobs; hands jobs over on SIGTERM.
 *
 * The SQS message is only a wake-up pointer. It is deleted when the job is terminal, left
 * alone when another worker fenced us off, and replaced by a fresh one on hand-over so a
 * Spot interruption never counts towards the DLQ's maxReceiveCount.
 */
import { z } from 'zod';
import type { AdvisoryInput } from '../../machines/advisory.types.js';
import { IncompatibleSnapshotError } from '../../machines/errors.js';
import type { JobItem, JobMessage } from '../shared/contracts/job.js';
import { isTerminal, JOB_STATUSES, MODES } from '../shared/contracts/job.js';
import type { JobStore } from '../shared/ports/job-store.js';
import type { JobQueue, QueueMessage } from '../shared/ports/job-queue.js';
import type { Lease, SnapshotStore } from '../shared/ports/snapshot-store.js';
import type { Logger } from '../shared/logging.js';
import { JobRun, type RunOutcome } from './job-run.js';
import type { JobEvents } from './job-events.js';
import type { WorkerTelemetry } from './telemetry/worker-telemetry.js';
import type { StepRunnerDeps } from './step-runner.js';
import { loadHistory } from './history.js';
import { CancelWatch } from './cancel-watch.js';
import { DeadLetterSweeper } from './dead-letter-sweeper.js';
import { parseMessage } from './job-message.js';
import { withLogContext } from '../shared/telemetry/log-context.js';
import { sleep } from '../shared/sleep.js';

export interface WorkerSettings {
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  visibilitySeconds: number;
  pollWaitSeconds: number;
  shutdownGraceMs: number;
  maxReceiveCount: number;
  dlqSweepMs: number;
}

export interface WorkerDeps extends StepRunnerDeps {
  jobs: JobStore;
  snapshots: SnapshotStore;
  queue: JobQueue;
  /** The dead-letter queue, swept for poison jobs; absent disables the sweep. */
  deadLetters?: JobQueue;
  events: JobEvents;
  logger: Logger;
  telemetry: WorkerTelemetry;
}

const jobSchema = z.object({
  jobId: z.string().min(1),
  owner: z.string().min(1),
  question: z.string().min(1),
  advisors: z.array(z.string().min(1)).min(1),
  mode: z.enum(MODES),
  status: z.enum(JOB_STATUSES),
});

export class Worker {
  private readonly runs = new Map<string, JobRun>();
  private readonly polling = new AbortController();
  private readonly tasks = new Set<Promise<unknown>>();
  private loop?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  private slotFreed: () => void = () => {};
  private readonly cancels: CancelWatch;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly settings: WorkerSettings,
  ) {
    this.cancels = new CancelWatch(deps.snapshots, () => this.runs, deps.logger);
  }

  /** Starts polling, the cancel watch (and the DLQ sweep). */
  start(): void {
    this.loop = this.pollLoop();
    this.cancels.start();
    if (this.deps.deadLetters) {
      const sweeper = new DeadLetterSweeper({ ...this.deps, deadLetters: this.deps.deadLetters }, this.settings.maxReceiveCount);
      this.sweeper = setInterval(() => this.track(sweeper.sweep(this.polling.signal)), this.settings.dlqSweepMs);
    }
  }

  /** Jobs this worker is running now. */
  activeJobs(): string[] {
    return [...this.runs.keys()];
  }

  /**
   * SIGTERM: stop receiving at once, let in-flight steps finish and commit within the grace
   * period, abort the rest, release the leases and hand the messages over.
   */
  async shutdown(): Promise<void> {
    this.polling.abort();
    clearInterval(this.sweeper);
    this.slotFreed();
    await this.loop;
    const grace = this.settings.shutdownGraceMs;
    // The cancel watch keeps running meanwhile: a job cancelled during the hand-over ends cancelled.
    await Promise.all([...this.runs.values()].map((run) => run.handOver(grace)));
    await Promise.allSettled([...this.tasks]);
    this.cancels.stop();
  }

  private async pollLoop(): Promise<void> {
    const signal = this.polling.signal;
    while (!signal.aborted) {
      const free = this.settings.concurrency - this.runs.size;
      if (free <= 0) {
        await new Promise<void>((r) => (this.slotFreed = r));
        continue;
      }
      let messages: QueueMessage[];
      try {
        messages = await this.deps.queue.receive(free, this.settings.pollWaitSeconds, this.settings.visibilitySeconds, signal);
      } catch (err) {
        this.deps.logger.warn({ err }, 'receive failed; retrying');
        await sleep(1000, signal);
        continue;
      }
      for (const message of messages) {
        if (signal.aborted) {
          // Received after SIGTERM: give it straight back.
          this.track(this.deps.queue.changeVisibility(message.receiptHandle, 0));
          continue;
        }
        // Each message in its own log scope: the run it starts adds the job id and trace id to its lines.
        this.track(withLogContext({}, () => this.handle(message)));
      }
    }
  }

  private track<T>(task: Promise<T>): void {
    const t = task.catch((err) => this.deps.logger.error({ err }, 'unexpected worker error'));
    this.tasks.add(t);
    void t.finally(() => this.tasks.delete(t));
  }

  private async handle(message: QueueMessage): Promise<void> {
    const { logger, queue } = this.deps;
    const parsed = parseMessage(message.body);
    if (!parsed) {
      // Cannot be parsed: let SQS redrive it to the DLQ after maxReceiveCount deliveries.
      logger.error({ messageId: message.messageId, receiveCount: message.receiveCount }, 'unparseable job message');
      await queue.changeVisibility(message.receiptHandle, 0);
      return;
    }
    const { jobId } = parsed;
    if (this.runs.has(jobId)) {
      // A duplicate delivery of a job this worker is running: the run holds its own message.
      await queue.delete(message.receiptHandle);
      return;
    }
    const job = await this.deps.jobs.get(jobId);
    if (!job) {
      logger.warn({ jobId }, 'message for a job that does not exist; dropping it');
      await queue.delete(message.receiptHandle);
      return;
    }
    if (isTerminal(job.status)) {
      await queue.delete(message.receiptHandle);
      return;
    }
    const now = this.deps.clock.now();
    const acquired = await this.deps.snapshots.acquire(jobId, this.deps.workerId, this.settings.leaseMs, now);
    if (acquired.kind === 'missing') {
      logger.warn({ jobId }, 'job has no state item; dropping the message');
      await queue.delete(message.receiptHandle);
      return;
    }
    if (acquired.kind === 'held') {
      // Not mine now. Come back when that lease would have lapsed, in case its holder died.
      const wait = Math.ceil(Math.max(0, acquired.expiresAt - now) / 1000) + 1;
      await queue.changeVisibility(message.receiptHandle, Math.min(wait, this.settings.visibilitySeconds));
      return;
    }
    await this.run(job, acquired.lease, message);
  }

  private async run(job: JobItem, lease: Lease, message: QueueMessage): Promise<void> {
    const { logger, queue } = this.deps;
    const checked = jobSchema.safeParse(job);
    if (!checked.success) {
      // Corrupt job data: treated like a crash, so repeated deliveries end in the DLQ.
      logger.error({ jobId: job.jobId, issues: checked.error.issues.length }, 'job item is not valid');
      await this.deps.snapshots.release(lease);
      await queue.changeVisibility(message.receiptHandle, backoffSeconds(message.receiveCount));
      return;
    }
    const run = new JobRun(
      {
        ...this.deps,
        leaseMs: this.settings.leaseMs,
        heartbeatMs: this.settings.heartbeatMs,
        extendMessage: () => queue.changeVisibility(message.receiptHandle, this.settings.visibilitySeconds),
        loadHistory: (j) => loadHistory(this.deps, j),
        message,
      },
      job,
      lease,
      this.inputOf(job),
    );
    this.runs.set(job.jobId, run);
    try {
      try {
        run.start();
      } catch (err) {
        if (err instanceof IncompatibleSnapshotError) {
          await this.failIncompatible(job, lease, message, err);
          return;
        }
        throw err;
      }
      logger.info({ jobId: job.jobId, epoch: lease.epoch, version: lease.state.version, receiveCount: message.receiveCount }, 'job leased');
      const outcome = await run.outcome;
      await this.settle(job.jobId, lease, message, outcome);
    } finally {
      this.runs.delete(job.jobId);
      this.slotFreed();
    }
  }

  private async settle(jobId: string, lease: Lease, message: QueueMessage, outcome: RunOutcome): Promise<void> {
    const { logger, queue, snapshots } = this.deps;
    switch (outcome.kind) {
      case 'finished':
        logger.info({ jobId, status: outcome.status }, 'job finished');
        await queue.delete(message.receiptHandle);
        await snapshots.release(lease);
        return;
      case 'fenced':
        // Another worker owns the job and its own message; leave ours as it is.
        return;
      case 'handed-over':
        await snapshots.release(lease);
        // A fresh message (receive count 1) so interruptions never push a healthy job to the DLQ.
        await queue.send(JSON.stringify({ jobId } satisfies JobMessage), undefined, message.traceHeader);
        await queue.delete(message.receiptHandle);
        logger.info({ jobId }, 'job handed over');
        return;
      case 'failed':
        logger.error({ jobId, err: outcome.error }, 'job run failed; it will be retried');
        await snapshots.release(lease).catch(() => {});
        await queue.changeVisibility(message.receiptHandle, backoffSeconds(message.receiveCount)).catch(() => {});
        return;
    }
  }

  /** A snapshot this code cannot continue: fail the job loudly instead of guessing. */
  private async failIncompatible(job: JobItem, lease: Lease, message: QueueMessage, err: Error): Promise<void> {
    this.deps.logger.error({ jobId: job.jobId, err }, 'incompatible snapshot');
    await this.deps.jobs.setStatus(
      job.jobId,
      'failed',
      'done',
      'This job was saved by an incompatible version of the service and cannot continue. Please ask again.',
    );
    await this.deps.snapshots.release(lease);
    await this.deps.queue.delete(message.receiptHandle);
  }

  private inputOf(job: JobItem): AdvisoryInput {
    const { circle } = this.deps;
    return {
      jobId: job.jobId,
      advisors: job.advisors,
      chair: circle.chair.id,
      mode: job.mode,
      // The machine clamps the quorum to the job's advisors.
      quorum: circle.quorum,
      seed: job.jobId,
      policies: circle.policies,
    };
  }
}

/** Seconds before a failed delivery is tried again: 2, 4, 6 … up to 60. */
const backoffSeconds = (receiveCount: number): number => Math.min(60, 2 * receiveCount);
