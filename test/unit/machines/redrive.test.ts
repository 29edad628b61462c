/**
 * Redriving a failed job (pure): the machine starts again from the failed context, keeps every
 * step that succeeded (never calling it again, reusing its stored result) and runs the rest,
 * attempt numbers going on. Failed jobs come from the released replay corpus and from scripts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createActor, initialTransition, type Actor } from 'xstate';
import { createAdvisoryMachine, stageOf, type AdvisoryMachine } from '../../../machines/advisory.machine.js';
import { redriveInputOf, redrivenContext, stageToRedrive } from '../../../machines/advisory.redrive.js';
import { restoreAdvisorySnapshot } from '../../../machines/advisory.snapshot.js';
import type { AdvisoryContext, AdvisoryInput } from '../../../machines/advisory.types.js';
import { ScriptedSteps, sampleInput } from '../../../fixtures/snapshots/scripted-steps.js';

const corpus = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../../fixtures/snapshots/${name}.json`, import.meta.url)), 'utf8');
const fileOf = (name: string) => JSON.parse(corpus(name)) as { machineVersion: string; snapshot: unknown };

type Job = { actor: Actor<AdvisoryMachine>; steps: ScriptedSteps };
const contextOf = ({ actor }: Job) => actor.getSnapshot().context as AdvisoryContext;

function start(input: AdvisoryInput): Job {
  const steps = new ScriptedSteps();
  const actor = createActor(steps.provide(createAdvisoryMachine(input)), { input });
  actor.start();
  return { actor, steps };
}

/** Restores a persisted failed snapshot and starts its redrive, as the worker does. */
function redrive(persisted: unknown, machineVersion: string): Job & { input: AdvisoryInput } {
  const restored = restoreAdvisorySnapshot(persisted, machineVersion);
  const input = redriveInputOf(restored);
  if (!input) throw new Error('not a failed snapshot');
  return { ...start(input), input };
}

const ADVISORS = ['claude', 'mistral', 'llama'];
const persistedOf = ({ actor }: Job) => JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as { status: string; value: unknown; context: AdvisoryContext };

