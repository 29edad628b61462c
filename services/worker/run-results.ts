/**
 * The Results table as one job run sees it. A step's output goes into the run's next commit,
 * in the same transaction as the snapshot that refers to it, so the machine moves on after
 * one round trip. It is also written on its own at once, in the background (a conditional
 * put): if this run loses its lease before that commit, the run that takes over finds the
 * answer stored and does not ask the model again; the commit never waits for it. Outputs
 * this run produced or read are kept, so the next stage's prompts are built without reading
 * them back. An output too long for a commit is stored on its own first.
 */
import type { ResultItem } from '../shared/contracts/job.js';
import type { ResultStore } from '../shared/ports/result-store.js';
import { COMMIT_RESULT_MAX_BYTES } from '../shared/ports/snapshot-store.js';

export class RunResults implements ResultStore {
  private readonly held = new Map<string, ResultItem>();
  private pending: ResultItem[] = [];

  constructor(private readonly stored: ResultStore) {}

  /** Stages the output for the next commit (false if this run already has one for the attempt). */
  async putOnce(item: ResultItem): Promise<boolean> {
    if (this.held.has(item.stepKey)) return false;
    if (Buffer.byteLength(item.text, 'utf8') > COMMIT_RESULT_MAX_BYTES) {
      if (!(await this.stored.putOnce(item))) return false;
    } else {
      this.pending.push(item);
      // Failures are harmless: the commit writes the same item.
      void this.stored.putOnce(item).catch(() => false);
    }
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

  /** Outputs a commit took but did not write (it was refused), for the next commit. */
  putBack(items: ResultItem[]): void {
    this.pending = [...items, ...this.pending];
  }

  /** The outputs staged since the last call, for the commit about to be written. */
  takePending(): ResultItem[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }
}
