/**
 * The durability contract the worker relies on: it persists `getPersistedSnapshot()` after every
 * transition and resumes with `createActor(machine, { snapshot })`, which re-invokes in-flight
 * steps (and back-offs) from their persisted input.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { createAdvisoryMachine } from '../../../machines/advisory.machine.js';
import { restoreAdvisorySnapshot } from '../../../machines/advisory.snapshot.js';
import { ADVISORY_MACHINE_VERSION, type AdvisoryContext, type AdvisoryInput } from '../../../machines/advisory.types.js';
import { ScriptedSteps, sampleInput } from '../../../fixtures/snapshots/scripted-steps.js';

/** A live actor over fresh fakes that records the persisted JSON after every transition, as the worker does. */
function startJob(input: AdvisoryInput = sampleInput()) {
  const steps = new ScriptedSteps();
  const actor = createActor(steps.provide(createAdvisoryMachine(input)), { input });
  const persisted: string[] = [];
  actor.subscribe(() => persisted.push(JSON.stringify(actor.getPersistedSnapshot())));
  actor.start();
  return { steps, actor, persisted };
}

/** What a new worker does with a committed snapshot: restore it into a new actor over new fakes. */
function resume(json: string) {
  const steps = new ScriptedSteps();
  const restored = restoreAdvisorySnapshot(json, ADVISORY_MACHINE_VERSION);
  const actor = createActor(steps.provide(restored.machine), { snapshot: restored.snapshot, input: restored.input });
  actor.start();
  return { steps, actor, context: () => actor.getSnapshot().context as AdvisoryContext };
}

describe('advisory machine durability', () => {
  it('resumes after 2 of 3 advisors answered by calling only the third, then finishes the job', async () => {
    const first = startJob();
    await first.steps.succeed(first.actor, 'advise.claude');
    await first.steps.succeed(first.actor, 'advise.mistral');
    const committed = JSON.stringify(first.actor.getPersistedSnapshot());
    first.actor.stop(); // the worker dies here

    const second = resume(committed);
    expect(second.actor.getSnapshot().value).toEqual({ advising: { claude: 'succeeded', mistral: 'succeeded', llama: 'running' } });
    expect(second.steps.calls).toEqual([
      { jobId: 'job-0001', stepId: 'advise.llama', kind: 'advise', advisorId: 'llama', attempt: 1, timeoutSeconds: 120 },
    ]);

    await second.steps.runToEnd(second.actor);
    expect(second.actor.getSnapshot().value).toBe('succeeded');
    expect(second.steps.calls.map((c) => c.stepId)).toEqual(['advise.llama', 'review.claude', 'review.mistral', 'review.llama', 'synthesize']);
    // The answers committed before the crash are the ones the chair receives.
    expect(second.steps.calls.at(-1)?.answers).toEqual([
      { advisorId: 'claude', resultRef: 'advise.claude#1' },
      { advisorId: 'mistral', resultRef: 'advise.mistral#1' },
      { advisorId: 'llama', resultRef: 'advise.llama#1' },
    ]);
  });

  it('resumes a back-off with the same due time and keeps the attempt and retry counts', async () => {
    const first = startJob();
    await first.steps.fail(first.actor, 'advise.llama', { error: 'ThrottlingException', jitter: 0.75 });
    await first.steps.elapse(first.actor, 'advise.llama');
    await first.steps.fail(first.actor, 'advise.llama', { error: 'ThrottlingException', jitter: 0.75 });
    const dueAt = (first.actor.getSnapshot().context as AdvisoryContext).steps['advise.llama']?.dueAt;
    // Second retry: 2 s × 2¹ × 0.75 = 3 s after the failure.
    expect(dueAt).toBe(first.steps.now + 3000);
    const committed = JSON.stringify(first.actor.getPersistedSnapshot());
    first.actor.stop();

    const second = resume(committed);
    expect(second.steps.waits).toEqual([{ stepId: 'advise.llama', until: dueAt }]);
    expect(second.context().steps['advise.llama']).toMatchObject({ status: 'retrying', attempt: 2, retries: [2], dueAt });
    // The other advisors' calls were in flight too and are re-invoked; llama waits.
    expect(second.steps.calls.map((c) => c.stepId)).toEqual(['advise.claude', 'advise.mistral']);

    await second.steps.elapse(second.actor, 'advise.llama');
    expect(second.steps.calls.at(-1)).toMatchObject({ stepId: 'advise.llama', attempt: 3 });
    expect(second.context().steps['advise.llama']).toMatchObject({ status: 'running', attempt: 3, retries: [2] });
  });

  it('restores every committed snapshot of a job exactly as it was persisted', async () => {
    const job = startJob();
    await job.steps.fail(job.actor, 'advise.claude', { error: 'ThrottlingException' });
    await job.steps.runToEnd(job.actor);
    // One snapshot at start and one per step outcome: 1 failure, 1 elapsed back-off, 7 successes.
    expect(job.persisted).toHaveLength(10);
    for (const json of job.persisted) {
      const restored = resume(json);
      expect(JSON.stringify(restored.actor.getPersistedSnapshot())).toBe(json);
      restored.actor.stop();
    }
  });

  it('yields the same snapshots for the same sequence of step outcomes', async () => {
    async function script(): Promise<string[]> {
      const job = startJob();
      await job.steps.succeed(job.actor, 'advise.claude');
      await job.steps.fail(job.actor, 'advise.mistral', { error: 'ThrottlingException', jitter: 0.3 });
      await job.steps.succeed(job.actor, 'advise.llama');
      await job.steps.elapse(job.actor, 'advise.mistral');
      await job.steps.succeed(job.actor, 'advise.mistral');
      await job.steps.succeed(job.actor, 'review.llama', { rankAdvisors: ['mistral', 'claude'] });
      await job.steps.fail(job.actor, 'review.claude', { error: 'AccessDeniedException' });
      await job.steps.succeed(job.actor, 'review.mistral');
      await job.steps.succeed(job.actor, 'synthesize', { confidence: 'high' });
      return job.persisted;
    }
    const once = await script();
    const twice = await script();
    expect(once.length).toBeGreaterThan(5);
    expect(twice).toEqual(once);
    expect(JSON.parse(once.at(-1) as string).value).toBe('succeeded');
  });

  it('keeps the snapshot of a finished 3-advisor full job well under 8 KB', async () => {
    const job = startJob();
    await job.steps.fail(job.actor, 'advise.mistral', { error: 'ThrottlingException', cause: 'Too many requests, please wait before trying again.' });
    await job.steps.runToEnd(job.actor);
    expect(job.actor.getSnapshot().value).toBe('succeeded');
    expect(Buffer.byteLength(JSON.stringify(job.actor.getPersistedSnapshot()))).toBeLessThan(8192);
    // Every intermediate snapshot too, including the synthesis input with labels and aggregate.
    for (const json of job.persisted) expect(Buffer.byteLength(json)).toBeLessThan(8192);
  });

  it('keeps a long model error from bloating the snapshot', async () => {
    const job = startJob();
    await job.steps.fail(job.actor, 'advise.claude', { error: 'ModelErrorException', cause: 'x'.repeat(100_000) });
    const cause = (job.actor.getSnapshot().context as AdvisoryContext).steps['advise.claude']?.error?.cause ?? '';
    expect(cause.length).toBeLessThanOrEqual(500);
    expect(Buffer.byteLength(JSON.stringify(job.actor.getPersistedSnapshot()))).toBeLessThan(8192);
  });
});
