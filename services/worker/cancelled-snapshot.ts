/**
 * The snapshot a job ends with when a cancel won the race against its final commit: the
 * last committed snapshot, cancelled by the machine itself in a pure transition (nothing is
 * started or stopped), charged with what the steps finished since then really spent.
 */
import { transition, type AnyStateMachine } from 'xstate';
import type { AdvisoryContext, Spent, StepId } from '../../machines/advisory.types.js';
import { isUnfinishedStep } from '../shared/contracts/job.js';

/**
 * `committed` is the persisted snapshot of the last commit, `reached` the context the run
 * had reached (its commit refused), `spent` what calls stopped by the cancel consumed.
 * Returns the persisted snapshot of the cancelled job.
 */
export function cancelledSnapshot(
  machine: AnyStateMachine,
  committed: string,
  reached: AdvisoryContext,
  reason: string,
  spent: Record<StepId, Spent>,
): unknown {
  const { value, context } = JSON.parse(committed) as { value: unknown; context: AdvisoryContext };
  const charged: Record<StepId, Spent> = { ...spent };
  for (const [stepId, before] of Object.entries(context.steps)) {
    const after = reached.steps[stepId];
    if (isUnfinishedStep(before.status) && after?.usage && after.costUsd !== undefined) {
      charged[stepId] ??= { usage: after.usage, costUsd: after.costUsd };
    }
  }
  const resolved = machine.resolveState({ value: value as never, context: context as never });
  const [cancelled] = transition(machine, resolved, { type: 'job.cancel', reason, spent: charged });
  return machine.getPersistedSnapshot(cancelled);
}
