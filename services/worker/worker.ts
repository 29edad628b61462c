/**
 * The worker: long-polls the job queue, leases each job in the State table and runs it as
 * a JobRun; watches its jobs' cancel flags; fails poison jobs; hands jobs over on SIGTERM.
 *
 * The SQS message is only a wake-up pointer. It is deleted when the job is terminal, left
 * alone when another worker fenced us off, and replaced by a fresh one on hand-over.
 * Its visibility follows the lease (received for, and extended by each heartbeat to,
 * COT_VISIBILITY_SECONDS), so a job whose worker died resumes when both lapse, in seconds.
 *
 * Poison is decided by runs counted in the State item (`stalledRuns`), never by the SQS
 * receive count: a delivery to a poll whose worker stopped or died raises that count too.
 * The queue's redrive is only a backstop; the DLQ sweep puts back what it sends there for
 * a job that is not poison.
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
import { JobRun, firstCommitOf, type RunOutcome } from './job-run.js';
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
  /** Receives hide a message this long; a leased job's run extends it to visibilitySeconds. */
  receiveVisibilitySeconds: number;
  pollWaitSeconds: number;
  shutdownGraceMs: number;
  maxStalledRuns: number;
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

/**
 * A job this worker runs, with the SQS delivery its run holds: the message is replaced when
 * SQS delivers the same message again (its newest receipt handle is the one SQS honours).
 */
interface Running {
  run: JobRun;
  message: QueueMessage;
}

