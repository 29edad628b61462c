/**
 * The Results table as one job run sees it. A step's output is kept here until the next
 * commit, which writes it in its own transaction (`CommitRequest.results`): the snapshot
 * that refers to an output and the output are stored together, so a committed snapshot
 * never refers to an output that is not stored (save, then act), and an output costs no
 * write and no round trip of its own. That commit starts at once unless another is in
 * flight; then the output is stored on its own right away instead (write-once, beside that
 * commit), so a paid answer never waits unsaved longer than one write — a crash in that wait
 * loses it, and the chaos run showed answers of the advisors who finish a moment after the
 * first lost that way when they waited for two commits.
 *
 * An output no commit took (the run was fenced off, failed, or handed over between answer
 * and commit) is stored on its own, write-once, when the run stops: the chaos run found the
 * cost of losing it — the run that takes over would ask the model again. Outputs this run
 * produced or read are kept, so the next stage's prompts are built without reading them back.
 */
import type { ResultItem } from '../shared/contracts/job.js';
import type { ResultStore } from '../shared/ports/result-store.js';

export class RunResults implements ResultStore {
  private readonly held = new Map<string, ResultItem>();
  /** Held outputs no commit has written yet, by step key. */
  private readonly uncommitted = new Map<string, ResultItem>();

  constructor(
    private readonly stored: ResultStore,
    /** True while a commit of this run is in flight (or the run has stopped): outputs are then stored at once. */
    private readonly storeNow: () => boolean,
  ) {}

  /**
   * Keeps the output for the next commit, or stores it now if a commit is in flight or the
   * run has stopped (no commit will come); false if an output of that attempt is held or
   * stored already. Another worker's output of the same attempt is written over by the next
   * commit only if its fencing lets it land: then this run's is the job's.
   */
  async putOnce(item: ResultItem): Promise<boolean> {
    if (this.held.has(item.stepKey)) return false;
    if (this.storeNow()) {
      if (!(await this.stored.putOnce(item))) return false;
    } else {
      this.uncommitted.set(item.stepKey, item);
    }
    this.held.set(item.stepKey, item);
    return true;
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