describe('redriving a failed job', () => {
  it.each(['advisory-1', 'advisory-2'])('runs only the advisors that failed below quorum (%s corpus), then the rest of the job', async (version) => {
    const file = fileOf(`${version}/failed-below-quorum`);
    const job = redrive(file.snapshot, file.machineVersion);
    // claude had answered: it is kept and not asked again; the two that failed run their next attempt.
    expect(job.steps.inFlight().sort()).toEqual(['advise.llama', 'advise.mistral']);
    expect(job.steps.calls.map((c) => [c.stepId, c.attempt])).toEqual([
      ['advise.mistral', 2],
      ['advise.llama', 2],
    ]);
    const claude = contextOf(job).steps['advise.claude'];
    expect(claude).toMatchObject({ status: 'succeeded', attempt: 1, resultRef: 'advise.claude#1' });
    expect(contextOf(job).failure).toBeUndefined();

    await job.steps.succeed(job.actor, 'advise.mistral');
    await job.steps.succeed(job.actor, 'advise.llama');
    await job.steps.runToEnd(job.actor);
    expect(stageOf(job.actor.getSnapshot().value)).toBe('succeeded');
    // No step was called twice, and claude's answer was never called again: the reviews read its stored result.
    const calls = job.steps.calls.map((c) => c.stepId);
    expect(calls).not.toContain('advise.claude');
    expect(new Set(calls).size).toBe(calls.length);
    const reviewOfMistral = job.steps.calls.find((c) => c.stepId === 'review.mistral');
    expect(reviewOfMistral?.anonymised?.map((a) => a.resultRef).sort()).toEqual(['advise.claude#1', 'advise.llama#2']);
    expect(job.steps.calls.find((c) => c.stepId === 'synthesize')?.answers).toEqual([
      { advisorId: 'claude', resultRef: 'advise.claude#1' },
      { advisorId: 'mistral', resultRef: 'advise.mistral#2' },
      { advisorId: 'llama', resultRef: 'advise.llama#2' },
    ]);
  });

  it('gives the steps it runs again a fresh retry budget, and fails again below quorum with a readable reason', async () => {
    const first = start(sampleInput());
    await first.steps.succeed(first.actor, 'advise.claude');
    // mistral uses up its retries of InternalServerException (2) before it is caught.
    for (let i = 0; i < 3; i++) {
      await first.steps.fail(first.actor, 'advise.mistral', { error: 'InternalServerException' });
      if (i < 2) await first.steps.elapse(first.actor, 'advise.mistral');
    }
    await first.steps.fail(first.actor, 'advise.llama', { error: 'AccessDeniedException' });
    const failed = persistedOf(first);
    expect(failed.value).toBe('failed');
    expect(failed.context.steps['advise.mistral']).toMatchObject({ status: 'failed', attempt: 3, retries: [0, 2] });

    const again = redrive(failed, 'advisory/2');
    expect(contextOf(again).steps['advise.mistral']).toMatchObject({ status: 'running', attempt: 4, retries: [] });
    // A fresh budget: the first error is retried, not caught.
    await again.steps.fail(again.actor, 'advise.mistral', { error: 'InternalServerException' });
    expect(contextOf(again).steps['advise.mistral']).toMatchObject({ status: 'retrying', attempt: 4, retries: [0, 1] });
    await again.steps.elapse(again.actor, 'advise.mistral');
    await again.steps.fail(again.actor, 'advise.mistral', { error: 'ValidationException', cause: 'still broken' });
    await again.steps.fail(again.actor, 'advise.llama', { error: 'AccessDeniedException', cause: 'no access' });
    const failedAgain = persistedOf(again);
    expect(failedAgain.value).toBe('failed');
    expect(failedAgain.context.failure?.reason).toMatch(/^Only 1 of 3 advisors answered \(quorum is 2\): mistral failed with ValidationException: still broken; llama failed with AccessDeniedException: no access$/);
    // …and can be redriven once more, attempts still counting on.
    const third = redrive(failedAgain, 'advisory/2');
    expect(third.steps.calls.map((c) => `${c.stepId}#${c.attempt}`)).toEqual(['advise.mistral#6', 'advise.llama#3']);
  });

  it('keeps what the failed steps had spent', () => {
    const file = fileOf('advisory-2/failed-below-quorum');
    const failed = (file.snapshot as { context: AdvisoryContext }).context;
    const spent = { ...failed, steps: { ...failed.steps, 'advise.llama': { ...failed.steps['advise.llama']!, usage: { inputTokens: 7, outputTokens: 3 }, costUsd: 0.0002 } } };
    expect(redrivenContext(spent).steps['advise.llama']).toEqual({ status: 'pending', attempt: 1, retries: [], usage: { inputTokens: 7, outputTokens: 3 }, costUsd: 0.0002 });
  });

  it('goes on from the reviews when the job failed while reviewing, keeping the stage it had finished', async () => {
    const first = start(sampleInput());
    await first.steps.succeed(first.actor, 'advise.claude');
    await first.steps.succeed(first.actor, 'advise.mistral');
    await first.steps.fail(first.actor, 'advise.llama', { error: 'AccessDeniedException' });
    await first.steps.succeed(first.actor, 'review.claude');
    // The poison path fails the job half-way through the reviews.
    first.actor.send({ type: 'job.fail', reason: 'This job could not be processed.' });
    const failed = persistedOf(first);
    expect(failed.value).toBe('failed');
    expect(stageToRedrive(failed.context)).toBe('review');

    const again = redrive(failed, 'advisory/2');
    // llama's caught failure belongs to a finished stage: it stays failed, and its review stays skipped.
    expect(again.steps.calls.map((c) => `${c.stepId}#${c.attempt}`)).toEqual(['review.mistral#2']);
    expect(contextOf(again).steps['advise.llama']?.status).toBe('failed');
    expect(contextOf(again).steps['review.llama']?.status).toBe('skipped');
    expect(contextOf(again).steps['review.claude']).toMatchObject({ status: 'succeeded', resultRef: 'review.claude#1' });
    // The labels are the ones the kept review was written under.
    expect(contextOf(again).labels).toEqual(failed.context.labels);
    await again.steps.runToEnd(again.actor);
    expect(stageOf(again.actor.getSnapshot().value)).toBe('succeeded');
    expect(Object.keys(contextOf(again).rankings).sort()).toEqual(['claude', 'mistral']);
    expect(again.steps.calls.map((c) => c.stepId)).toEqual(['review.mistral', 'synthesize']);
  });

  it('runs only the chair again when the job failed while the chair was writing', async () => {
    const first = start(sampleInput({ mode: 'quick' }));
    for (const id of ADVISORS) await first.steps.succeed(first.actor, `advise.${id}`);
    await first.steps.fail(first.actor, 'synthesize', { error: 'ThrottlingException' });
    first.actor.send({ type: 'job.fail', reason: 'poisoned' });
    const failed = persistedOf(first);
    expect(stageToRedrive(failed.context)).toBe('synthesize');

    const again = redrive(failed, 'advisory/2');
    expect(again.steps.calls.map((c) => `${c.stepId}#${c.attempt}`)).toEqual(['synthesize#2']);
    for (const id of ADVISORS) expect(contextOf(again).steps[`review.${id}`]?.status).toBe('skipped');
    await again.steps.runToEnd(again.actor);
    expect(stageOf(again.actor.getSnapshot().value)).toBe('succeeded');
  });

  it('schedules exactly the steps to run again in its first snapshot, which stays small', () => {
    const file = fileOf('advisory-2/failed-below-quorum');
    const input = redriveInputOf(restoreAdvisorySnapshot(file.snapshot, file.machineVersion))!;
    const machine = createAdvisoryMachine(input);
    const [snapshot, actions] = initialTransition(machine, input);
    const spawned = actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => (a as { params?: { id?: string } }).params?.id);
    expect(spawned.sort()).toEqual(['advise.llama', 'advise.mistral']);
    expect(snapshot.value).toEqual({ advising: { claude: 'succeeded', mistral: 'running', llama: 'running' } });
    expect(JSON.stringify(machine.getPersistedSnapshot(snapshot)).length).toBeLessThan(8 * 1024);
  });

  it('redrives only failed snapshots: a working or finished one is not redriven', () => {
    for (const name of ['advisory-2/advising-retrying', 'advisory-2/succeeded', 'advisory-2/cancelled', 'advisory-1/succeeded']) {
      const file = fileOf(name);
      expect(redriveInputOf(restoreAdvisorySnapshot(file.snapshot, file.machineVersion)), name).toBeUndefined();
    }
  });

  it('is deterministic: the same failed snapshot redrives to the same snapshots', async () => {
    const file = fileOf('advisory-2/failed-below-quorum');
    const run = async () => {
      const job = redrive(file.snapshot, file.machineVersion);
      const seen = [JSON.stringify(job.actor.getPersistedSnapshot())];
      await job.steps.runToEnd(job.actor);
      seen.push(JSON.stringify(job.actor.getPersistedSnapshot()));
      return seen;
    };
    expect(await run()).toEqual(await run());
  });
});
