/**
 * The record of one worker run (the Runs table item), kept in memory and written off the
 * job's path: nothing waits for a write, writes never overlap (a change made during one is
 * written by the next), and a failed write is logged and left for the next. Written when the
 * run starts (so a run that dies still shows its lease), when the lease is lost, once the run
 * has ended and its last pushes are in, and in between at most every MODEL_CALLS_WRITE_MS
 * with the model calls made since: a killed run's timeline misses at most that much, and a
 * job costs two or three writes of its record instead of one per call.
 */
import type { CommitRecord, ModelCallRecord, PushRecord, RunOutcomeKind, RunRecord } from '../../shared/contracts/timeline.js';
import type { RunRecordStore } from '../../shared/ports/run-record-store.js';
import type { Logger } from '../../shared/logging.js';

/** Events kept per run; the item stays far below DynamoDB's 400 KB (an event is < 300 bytes). */
export const MAX_RUN_EVENTS = 1000;
/** After the run ends, pushes still in flight get this long to land in the record. */
export const END_WRITE_DELAY_MS = 250;
/** Model calls wait this long for the write that records them (others made meanwhile join it). */
export const MODEL_CALLS_WRITE_MS = 2000;

export class RunRecorder {
  private readonly record: RunRecord;
  private writing?: Promise<void>;
  private dirty = false;
  private endTimer?: NodeJS.Timeout;
  private callsTimer?: NodeJS.Timeout;

  constructor(
    initial: Omit<RunRecord, 'modelCalls' | 'commits' | 'pushes'>,
    private readonly store: RunRecordStore,
    private readonly logger: Logger,
  ) {
    this.record = { ...initial, modelCalls: [], commits: [], pushes: [] };
    this.write();
  }

  /** A copy of the record as it is now. */
  snapshot(): RunRecord {
    return structuredClone(this.record);
  }

  modelCall(call: ModelCallRecord): void {
    if (!this.add(this.record.modelCalls, call) || this.callsTimer || this.record.outcome) return;
    this.callsTimer = setTimeout(() => {
      this.callsTimer = undefined;
      this.write();
    }, MODEL_CALLS_WRITE_MS);
    this.callsTimer.unref();
  }

  commit(commit: CommitRecord): void {
    this.add(this.record.commits, commit);
  }

  /** Adds a delivery of the push of `seq` (one record per seq: connections reached, the slowest). */
  push(seq: number, at: number, ms: number, gone: boolean): void {
    const existing = this.record.pushes.find((p) => p.seq === seq);
    if (existing) {
      existing.ms = Math.max(existing.ms, ms);
      if (gone) existing.gone++;
      else existing.connections++;
      this.touchEnded();
      return;
    }
    const push: PushRecord = { seq, at, ms, connections: gone ? 0 : 1, gone: gone ? 1 : 0 };
    if (this.add(this.record.pushes, push)) this.touchEnded();
  }

  leaseLost(at: number): void {
    this.record.leaseLostAt ??= at;
    this.write();
  }

  end(outcome: RunOutcomeKind, at: number): void {
    if (this.record.outcome) return;
    this.record.outcome = outcome;
    this.record.endedAt = at;
    // The end's write carries the calls too.
    clearTimeout(this.callsTimer);
    this.callsTimer = undefined;
    this.endTimer = setTimeout(() => {
      this.endTimer = undefined;
      this.write();
    }, END_WRITE_DELAY_MS);
    this.endTimer.unref();
  }

  /** Writes now whatever is not written yet, and resolves when the store has it (or gave up). */
  async idle(): Promise<void> {
    if (this.endTimer || this.callsTimer) {
      clearTimeout(this.endTimer);
      clearTimeout(this.callsTimer);
      this.endTimer = this.callsTimer = undefined;
      this.write();
    }
    while (this.writing) await this.writing;
  }

  private add<T>(list: T[], event: T): boolean {
    const events = this.record.modelCalls.length + this.record.commits.length + this.record.pushes.length;
    if (events >= MAX_RUN_EVENTS) {
      this.record.truncated = true;
      return false;
    }
    list.push(event);
    return true;
  }

  /** A push that lands after the run's final write is written too; before it, it just joins it. */
  private touchEnded(): void {
    if (this.record.outcome && !this.endTimer) this.write();
  }

  private write(): void {
    this.dirty = true;
    if (this.writing) return;
    this.writing = this.drain().finally(() => (this.writing = undefined));
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await this.store.put(this.snapshot());
      } catch (err) {
        this.logger.warn({ jobId: this.record.jobId, run: this.record.epoch, err }, 'run record not written; the timeline may miss part of this run');
        return;
      }
    }
  }
}
