import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { createAdvisoryMachine } from '../../machines/advisory.machine.js';
import type { AdvisoryContext, AdvisoryEvent, StepOutput } from '../../machines/advisory.types.js';
import { cancelledSnapshot } from '../../services/worker/cancelled-snapshot.js';
import { SCRIPT_EPOCH, sampleInput } from '../../fixtures/snapshots/scripted-steps.js';

const stepDone = (stepId: string, output: StepOutput) => ({ type: `xstate.done.actor.${stepId}`, output }) as unknown as AdvisoryEvent;
const output = (stepId: string, outputTokens: number): StepOutput => ({
  resultRef: `${stepId}#1`,
  usage: { inputTokens: 100, outputTokens },
  costUsd: outputTokens / 1000,
  finishedAt: SCRIPT_EPOCH,
});

/** A quick job: committed while the chair writes, then finished (the commit a cancel refused). */
function chairRace() {
  const input = sampleInput({ mode: 'quick' });
  const machine = createAdvisoryMachine(input);
  let [s] = initialTransition(machine, input);
  for (const id of ['claude', 'mistral', 'llama']) [s] = transition(machine, s, stepDone(`advise.${id}`, output(`advise.${id}`, 50)));
  const committed = JSON.stringify(machine.getPersistedSnapshot(s));
  const [finished] = transition(machine, s, stepDone('synthesize', output('synthesize', 70)));
  return { machine, committed, reached: finished.context as AdvisoryContext, finished };
}

describe('cancelledSnapshot', () => {
  it('ends a job cancelled whose final commit lost the race, charging the chair that had finished', () => {
    const { machine, committed, reached, finished } = chairRace();
    expect(finished.value).toBe('succeeded');
    const persisted = cancelledSnapshot(machine, committed, reached, 'Cancelled at your request.', {}) as { value: unknown; status: string; context: AdvisoryContext };
    expect(persisted.value).toBe('cancelled');
    expect(persisted.status).toBe('done');
    expect(persisted.context.cancellation).toEqual({ reason: 'Cancelled at your request.' });
    expect(persisted.context.steps.synthesize).toMatchObject({ status: 'cancelled', usage: { inputTokens: 100, outputTokens: 70 }, costUsd: 0.07 });
    expect(persisted.context.steps['advise.claude']?.status).toBe('succeeded');
  });

  it('prefers what the cancel itself recorded for a step', () => {
    const { machine, committed, reached } = chairRace();
    const spent = { synthesize: { usage: { inputTokens: 100, outputTokens: 12 }, costUsd: 0.012 } };
    const persisted = cancelledSnapshot(machine, committed, reached, 'stop', spent) as { context: AdvisoryContext };
    expect(persisted.context.steps.synthesize?.usage).toEqual({ inputTokens: 100, outputTokens: 12 });
  });
});
