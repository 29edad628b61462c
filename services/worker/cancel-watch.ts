/**
 * The worker's cancel watch: once a second, one strongly consistent BatchGetItem reads the
 * cancel flags of every job this worker is running, and each flagged run is cancelled.
 *
 * Why polling: a worker is not addressable (Spot tasks come and go), so a push would need
 * a fan-out per worker (SNS → SQS per task, or DynamoDB Streams read by every worker). One
 * batch read per worker per second costs one or two read units per running job per second
 * (State items are a few KB), only while jobs run, and bounds the delay from the API's 202
 * to the abort by one interval plus the read. Strongly consistent because an eventually
 * consistent read has no upper bound on staleness, and the promise is "within 2 s"; what
 * makes a cancel *correct* is not the watch but the conditional final commit (see
 * DynamoSnapshotStore): a flag the watch misses still stops the job from succeeding.
 */
import type { SnapshotStore } from '../shared/ports/snapshot-store.js';
import type { Logger } from '../shared/logging.js';

/** How often the flags are read; with the read itself, well inside the 2 s a cancel may take. */
export const CANCEL_CHECK_MS = 1000;

export interface Cancellable {
  cancel(reason: string): void;
}

export class CancelWatch {
  private timer?: NodeJS.Timeout;
  private reading = false;

  constructor(
    private readonly snapshots: Pick<SnapshotStore, 'cancelRequests'>,
    /** The jobs this worker runs now, by job id. */
    private readonly running: () => ReadonlyMap<string, { run: Cancellable }>,
    private readonly logger: Logger,
    private readonly intervalMs = CANCEL_CHECK_MS,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: reads the flags of the running jobs and cancels the flagged ones. */
  async check(): Promise<void> {
    const runs = this.running();
    // A slow read is not stacked up behind itself; the next round reads again.
    if (this.reading || runs.size === 0) return;
    this.reading = true;
    try {
      const requested = await this.snapshots.cancelRequests([...runs.keys()]);
      for (const [jobId, reason] of requested) this.running().get(jobId)?.run.cancel(reason);
    } catch (err) {
      this.logger.warn({ err }, 'reading cancel flags failed; trying again');
    } finally {
      this.reading = false;
    }
  }
}
