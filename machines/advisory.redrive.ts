/**
 * Redrive, as Step Functions does it: a failed job runs again from the stage it failed in.
 * Every step that succeeded is kept with its stored result and never called again; the
 * steps of that stage that did not succeed, and every step after it, run again, their
 * attempt numbers going on (so each attempt still has a Results key of its own) with a
 * fresh retry budget. Stages the job had finished stay as they were, a caught failure
 * included. Pure: the worker starts the machine with `redriveInputOf(...)`.
 */
import { kindOfStepId, type AdvisoryContext, type AdvisoryInput, type StepKind, type StepRecord } from './advisory.types.js';

const ORDER: Record<StepKind, number> = { advise: 0, review: 1, synthesize: 2 };

/** The kind of step of the stage a failed job had reached (the stage the redrive goes on from). */
export function stageToRedrive(failed: AdvisoryContext): StepKind {
  const chair = failed.steps.synthesize;
  if (chair && (chair.status !== 'pending' || chair.attempt > 0)) return 'synthesize';
  // Entering the reviews decides every review (running or skipped): one that moved means they began.
  const reviewsBegan = failed.mode === 'full' && failed.advisors.some((id) => (failed.steps[`review.${id}`]?.status ?? 'pending') !== 'pending');
  return reviewsBegan ? 'review' : 'advise';
}

/** The context a redrive starts from: what succeeded kept, what failed (or never ran) pending again. */
export function redrivenContext(failed: AdvisoryContext): AdvisoryContext {
  const from = ORDER[stageToRedrive(failed)];
  const steps: Record<string, StepRecord> = {};
  for (const [stepId, record] of Object.entries(failed.steps)) {
    const kind = kindOfStepId(stepId);
    const neverRuns = kind === 'review' && failed.mode === 'quick';
    steps[stepId] = ORDER[kind] >= from && record.status !== 'succeeded' && !neverRuns ? pendingAgain(record) : record;
  }
  const { failure: _failure, cancellation: _cancellation, aggregate, confidence: _confidence, ...kept } = failed;
  // The aggregate is recomputed when the reviews end; only a redrive of the chair's step keeps it.
  return { ...kept, steps, ...(from === ORDER.synthesize && aggregate ? { aggregate } : {}) };
}

/**
 * The input that redrives a restored snapshot (restoreAdvisorySnapshot's answer), or undefined when the snapshot is not of a
 * failed job (a job failed by the poison path, with its machine still working, simply resumes).
 */
export function redriveInputOf({ snapshot, input }: { snapshot: unknown; input: AdvisoryInput }): AdvisoryInput | undefined {
  const { status, value, context } = snapshot as unknown as { status: string; value: unknown; context: AdvisoryContext };
  if (status !== 'done' || value !== 'failed') return undefined;
  return { ...input, redriveOf: context };
}

/** Pending again: the attempt count goes on, the money spent stays counted, the rest starts afresh. */
function pendingAgain(record: StepRecord): StepRecord {
  return {
    status: 'pending',
    attempt: record.attempt,
    retries: [],
    ...(record.usage ? { usage: record.usage } : {}),
    ...(record.costUsd !== undefined ? { costUsd: record.costUsd } : {}),
  };
}
