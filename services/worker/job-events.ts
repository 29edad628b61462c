/** What a job run tells the outside while it runs: each committed transition and streamed text (live push listens). */
import type { TransitionRecord } from '../shared/contracts/job.js';

export interface JobEvents {
  transition(record: TransitionRecord): void;
  delta(jobId: string, stepId: string, attempt: number, text: string): void;
}

export const NO_EVENTS: JobEvents = { transition: () => {}, delta: () => {} };
