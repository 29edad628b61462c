/**
 * The Results table as one job run sees it. A step's output is kept here until the next
 * commit, which writes it in its own transaction (`CommitRequest.results`): the snapshot
 * that refers to an output and the output are stored together, so a committed snapshot
 * never refers to an output that is not stored (save, then act), and an output costs no
 * write and no round trip of its own.
 *
 * An output that comes while another commit of the job is in flight is stored on its own
 * right away instead (write-once, beside that commit), so a paid answer never waits unsaved
 * longer than one write — a crash in that wait loses it, and the chaos run showed answers of
 * the advisors who finish a moment after the first lost that way when they waited for two
 * commits. The step does not wait for that write: the machine moves on, and the next commit
 * (the one whose snapshot refers to the output) waits for it instead (`written`), so the
 * write overlaps the commit in flight rather than adding to the stage's path.
 *
 * An output no commit took (the run was fenced off, failed, or handed over between answer
 * and commit) is stored on its own, write-once, when the run stops: the chaos run found the
 * cost of losing it — the run that takes over would ask the model again. Outputs this run
 * produced or read are kept, so the next stage's prompts are built without reading them back.
 */
import type { ResultItem } from '../shared/contracts/job.js';
import type { ResultStore } from '../shared/ports/result-store.js';
import { FencedError } from '../shared/errors.js';

/**
 * Where an output goes when its step ends: kept for the next commit (`hold`), written now
 * beside the commit in flight, the next commit waiting for it (`beside`), or written now and
 * waited for, the run having stopped (`now`).
 */
export type OutputWrite = 'hold' | 'beside' | 'now';

export class RunResults implements ResultStore {
  private readonly held = new Map<string, ResultItem>();
  /** Held outputs no commit has written yet, by step key. */
  private readonly uncommitted = new Map<string, ResultItem>();
  /** Writes started beside a commit that no commit has waited for yet, by step key. */
  private readonly writing = new Map<string, { item: ResultItem; write: Promise<boolean> }>();

  constructor(
    private readonly stored: ResultStore,
    /** How an output that comes now is written (see OutputWrite). */
    private readonly writeMode: () => OutputWrite,
  ) {}

  /**
   * Keeps the output for the next commit, or stores it now if a commit is in flight or the
   * run has stopped (no commit will come); false if an output of that attempt is held or
   * stored already. Another worker's output of the same attempt is written over by the next
   * commit only if its fencing lets it land: then this run's is the job's.
   */
  async putOnce(item: ResultItem): Promise<boolean> {
    if (this.held.has(item.stepKey)) return false;
    const mode = this.writeMode();
    if (mode === 'now') {
      if (!(await this.stored.putOnce(item))) return false;
    } else if (mode === 'beside') {
      const write = this.stored.putOnce(item);
      // Settled by `written`; never an unhandled rejection meanwhile.
      write.catch(() => {});
      this.writing.set(item.stepKey, { item, write });
    } else {
      this.uncommitted.set(item.stepKey, item);
    }
    this.held.set(item.stepKey, item);
    return true;
  }

  /**
   * Resolves once every output written beside a commit is stored; the next commit, whose
   * snapshot may refer to them, waits for this before it is sent. Rejects if one could not
   * be written: with FencedError if another run had stored an output of the same attempt
   * (only a run that took the job over runs the same attempt), else with the write's error;
   * an output that failed to be written is held for the commit after, or for the run's end.
   */
  async written(): Promise<void> {
    if (this.writing.size === 0) return;
    const writes = [...this.writing.values()];
    this.writing.clear();
    const settled = await Promise.allSettled(writes.map((w) => w.write));
    let failure: Error | undefined;
    settled.forEach((outcome, i) => {
      const { item } = writes[i]!;
      if (outcome.status === 'rejected') {
        this.uncommitted.set(item.stepKey, item);
        failure ??= outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason));
      } else if (!outcome.value) {
        failure ??= new FencedError(item.jobId, `another run stored an output of ${item.stepKey} first`);
      }
    });
    if (failure !== undefined) throw failure;
  }

  /** The outputs the next commit must write; give them back with `notCommitted` if it fails. */
  takeUncommitted(): ResultItem[] {
    const items = [...this.uncommitted.values()];
    this.uncommitted.clear();
    return items;
  }

  notCommitted(items: ResultItem[]): void {
    for (const item of items) if (!this.uncommitted.has(item.stepKey)) this.uncommitted.set(item.stepKey, item);
  }

  /** Stores, write-once, every output no commit took, for the run that takes the job over. */
  async storeUncommitted(): Promise<void> {
    // Writes begun beside a commit land first; one that failed is held again and tried here.
    await this.written().catch(() => {});
    for (const item of this.takeUncommitted()) await this.stored.putOnce(item);
  }

  async get(jobId: string, stepKey: string): Promise<ResultItem | undefined> {
    const held = this.held.get(stepKey);
    if (held) return held;
    const item = await this.stored.get(jobId, stepKey);
    if (item) this.held.set(stepKey, item);
    return item;
  }

  async getMany(jobId: string, stepKeys: string[]): Promise<(ResultItem | undefined)[]> {
    const missing = [...new Set(stepKeys.filter((k) => !this.held.has(k)))];
    if (missing.length) {
      const found = await this.stored.getMany(jobId, missing);
      for (const item of found) if (item) this.held.set(item.stepKey, item);
    }
    return stepKeys.map((k) => this.held.get(k));
  }
}
