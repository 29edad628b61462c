/** The stand-in's record of every model call, for tests and benchmarks to count and attribute. */
import type { CallLogEntry, CallOutcome } from './standin.types.js';

/** Oldest entries are dropped beyond this, so a long benchmark cannot exhaust memory. */
const MAX_ENTRIES = 50_000;

export type CallFilter = Partial<Record<'modelId' | 'jobId' | 'step' | 'kind' | 'outcome', string>>;

export class CallLog {
  private entries: CallLogEntry[] = [];
  private seq = 0;

  /** Records a call on arrival (`at`, by default now) with outcome `pending`. */
  start(call: Omit<CallLogEntry, 'seq' | 'at' | 'outcome' | 'outputTokens'>, at = Date.now()): CallLogEntry {
    const entry: CallLogEntry = { ...call, seq: ++this.seq, at, outcome: 'pending', outputTokens: 0 };
    this.entries.push(entry);
    if (this.entries.length > MAX_ENTRIES) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
    return entry;
  }

  finish(entry: CallLogEntry, outcome: Exclude<CallOutcome, 'pending'>, outputTokens: number, error?: string): void {
    entry.outcome = outcome;
    entry.endedAt = Date.now();
    entry.outputTokens = outputTokens;
    if (error) entry.error = error;
  }

  list(filter: CallFilter = {}): CallLogEntry[] {
    return this.entries
      .filter(
        (e) =>
          (filter.modelId === undefined || e.modelId === filter.modelId) &&
          (filter.jobId === undefined || e.requestMetadata.jobId === filter.jobId) &&
          (filter.step === undefined || e.requestMetadata.step === filter.step) &&
          (filter.kind === undefined || e.kind === filter.kind) &&
          (filter.outcome === undefined || e.outcome === filter.outcome),
      )
      .map((e) => ({ ...e, requestMetadata: { ...e.requestMetadata } }));
  }

  reset(): void {
    this.entries = [];
    this.seq = 0;
  }
}
