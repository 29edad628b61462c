import type { JobItem, JobStage, JobStatus } from '../contracts/job.js';

export interface JobPage {
  items: JobItem[];
  /** Opaque cursor for the next page, absent on the last one. */
  cursor?: string;
}

/** The Jobs table. */
export interface JobStore {
  /** Creates the job and its State item together (fails if the id exists). */
  create(job: JobItem): Promise<void>;
  get(jobId: string): Promise<JobItem | undefined>;
  /** The owner's jobs, newest first. */
  listByOwner(owner: string, limit: number, cursor?: string): Promise<JobPage>;
  /** The turns of a conversation, newest first. */
  listConversation(conversationId: string, limit: number): Promise<JobItem[]>;
  /** Updates the status summary; never moves a terminal job. */
  setStatus(jobId: string, status: JobStatus, stage: JobStage, reason?: string): Promise<void>;
}
