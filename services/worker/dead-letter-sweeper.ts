/**
 * Poison jobs: a message in the dead-letter queue whose job is neither finished nor held by
 * a live lease will never run; the sweeper marks it failed with a reason a person can read.
 * Messages stay in the DLQ for operators (and its alarm); they are only hidden for a while
 * once handled.
 */
import { isTerminal } from '../shared/contracts/job.js';
import type { Clock } from '../shared/ports/clock.js';
import type { JobQueue } from '../shared/ports/job-queue.js';
import type { JobStore } from '../shared/ports/job-store.js';
import type { SnapshotStore } from '../shared/ports/snapshot-store.js';
import type { Logger } from '../shared/logging.js';
import type { WorkerTelemetry } from './telemetry/worker-telemetry.js';
import { parseMessage } from './job-message.js';

export interface DeadLetterSweeperDeps {
  deadLetters: JobQueue;
  jobs: JobStore;
  snapshots: Pick<SnapshotStore, 'get'>;
  clock: Clock;
  logger: Logger;
  telemetry: Pick<WorkerTelemetry, 'deadLettered'>;
}

/** How long a handled DLQ message stays hidden before a sweep sees it again. */
const HANDLED_HIDE_SECONDS = 900;

export class DeadLetterSweeper {
  constructor(
    private readonly deps: DeadLetterSweeperDeps,
    /** The queue's redrive count, for the reason the job is given. */
    private readonly maxReceiveCount: number,
  ) {}

  /** One sweep: up to ten DLQ messages, each job failed if it is poison. */
  async sweep(signal: AbortSignal): Promise<void> {
    const { deadLetters: dlq, jobs, snapshots, clock, logger, telemetry } = this.deps;
    if (signal.aborted) return;
    const messages = await dlq.receive(10, 0, HANDLED_HIDE_SECONDS, signal);
    for (const message of messages) {
      const parsed = parseMessage(message.body);
      if (parsed) {
        const job = await jobs.get(parsed.jobId);
        const state = job && !isTerminal(job.status) ? await snapshots.get(parsed.jobId) : undefined;
        const leaseLive = (state?.leaseExpiresAt ?? 0) > clock.now();
        if (job && !isTerminal(job.status) && !leaseLive) {
          const reason = `This job could not be processed: it was delivered ${this.maxReceiveCount} times without completing and was moved to the dead-letter queue.`;
          await jobs.setStatus(job.jobId, 'failed', 'done', reason);
          logger.error({ jobId: job.jobId }, 'poison job marked failed');
          telemetry.deadLettered(job.jobId);
        }
      } else {
        logger.error({ messageId: message.messageId }, 'unparseable message in the dead-letter queue');
      }
      await dlq.changeVisibility(message.receiptHandle, HANDLED_HIDE_SECONDS);
    }
  }
}
