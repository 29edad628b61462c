/**
 * The job messages of the live protocol, built in one place for both senders: the API's
 * WebSocket routes (a subscriber's catch-up) and the worker's live push.
 */
import type { JobStatus, JobView, TransitionRecord } from '../contracts/job.js';
import type { JobDoneMessage, JobTransitionMessage, JobViewMessage } from '../contracts/ws.js';

/** `job.view`: the whole current view, at its seq. */
export const viewMessage = (view: JobView): JobViewMessage => ({ type: 'job.view', jobId: view.jobId, seq: view.seq, view });

/** `job.transition`: one committed transition. */
export const transitionMessage = (transition: TransitionRecord): JobTransitionMessage => ({
  type: 'job.transition',
  jobId: transition.jobId,
  seq: transition.seq,
  transition,
});

/** `job.done`: the job ended with `status` as of `seq`. */
export const doneMessage = (jobId: string, end: { seq: number; status: JobStatus; reason?: string }): JobDoneMessage => ({
  type: 'job.done',
  jobId,
  seq: end.seq,
  status: end.status,
  reason: end.reason,
});
