/** What a job run tells the outside while it runs: each committed transition and streamed text (live push listens). */
import type { TransitionRecord } from '../shared/contracts/job.js';

export interface JobEvents {
  transition(record: TransitionRecord): void;
  delta(jobId: string, stepId: string, attempt: number, text: string): void;
  /**
   * Resolves once what the job's transitions so far produced has been handed to its
   * subscribers' connections (posted, found gone, or given up on); never rejects. The worker
   * keeps a finished job's message until then, so a worker that dies with its last push in
   * flight leaves the message to the next worker, which pushes the last transition again.
   */
  delivered(jobId: string): Promise<void>;
}

export const NO_EVENTS: JobEvents = { transition: () => {}, delta: () => {}, delivered: async () => {} };