export class Worker {
  /** By job id. */
  private readonly running = new Map<string, Running>();
  /** Set on shutdown: no receive starts after it (the one open is drained, not abandoned). */
  private stopping = false;
  /** Aborted on shutdown: wakes the poll loop's waits and stops the DLQ sweep. */
  private readonly polling = new AbortController();
  private readonly tasks = new Set<Promise<unknown>>();
  private loop?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  private slotFreed: () => void = () => {};
  /** Slots taken: a message holds one from its receipt until it is settled, run or not. */
  private reserved = 0;
  private readonly cancels: CancelWatch;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly settings: WorkerSettings,
  ) {
    this.cancels = new CancelWatch(deps.snapshots, () => this.running, deps.logger);
  }

  /** Starts polling, the cancel watch (and the DLQ sweep). */
  start(): void {
    this.loop = this.pollLoop();
    this.cancels.start();
    if (this.deps.deadLetters) {
      const sweeper = new DeadLetterSweeper({ ...this.deps, deadLetters: this.deps.deadLetters }, this.settings.maxStalledRuns);
      this.sweeper = setInterval(() => this.track(sweeper.sweep(this.polling.signal)), this.settings.dlqSweepMs);
    }
  }

  /** Jobs this worker is running now. */
  activeJobs(): string[] {
    return [...this.running.keys()];
  }

  /**
   * SIGTERM: start no receive, let in-flight steps finish and commit within the grace
   * period, abort the rest, release the leases and hand the jobs over with fresh messages.
   *
   * The poll already open is not aborted: SQS (and fauxqs) may still hand a message to a
   * poll whose client gave up, hiding it for the visibility timeout — a job's own hand-over
   * message among them. It stays open while the jobs are handed over, whatever it receives
   * goes straight back (visibility 0), and the worker ends only once it has returned.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.polling.abort();
    clearInterval(this.sweeper);
    this.slotFreed();
    const grace = this.settings.shutdownGraceMs;
    // The cancel watch keeps running meanwhile: a job cancelled during the hand-over ends cancelled.
    await Promise.all([this.loop, ...[...this.running.values()].map(({ run }) => run.handOver(grace))]);
    await Promise.allSettled([...this.tasks]);
    this.cancels.stop();
  }

  private async pollLoop(): Promise<void> {
    while (!this.stopping) {
      const free = this.settings.concurrency - this.reserved;
      if (free <= 0) {
        await new Promise<void>((r) => (this.slotFreed = r));
        continue;
      }
      let messages: QueueMessage[];
      try {
        // No abort signal: see shutdown().
        messages = await this.deps.queue.receive(free, this.settings.pollWaitSeconds, this.settings.receiveVisibilitySeconds);
      } catch (err) {
        this.deps.logger.warn({ err }, 'receive failed; retrying');
        await sleep(1000, this.polling.signal);
        continue;
      }
      for (const message of messages) {
        if (this.stopping) {
          this.track(this.giveBack(message));
          continue;
        }
        // The slot is taken now, not once the job is leased: reads and the lease take time,
        // and the next receive must not count this message's slot as free meanwhile.
        this.reserved++;
        // Each message in its own log scope: the run it starts adds the job id and trace id to its lines.
        this.track(withLogContext({}, () => this.handle(message)).finally(() => this.freeSlot()));
      }
    }
  }

  /** A message received while stopping: visible again at once, for a worker that stays. */
  private async giveBack(message: QueueMessage): Promise<void> {
    const jobId = parseMessage(message.body)?.jobId;
    try {
      // False: its receive visibility lapsed while this worker stopped and it was received again.
      const given = await this.deps.queue.changeVisibility(message.receiptHandle, 0);
      this.deps.logger.info({ jobId, messageId: message.messageId }, given ? 'message received while stopping given back' : 'message received while stopping was received again meanwhile');
    } catch (err) {
      this.deps.logger.warn({ jobId, messageId: message.messageId, err }, 'could not give back a message received while stopping; it is visible again once its receive visibility lapses');
    }
  }

  private freeSlot(): void {
    this.reserved--;
    this.slotFreed();
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
      logger.error({ messageId: message.messageId, receiveCount: message.receiveCount }, 'unparseable job message');
      await this.deadLetter(message);
      return;
    }
    const { jobId } = parsed;
    const running = this.running.get(jobId);
    if (running) {
      await this.redelivered(jobId, running, message);
      return;
    }
    const job = await this.deps.jobs.get(jobId);
    if (!job) {
      logger.warn({ jobId }, 'message for a job that does not exist; dropping it');
      await queue.delete(message.receiptHandle);
      return;
    }
    if (isTerminal(job.status)) {
      // Its worker may have died between the last commit and its push: clients still wait for job.done.
      await this.pushLastCommit(jobId);
      await this.delivered(jobId);
      await queue.delete(message.receiptHandle);
      return;
    }
    const now = this.deps.clock.now();
    // A job nobody has started is leased and its first transition committed in one write.
    const first = firstCommitOf(job, () => this.inputOf(job), now);
    const acquired = await this.deps.snapshots.acquire(jobId, this.deps.workerId, this.settings.leaseMs, now, first);
    if (acquired.kind === 'missing') {
      logger.warn({ jobId }, 'job has no state item; dropping the message');
      await queue.delete(message.receiptHandle);
      return;
    }
    if (acquired.kind === 'held') {
      // Not mine now. Come back when that lease would have lapsed, in case its holder died.
      // (False: received again meanwhile, by whoever holds it now: theirs to hide.)
      const wait = Math.ceil(Math.max(0, acquired.expiresAt - now) / 1000) + 1;
      await queue.changeVisibility(message.receiptHandle, Math.min(wait, this.settings.visibilitySeconds));
      return;
    }
    // Taken over: the previous run may have died between a commit and its push.
    if (!acquired.lease.first) this.track(this.pushLastCommit(jobId, acquired.lease.state.version));
    const stalled = acquired.lease.state.stalledRuns ?? 1;
    if (stalled > this.settings.maxStalledRuns) {
      await this.failPoison(job, acquired.lease, message, stalled - 1);
      return;
    }
    await this.run(job, acquired.lease, message);
  }

  /**
   * A message for a job this worker is running. Never deleted here: the job's only message
   * may be this one, and a job without a message is never resumed if this worker dies.
   * - The run's own message, delivered again (its visibility lapsed: the worker was stalled
   *   longer than the lease, e.g. stopped): the run takes the new receipt handle, the one
   *   SQS honours from now on for extending and deleting, and keeps the message hidden.
   * - Another message for the job (a hand-over's, a re-enqueue): hidden for a visibility
   *   period, like the message of a job another worker holds; once the job has ended, the
   *   next delivery finds it terminal and deletes it.
   */
  private async redelivered(jobId: string, running: Running, message: QueueMessage): Promise<void> {
    const { logger, queue } = this.deps;
    if (running.message.messageId === message.messageId) {
      running.message = message;
      logger.warn({ jobId, receiveCount: message.receiveCount }, 'the message of a running job was delivered again; its run keeps it');
    }
    await queue.changeVisibility(message.receiptHandle, this.settings.visibilitySeconds);
  }

  /**
   * Pushes the job's last committed transition (and job.done, if it ended) to its subscribers
   * again. A worker that died after a commit and before pushing it left them a gap they only
   * notice at the next transition, and after a job's last commit there is none. Clients drop
   * a transition they already hold (docs/websocket.md), so pushing it twice is harmless. Best
   * effort: a failed read only loses this push, never the job's message.
   */
  private async pushLastCommit(jobId: string, knownVersion?: number): Promise<void> {
    try {
      const version = knownVersion ?? (await this.deps.snapshots.get(jobId))?.version;
      if (!version) return;
      const [last] = await this.deps.snapshots.transitionsAfter(jobId, version - 1, 1);
      if (last) this.deps.events.transition(last);
    } catch (err) {
      this.deps.logger.warn({ jobId, err }, 'could not push the last committed transition again');
    }
  }

  /**
   * Waits until the job's pushes so far have been handed to the gateway, for at most
   * `DELIVERY_WAIT_MS`: a gateway that hangs delays a finished job's message delete, never
   * holds the worker's slot for long.
   */
  private async delivered(jobId: string): Promise<void> {
    const done = new AbortController();
    const result = await Promise.race([
      this.deps.events.delivered(jobId).then(() => 'delivered' as const),
      sleep(DELIVERY_WAIT_MS, done.signal).then(() => 'timeout' as const),
    ]);
    done.abort();
    if (result === 'timeout') this.deps.logger.warn({ jobId, ms: DELIVERY_WAIT_MS }, 'the job\'s last push is still in flight; deleting its message anyway');
  }

  /**
   * Moves a message to the dead-letter queue on purpose (its alarm tells an operator); with
   * no DLQ configured, makes it visible again for the queue's redrive to do so.
   */
  private async deadLetter(message: QueueMessage): Promise<void> {
    const dlq = this.deps.deadLetters;
    if (!dlq) {
      await this.deps.queue.changeVisibility(message.receiptHandle, 0);
      return;
    }
    await dlq.send(message.body, undefined, message.traceHeader);
    await this.deps.queue.delete(message.receiptHandle);
  }

  /** Runs in a row ended without progress: the job is poison; fail it with a reason a person can read. */
  private async failPoison(job: JobItem, lease: Lease, message: QueueMessage, stalledRuns: number): Promise<void> {
    const reason = `This job could not be processed: ${stalledRuns} runs in a row stopped or failed before making progress, so it was set aside in the dead-letter queue.`;
    await this.deps.jobs.setStatus(job.jobId, 'failed', 'done', reason);
    await this.deps.snapshots.release(lease);
    await this.deadLetter(message);
    this.deps.logger.error({ jobId: job.jobId, stalledRuns }, 'poison job marked failed');
    this.deps.telemetry.deadLettered(job.jobId);
  }

  private async run(job: JobItem, lease: Lease, message: QueueMessage): Promise<void> {
    const { logger, queue } = this.deps;
    const checked = jobSchema.safeParse(job);
    if (!checked.success) {
      // Corrupt job data: treated like a crash, so repeated deliveries end in the DLQ.
      logger.error({ jobId: job.jobId, issues: checked.error.issues.length }, 'job item is not valid');
      await this.deps.snapshots.release(lease);
      await queue.changeVisibility(message.receiptHandle, backoffSeconds(lease));
      return;
    }
    // The run extends, and its end settles, the newest delivery of its message (see redelivered).
    let entry: Running | undefined;
    const extendMessage = () => queue.changeVisibility((entry?.message ?? message).receiptHandle, this.settings.visibilitySeconds);
    const run = new JobRun(
      {
        ...this.deps,
        leaseMs: this.settings.leaseMs,
        heartbeatMs: this.settings.heartbeatMs,
        extendMessage,
        loadHistory: (j) => loadHistory(this.deps, j),
        message,
      },
      job,
      lease,
      this.inputOf(job),
    );
    entry = { run, message };
    this.running.set(job.jobId, entry);
    try {
      try {
        run.start();
      } catch (err) {
        if (err instanceof IncompatibleSnapshotError) {
          await this.failIncompatible(job, lease, entry.message, err);
          return;
        }
        // Counted as a stalled run, like any failure before progress.
        await this.settle(job.jobId, lease, () => entry.message, { kind: 'failed', error: err });
        return;
      }
      logger.info({ jobId: job.jobId, epoch: lease.epoch, version: lease.state.version, receiveCount: message.receiveCount }, 'job leased');
      // Hidden for the lease now (it was received for two heartbeats only); the heartbeats keep it so.
      // A failure is for the first heartbeat to make good; a message the run already deleted has nothing to extend.
      extendMessage().catch((err: unknown) => logger.debug({ jobId: job.jobId, err }, 'could not extend the message at the lease'));
      const outcome = await run.outcome;
      await this.settle(job.jobId, lease, () => entry.message, outcome);
    } finally {
      this.running.delete(job.jobId);
    }
  }

  /** `newest` gives the newest delivery of the run's message: it can arrive while the run settles. */
  private async settle(jobId: string, lease: Lease, newest: () => QueueMessage, outcome: RunOutcome): Promise<void> {
    const { logger, queue, snapshots } = this.deps;
    const message = newest();
    switch (outcome.kind) {
      case 'finished':
        logger.info({ jobId, status: outcome.status }, 'job finished');
        // The message goes only once job.done has left: if this worker dies first, the next one pushes it again.
        await this.delivered(jobId);
        await queue.delete(newest().receiptHandle);
        await snapshots.release(lease);
        return;
      case 'fenced':
        // Another worker owns the job and its own message; leave ours as it is.
        return;
      case 'handed-over':
        await snapshots.release(lease, { handedOver: true });
        // A fresh message (receive count 1) so interruptions never push a healthy job to the DLQ.
        await queue.send(JSON.stringify({ jobId } satisfies JobMessage), undefined, message.traceHeader);
        await queue.delete(message.receiptHandle);
        logger.info({ jobId }, 'job handed over');
        return;
      case 'failed':
        logger.error({ jobId, err: outcome.error }, 'job run failed; it will be retried');
        await snapshots.release(lease).catch(() => {});
        await queue.changeVisibility(message.receiptHandle, backoffSeconds(lease)).catch(() => {});
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

/**
 * How long a finished job's message waits for its last push. A post takes tens of
 * milliseconds; this covers the throttle back-off (live-push.ts) with room to spare.
 */
const DELIVERY_WAIT_MS = 5_000;

/** Seconds before a failed run is tried again: 2, 4, 6 … up to 60, by the stalled runs counted in DynamoDB. */
const backoffSeconds = (lease: Lease): number => Math.min(60, 2 * (lease.state.stalledRuns ?? 1));
