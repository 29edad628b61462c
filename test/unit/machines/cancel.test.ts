import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { createAdvisoryMachine } from '../../../machines/advisory.machine.js';
import type { AdvisoryContext, AdvisoryEvent, StepOutput } from '../../../machines/advisory.types.js';
import { SCRIPT_EPOCH, sampleInput } from '../../../fixtures/snapshots/scripted-steps.js';

const stepDone = (stepId: string, output: StepOutput) => ({ type: `xstate.done.actor.${stepId}`, output }) as unknown as AdvisoryEvent;
const output = (stepId: string): StepOutput => ({
  resultRef: `${stepId}#1`,
  usage: { inputTokens: 10, outputTokens: 20 },
  costUsd: 0.001,
  finishedAt: SCRIPT_EPOCH + 5000,
});
const contextOf = (snapshot: AnyMachineSnapshot): AdvisoryContext => snapshot.context as AdvisoryContext;

function advising(mode: 'full' | 'quick' = 'full') {
  const input = sampleInput({ mode });
  const machine = createAdvisoryMachine(input);
  const [snapshot] = initialTransition(machine, input);
  const [answered] = transition(machine, snapshot, stepDone('advise.claude', output('advise.claude')));
  return { machine, snapshot: answered };
}

describe('cancelling the advisory machine', () => {
  it('marks every unfinished step cancelled and keeps the finished ones', () => {
    const { machine, snapshot } = advising();
    const [cancelled] = transition(machine, snapshot, { type: 'job.cancel', reason: 'Cancelled at your request.' });
    expect(cancelled.value).toBe('cancelled');
    const { steps, cancellation } = contextOf(cancelled);
    expect(cancellation).toEqual({ reason: 'Cancelled at your request.' });
    expect(steps['advise.claude']).toMatchObject({ status: 'succeeded', usage: { inputTokens: 10, outputTokens: 20 } });
    for (const id of ['advise.mistral', 'advise.llama', 'review.claude', 'review.mistral', 'review.llama', 'synthesize']) {
      expect(steps[id]?.status).toBe('cancelled');
    }
  });

  it('records what the stopped attempts spent on the steps they belong to', () => {
    const { machine, snapshot } = advising();
    const spent = { 'advise.mistral': { usage: { inputTokens: 300, outputTokens: 42 }, costUsd: 0.0017 } };
    const [cancelled] = transition(machine, snapshot, { type: 'job.cancel', reason: 'stop', spent });
    const { steps } = contextOf(cancelled);
    expect(steps['advise.mistral']).toMatchObject({ status: 'cancelled', usage: { inputTokens: 300, outputTokens: 42 }, costUsd: 0.0017 });
    expect(steps['advise.llama']?.usage).toBeUndefined();
  });

  it('ignores malformed spending instead of storing it', () => {
    const { machine, snapshot } = advising();
    const spent = { 'advise.mistral': { usage: { inputTokens: -1, outputTokens: Number.NaN }, costUsd: 1 } };
    const [cancelled] = transition(machine, snapshot, { type: 'job.cancel', reason: 'stop', spent });
    expect(contextOf(cancelled).steps['advise.mistral']).toEqual({ status: 'cancelled', attempt: 1, retries: [] });
  });

  it('leaves the reviews of a quick job skipped', () => {
    const { machine, snapshot } = advising('quick');
    const [cancelled] = transition(machine, snapshot, { type: 'job.cancel', reason: 'stop' });
    const { steps } = contextOf(cancelled);
    for (const id of ['review.claude', 'review.mistral', 'review.llama']) expect(steps[id]?.status).toBe('skipped');
    expect(steps.synthesize?.status).toBe('cancelled');
  });

  it('cancels from a restored snapshot without running anything', () => {
    const { machine, snapshot } = advising();
    const persisted = JSON.parse(JSON.stringify(machine.getPersistedSnapshot(snapshot))) as { value: never; context: never };
    const restored = machine.resolveState({ value: persisted.value, context: persisted.context });
    const [cancelled, actions] = transition(machine, restored, { type: 'job.cancel', reason: 'stop' });
    expect(cancelled.value).toBe('cancelled');
    expect(cancelled.status).toBe('done');
    expect(actions.filter((a) => a.type === 'xstate.spawnChild')).toEqual([]);
  });
});
