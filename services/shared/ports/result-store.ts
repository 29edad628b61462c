import type { ResultItem } from '../contracts/job.js';

/** The Results table: write-once step outputs. */
export interface ResultStore {
  /** Writes once; returns false (and writes nothing) when the key already exists. */
  putOnce(item: ResultItem): Promise<boolean>;
  get(jobId: string, stepKey: string): Promise<ResultItem | undefined>;
  /** Several by key, in the order asked; missing ones are undefined. */
  getMany(jobId: string, stepKeys: string[]): Promise<(ResultItem | undefined)[]>;
}
