/**
 * Turning two consecutive machine snapshots into the transition record that is committed
 * with the second one and pushed to clients. Pure.
 */
import type { AdvisoryContext, Stage, StepRecord } from '../../machines/advisory.types.js';
import type { TransitionChange, TransitionRecord } from '../shared/contracts/job.js';
import { isTerminal, jobStageOf, statusOfStage } from '../shared/contracts/job.js';

// The vocabulary is the contracts'; job-run.ts reads these two from here.
export { jobStageOf, statusOfStage };

export interface SnapshotView {
  context: AdvisoryContext;
  stage: Stage;
}

/** Steps whose record differs between the two contexts, in the order of `next`. */
export function changedSteps(prev: AdvisoryContext | undefined, next: AdvisoryContext): TransitionChange[] {
  const changes: TransitionChange[] = [];
  for (const [stepId, rec] of Object.entries(next.steps)) {
    const before = prev?.steps[stepId];
    if (before && sameStep(before, rec)) continue;
    changes.push({
      stepId,
      status: rec.status,
      attempt: rec.attempt,
      resultRef: rec.resultRef,
      error: rec.error,
      dueAt: rec.dueAt,
      usage: rec.usage,
      costUsd: rec.costUsd,
      ...((rec.repairs ?? 0) > (before?.repairs ?? 0) ? { repair: true as const } : {}),
    });
  }
  return changes;
}

function sameStep(a: StepRecord, b: StepRecord): boolean {
  return a.status === b.status && a.attempt === b.attempt && a.resultRef === b.resultRef && a.dueAt === b.dueAt && (a.repairs ?? 0) === (b.repairs ?? 0);
}

/** Names what happened in domain words: the job's end, else the most telling step change. */
function eventName(prev: SnapshotView | undefined, next: SnapshotView, changes: TransitionChange[]): string {
  const status = statusOfStage(next.stage);
  if (isTerminal(status)) return `job.${status}`;
  // The first commit of a run of the machine: the job's first, or the first after a redrive.
  if (!prev || isTerminal(statusOfStage(prev.stage))) return 'job.started';
  if (prev.stage !== next.stage) return `stage.${next.stage}`;
  const order = ['failed', 'succeeded', 'retrying', 'running', 'skipped', 'pending'] as const;
  for (const s of order) {
    if (changes.some((c) => c.status === s)) return s === 'running' ? 'step.started' : `step.${s}`;
  }
  return 'job.updated';
}

/** The record committed as version `seq`. */
export function describeTransition(
  jobId: string,
  seq: number,
  at: number,
  prev: SnapshotView | undefined,
  next: SnapshotView,
): TransitionRecord {
  const changes = changedSteps(prev?.context, next.context);
  const status = statusOfStage(next.stage);
  const reason = next.context.failure?.reason ?? next.context.cancellation?.reason;
  return {
    jobId,
    seq,
    at,
    event: eventName(prev, next, changes),
    status,
    stage: jobStageOf(next.stage),
    changes,
    ...(isTerminal(status) && reason ? { reason } : {}),
  };
}
