/**
 * The Results table as one job run sees it. A step's output is stored (a write-once put)
 * before the commit that records it: if this run loses its lease before that commit, the run
 * that takes over finds the answer and does not ask the model again (save, then act). The
 * chaos run found the cost of skipping that put: with the output only inside the commit, a
 * run fenced off between answer and commit lost it and the model was asked twice. Outputs
 * this run produced or read are kept, so the next stage's prompts are built without reading
 * them back.
 */
import type { ResultItem } from '../shared/contracts/job.js';
import type { ResultStore } from '../shared/ports/result-store.js';

export class RunResults implements ResultStore {
  private readonly held = new Map<string, ResultItem>();

  constructor(private readonly stored: ResultStore) {}

  /** Stores the output once (false if it is stored already: this run or a fenced one got there first). */
  async putOnce(item: ResultItem): Promise<boolean> {
    if (this.held.has(item.stepKey)) return false;
    if (!(await this.stored.putOnce(item))) return false;
    this.held.set(item.stepKey, item);
    return true;
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
