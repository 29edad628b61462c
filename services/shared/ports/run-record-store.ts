import type { RunRecord } from '../contracts/timeline.js';

/** The Runs table: what each worker run of a job observed (the timeline's raw material). */
export interface RunRecordStore {
  /** Writes (replaces) the run's record. */
  put(record: RunRecord): Promise<void>;
  /** Every run record of the job, oldest run first. */
  list(jobId: string): Promise<RunRecord[]>;
}
