/**
 * The dead-letter queue holds poison jobs (failed by the worker, on purpose) and unparseable
 * messages; they stay for operators (and its alarm), hidden for a while once seen. Anything
 * else got there through the queue's redrive backstop, which counts deliveries no worker saw:
 * a dead letter of a finished job is removed, and one of an unfinished job goes back to the
 * job queue, where the next run counts towards poison in DynamoDB if it stalls.
 */
import { isTerminal, type JobItem, type JobMessage } from '../shared/contracts/job.js';
import type { JobQueue } from '../shared/ports/job-queue.js';
import type { JobStore } from '../shared/ports/job-store.js';
import type { SnapshotStore } from '../shared/ports/snapshot-store.js';
import type { Logger } from '../shared/logging.js';
import { parseMessage } from './job-message.js';

export interface DeadLetterSweeperDeps {
  deadLetters: JobQueue;
  /** The job queue, where a dead letter of an unfinished job goes back. */
  queue: JobQueue;
  jobs: JobStore;
  snapshots: Pick<SnapshotStore, 'get'>;
  logger: Logger;
}

/** How long a kept DLQ message stays hidden before a sweep sees it again. */
const HANDLED_HIDE_SECONDS = 900;

export class DeadLetterSweeper {
  constructor(
    private readonly deps: DeadLetterSweeperDeps,
    /** Runs in a row without progress after which the worker fails a job as poison. */
    private readonly maxStalledRuns: number,
  ) {}

  /** One sweep: up to ten DLQ messages. */
  async sweep(signal: AbortSignal): Promise<void> {
    const { deadLetters: dlq, queue, jobs, logger } = this.deps;
    if (signal.aborted) return;
    const messages = await dlq.receive(10, 0, HANDLED_HIDE_SECONDS, signal);
    for (const message of messages) {
      const jobId = parseMessage(message.body)?.jobId;
      const job = jobId ? await jobs.get(jobId) : undefined;
      if (!jobId) {
        logger.error({ messageId: message.messageId }, 'unparseable message in the dead-letter queue');
      } else if (job && !isTerminal(job.status)) {
        await queue.send(JSON.stringify({ jobId } satisfies JobMessage), undefined, message.traceHeader);
        await dlq.delete(message.receiptHandle);
        logger.warn({ jobId, receiveCount: message.receiveCount }, 'dead letter of an unfinished job returned to the job queue');
        continue;
      } else if (job && !(await this.poisoned(job))) {
        await dlq.delete(message.receiptHandle);
        logger.warn({ jobId, status: job.status }, 'dead letter of a finished job removed');
        continue;
      }
      await dlq.changeVisibility(message.receiptHandle, HANDLED_HIDE_SECONDS);
    }
  }

  /** Whether this finished job was failed as poison (its dead letter is deliberate). */
  private async poisoned(job: JobItem): Promise<boolean> {
    if (job.status !== 'failed') return false;
    return ((await this.deps.snapshots.get(job.jobId))?.stalledRuns ?? 0) > this.maxStalledRuns;
  }
}
