import { describe, expect, it } from 'vitest';
import { createActor, initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { AdvisoryInputError } from '../../../machines/errors.js';
import { createAdvisoryMachine, stageOf, type AdvisoryMachine } from '../../../machines/advisory.machine.js';
import type { AdvisoryContext, AdvisoryEvent, AdvisoryInput, StepFailure, StepInput, StepOutput } from '../../../machines/advisory.types.js';
import { SAMPLE_POLICIES, SCRIPT_EPOCH, ScriptedSteps, sampleInput } from '../../../fixtures/snapshots/scripted-steps.js';

// Pure transitions: actor done/error events as XState delivers them for invoked children.
const stepDone = (stepId: string, output: StepOutput) => ({ type: `xstate.done.actor.${stepId}`, output }) as unknown as AdvisoryEvent;
const stepError = (stepId: string, error: unknown) => ({ type: `xstate.error.actor.${stepId}`, error }) as unknown as AdvisoryEvent;
const waitDone = (stepId: string, now: number) => ({ type: `xstate.done.actor.${stepId}.wait`, output: { now } }) as unknown as AdvisoryEvent;

const T = SCRIPT_EPOCH;
const throttled = (at: number, jitter = 0.5): StepFailure => ({ error: 'ThrottlingException', cause: 'Too many requests', at, jitter });
const output = (stepId: string, attempt = 1): StepOutput => ({
  resultRef: `${stepId}#${attempt}`,
  usage: { inputTokens: 10, outputTokens: 20 },
  costUsd: 0.001,
  finishedAt: T + 5000,
});

interface Spawned {
  id: string;
  src: string;
  input: unknown;
}

/** The actors an (unexecuted) list of actions would start. */
function spawned(actions: readonly { type: string; params?: unknown }[]): Spawned[] {
  return actions
    .filter((a) => a.type === 'xstate.spawnChild')
    .map((a) => {
      const { id, src, input } = a.params as Spawned;
      return { id, src, input };
    });
}

function contextOf(snapshot: AnyMachineSnapshot): AdvisoryContext {
  return snapshot.context as AdvisoryContext;
}

function start(input: AdvisoryInput = sampleInput()) {
  const machine = createAdvisoryMachine(input);
  const [snapshot, actions] = initialTransition(machine, input);
  return { machine, snapshot, actions };
}

describe('advisory machine (pure transitions)', () => {
  it('starts every advisor at once with a small step input', () => {
    const { snapshot, actions } = start();
    expect(snapshot.value).toEqual({ advising: { claude: 'running', mistral: 'running', llama: 'running' } });
    expect(spawned(actions)).toEqual(
      ['claude', 'mistral', 'llama'].map((advisorId) => ({
        id: `advise.${advisorId}`,
        src: 'runStep',
        input: { jobId: 'job-0001', stepId: `advise.${advisorId}`, kind: 'advise', advisorId, attempt: 1, timeoutSeconds: 120 },
      })),
    );
  });

  it('initialises every step record of the job', () => {
    const { steps } = contextOf(start().snapshot);
    expect(steps).toEqual({
      'advise.claude': { status: 'running', attempt: 1, retries: [] },
      'advise.mistral': { status: 'running', attempt: 1, retries: [] },
      'advise.llama': { status: 'running', attempt: 1, retries: [] },
      'review.claude': { status: 'pending', attempt: 0, retries: [] },
      'review.mistral': { status: 'pending', attempt: 0, retries: [] },
      'review.llama': { status: 'pending', attempt: 0, retries: [] },
      synthesize: { status: 'pending', attempt: 0, retries: [] },
    });
  });

  it('schedules a retry at the failure time plus the jittered back-off', () => {
    const { machine, snapshot } = start();
    const [next, actions] = transition(machine, snapshot, stepError('advise.claude', throttled(T, 0.5)));
    expect(next.value).toEqual({ advising: { claude: 'backingOff', mistral: 'running', llama: 'running' } });
    // IntervalSeconds 2, first retry, FULL jitter 0.5 → 1 s.
    expect(contextOf(next).steps['advise.claude']).toEqual({
      status: 'retrying',
      attempt: 1,
      retries: [1],
      dueAt: T + 1000,
      error: { error: 'ThrottlingException', cause: 'Too many requests' },
    });
    expect(spawned(actions)).toEqual([{ id: 'advise.claude.wait', src: 'waitUntil', input: { until: T + 1000 } }]);
  });

  it('starts the next attempt once the back-off has elapsed', () => {
    const { machine, snapshot } = start();
    const [retrying] = transition(machine, snapshot, stepError('advise.claude', throttled(T)));
    const [next, actions] = transition(machine, retrying, waitDone('advise.claude', T + 1000));
    expect(next.value).toEqual({ advising: { claude: 'running', mistral: 'running', llama: 'running' } });
    expect(contextOf(next).steps['advise.claude']).toEqual({ status: 'running', attempt: 2, retries: [1] });
    expect(spawned(actions)).toEqual([
      { id: 'advise.claude', src: 'runStep', input: expect.objectContaining({ stepId: 'advise.claude', attempt: 2 }) },
    ]);
  });

  it('counts retries per retrier and backs off by each counter', () => {
    const { machine, snapshot } = start();
    let s = snapshot;
    [s] = transition(machine, s, stepError('advise.claude', throttled(T, 1)));
    [s] = transition(machine, s, waitDone('advise.claude', T + 2000));
    [s] = transition(machine, s, stepError('advise.claude', throttled(T + 3000, 1)));
    expect(contextOf(s).steps['advise.claude']).toMatchObject({ retries: [2], dueAt: T + 3000 + 4000 });
    [s] = transition(machine, s, waitDone('advise.claude', T + 7000));
    [s] = transition(machine, s, stepError('advise.claude', { error: 'States.Timeout', cause: 'no answer in 120 s', at: T + 8000, jitter: 0 }));
    // A different retrier: its own counter starts at 0 (IntervalSeconds 1, no jitter).
    expect(contextOf(s).steps['advise.claude']).toMatchObject({ status: 'retrying', attempt: 3, retries: [2, 1], dueAt: T + 9000 });
  });

  it('marks the advisor failed once its retrier is exhausted and Catch matches', () => {
    const { machine, snapshot } = start();
    let s = snapshot;
    for (let i = 0; i < 3; i++) {
      [s] = transition(machine, s, stepError('advise.claude', throttled(T + i)));
      [s] = transition(machine, s, waitDone('advise.claude', T + i));
    }
    [s] = transition(machine, s, stepError('advise.claude', throttled(T + 10)));
    expect(s.value).toEqual({ advising: { claude: 'failed', mistral: 'running', llama: 'running' } });
    expect(contextOf(s).steps['advise.claude']).toEqual({
      status: 'failed',
      attempt: 4,
      retries: [3],
      error: { error: 'ThrottlingException', cause: 'Too many requests' },
      finishedAt: T + 10,
    });
  });

  it('fails the whole job when no catcher matches', () => {
    const input = sampleInput({ policies: { ...SAMPLE_POLICIES, advise: { ...SAMPLE_POLICIES.advise, Catch: [] } } });
    const { machine, snapshot } = start(input);
    const [s, actions] = transition(machine, snapshot, stepError('advise.mistral', { error: 'AccessDeniedException', cause: 'no model access', at: T, jitter: 0 }));
    expect(s.value).toBe('failed');
    expect(s.status).toBe('done');
    expect(contextOf(s).failure).toEqual({
      reason: 'mistral could not answer: AccessDeniedException: no model access',
      errors: { 'advise.mistral': { error: 'AccessDeniedException', cause: 'no model access' } },
    });
    // The other advisors' calls are stopped.
    expect((actions as readonly { type: string }[]).filter((a) => a.type === 'xstate.stopChild')).toHaveLength(3);
  });

  it('fails the job loudly when the worker rejects with something that is not a StepFailure', () => {
    const { machine, snapshot } = start();
    const [s] = transition(machine, snapshot, stepError('advise.claude', new TypeError('cannot read properties of undefined')));
    expect(s.value).toBe('failed');
    expect(contextOf(s).failure?.reason).toBe(
      'claude could not answer: States.Runtime: the step failed without a StepFailure: TypeError: cannot read properties of undefined',
    );
  });

  it('records a succeeded answer with its result reference, usage, cost and finish time', () => {
    const { machine, snapshot } = start();
    const [s] = transition(machine, snapshot, stepDone('advise.llama', output('advise.llama')));
    expect(s.value).toEqual({ advising: { claude: 'running', mistral: 'running', llama: 'succeeded' } });
    expect(contextOf(s).steps['advise.llama']).toEqual({
      status: 'succeeded',
      attempt: 1,
      retries: [],
      resultRef: 'advise.llama#1',
      usage: { inputTokens: 10, outputTokens: 20 },
      costUsd: 0.001,
      finishedAt: T + 5000,
    });
  });

  it('moves to reviewing with labels that hide each reviewer’s own answer', () => {
    const { machine, snapshot } = start();
    let s = snapshot;
    for (const id of ['claude', 'mistral', 'llama']) [s] = transition(machine, s, stepDone(`advise.${id}`, output(`advise.${id}`)));
    expect(s.value).toEqual({ reviewing: { claude: 'running', mistral: 'running', llama: 'running' } });
    const { labels } = contextOf(s);
    for (const reviewer of ['claude', 'mistral', 'llama']) {
      expect(Object.keys(labels[reviewer] ?? {})).toEqual(['A', 'B']);
      expect(Object.values(labels[reviewer] ?? {}).sort()).toEqual(['claude', 'llama', 'mistral'].filter((id) => id !== reviewer));
    }
  });
});

/** A live actor over the scripted fakes. */
function run(input: AdvisoryInput = sampleInput()) {
  const steps = new ScriptedSteps();
  const machine: AdvisoryMachine = createAdvisoryMachine(input);
  const actor = createActor(steps.provide(machine), { input });
  actor.start();
  return { machine, steps, actor, context: () => actor.getSnapshot().context, value: () => actor.getSnapshot().value };
}

const denied = { error: 'AccessDeniedException', cause: 'You do not have access to the model' };

describe('advisory machine (actor)', () => {
  it('fails below quorum with a reason naming every advisor that failed and why', async () => {
    const { steps, actor, context, value } = run();
    await steps.fail(actor, 'advise.mistral', { error: 'ValidationException', cause: 'Malformed input request' });
    await steps.succeed(actor, 'advise.claude');
    await steps.fail(actor, 'advise.llama', denied);
    expect(value()).toBe('failed');
    expect(context().failure).toEqual({
      reason:
        'Only 1 of 3 advisors answered (quorum is 2): mistral failed with ValidationException: Malformed input request; ' +
        'llama failed with AccessDeniedException: You do not have access to the model',
      errors: {
        'advise.mistral': { error: 'ValidationException', cause: 'Malformed input request' },
        'advise.llama': denied,
      },
    });
    expect(steps.inFlight()).toEqual([]);
  });

  it('says when no advisor answered at all', async () => {
    const { steps, actor, context } = run(sampleInput({ advisors: ['claude', 'llama'] }));
    await steps.fail(actor, 'advise.claude', denied);
    await steps.fail(actor, 'advise.llama', denied);
    expect(context().failure?.reason).toMatch(/^None of the 2 advisors answered \(quorum is 2\): claude failed with AccessDeniedException/);
  });

  it('clamps the quorum to the number of advisors', async () => {
    const { steps, actor, value } = run(sampleInput({ advisors: ['claude', 'llama'], quorum: 5 }));
    await steps.succeed(actor, 'advise.claude');
    await steps.succeed(actor, 'advise.llama');
    expect(value()).toEqual({ reviewing: { claude: 'running', llama: 'running' } });
  });

  it('continues with the quorum and skips the review of an advisor that did not answer', async () => {
    const { steps, actor, context, value } = run();
    await steps.succeed(actor, 'advise.claude');
    await steps.fail(actor, 'advise.llama', denied);
    await steps.succeed(actor, 'advise.mistral');
    expect(value()).toEqual({ reviewing: { claude: 'running', mistral: 'running', llama: 'skipped' } });
    expect(context().steps['review.llama']?.status).toBe('skipped');
    expect(context().labels).toEqual({ claude: { A: 'mistral' }, mistral: { A: 'claude' } });
    const reviewInput = steps.calls.find((c) => c.stepId === 'review.claude');
    expect(reviewInput).toEqual({
      jobId: 'job-0001',
      stepId: 'review.claude',
      kind: 'review',
      advisorId: 'claude',
      attempt: 1,
      timeoutSeconds: 120,
      anonymised: [{ label: 'A', resultRef: 'advise.mistral#1' }],
    });
  });

  it('skips reviewing when fewer than two advisors answered', async () => {
    const { steps, actor, context, value } = run(sampleInput({ quorum: 1 }));
    await steps.fail(actor, 'advise.claude', denied);
    await steps.succeed(actor, 'advise.mistral');
    await steps.fail(actor, 'advise.llama', denied);
    expect(value()).toEqual({ synthesizing: 'running' });
    expect(['review.claude', 'review.mistral', 'review.llama'].map((id) => context().steps[id]?.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(steps.calls.at(-1)).toEqual({
      jobId: 'job-0001',
      stepId: 'synthesize',
      kind: 'synthesize',
      advisorId: 'chair',
      attempt: 1,
      timeoutSeconds: 180,
      answers: [{ advisorId: 'mistral', resultRef: 'advise.mistral#1' }],
    });
  });

  it('goes straight from advising to synthesizing in quick mode', async () => {
    const { steps, actor, context, value } = run(sampleInput({ mode: 'quick' }));
    expect(context().steps['review.claude']?.status).toBe('skipped');
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    expect(value()).toEqual({ synthesizing: 'running' });
    await steps.succeed(actor, 'synthesize', { confidence: 'low' });
    expect(value()).toBe('succeeded');
    expect(steps.calls.map((c) => c.stepId)).toEqual(['advise.claude', 'advise.mistral', 'advise.llama', 'synthesize']);
    expect(context().confidence).toBe('low');
  });

  it('runs a full job: rankings de-anonymised, aggregated, and handed to the chair with the answers', async () => {
    const { steps, actor, context, value } = run();
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.succeed(actor, 'review.claude', { rankAdvisors: ['llama', 'mistral'] });
    await steps.succeed(actor, 'review.mistral', { rankAdvisors: ['llama', 'claude'] });
    await steps.succeed(actor, 'review.llama', { rankAdvisors: ['claude', 'mistral'] });
    expect(context().rankings).toEqual({ claude: ['llama', 'mistral'], mistral: ['llama', 'claude'], llama: ['claude', 'mistral'] });
    expect(context().aggregate?.ranking).toEqual([
      { advisorId: 'llama', meanPosition: 1, votes: 2 },
      { advisorId: 'claude', meanPosition: 1.5, votes: 2 },
      { advisorId: 'mistral', meanPosition: 2, votes: 2 },
    ]);
    expect(value()).toEqual({ synthesizing: 'running' });
    const synthesis = steps.calls.at(-1) as StepInput;
    expect(synthesis).toMatchObject({
      stepId: 'synthesize',
      advisorId: 'chair',
      timeoutSeconds: 180,
      answers: [
        { advisorId: 'claude', resultRef: 'advise.claude#1' },
        { advisorId: 'mistral', resultRef: 'advise.mistral#1' },
        { advisorId: 'llama', resultRef: 'advise.llama#1' },
      ],
      reviews: [
        { reviewerId: 'claude', resultRef: 'review.claude#1' },
        { reviewerId: 'mistral', resultRef: 'review.mistral#1' },
        { reviewerId: 'llama', resultRef: 'review.llama#1' },
      ],
      labels: context().labels,
      aggregate: context().aggregate,
    });
    await steps.succeed(actor, 'synthesize', { confidence: 'high' });
    expect(value()).toBe('succeeded');
    expect(actor.getSnapshot().status).toBe('done');
    expect(context().confidence).toBe('high');
    expect(context().steps.synthesize).toMatchObject({ status: 'succeeded', resultRef: 'synthesize#1' });
  });

  it('leaves out a reviewer whose review failed for good', async () => {
    const { steps, actor, context } = run();
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.succeed(actor, 'review.claude', { rankAdvisors: ['llama', 'mistral'] });
    await steps.fail(actor, 'review.mistral', denied);
    await steps.succeed(actor, 'review.llama', { rankAdvisors: ['claude', 'mistral'] });
    expect(context().steps['review.mistral']).toMatchObject({ status: 'failed', error: denied });
    expect(Object.keys(context().rankings)).toEqual(['claude', 'llama']);
    const synthesis = steps.calls.at(-1) as StepInput;
    expect(synthesis.reviews?.map((r) => r.reviewerId)).toEqual(['claude', 'llama']);
    expect(Object.keys(synthesis.labels ?? {})).toEqual(['claude', 'llama']);
  });

  it('repairs an unusable review once, handing the attempt the unusable output and what was wrong', async () => {
    const { steps, actor, context } = run();
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.unusable(actor, 'review.claude', { problem: 'it contains no JSON object' });
    expect(context().steps['review.claude']).toMatchObject({ status: 'running', attempt: 2, repairs: 1 });
    const repair = steps.calls.at(-1) as StepInput;
    expect(repair).toMatchObject({ stepId: 'review.claude', attempt: 2, repair: { resultRef: 'review.claude#1', problem: 'it contains no JSON object' } });
    // A repair is not a back-off: no wait, and the other reviews carry on.
    expect(steps.backingOff()).toEqual([]);
    await steps.succeed(actor, 'review.claude', { rankAdvisors: ['mistral', 'llama'] });
    expect(context().steps['review.claude']).toMatchObject({ status: 'succeeded', attempt: 2, resultRef: 'review.claude#2' });
    expect(context().rankings.claude).toEqual(['mistral', 'llama']);
  });

  it('counts what the unusable output cost as well as its repair', async () => {
    const { steps, actor, context } = run();
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.unusable(actor, 'review.claude');
    await steps.succeed(actor, 'review.claude');
    expect(context().steps['review.claude']).toMatchObject({ usage: { inputTokens: 800, outputTokens: 500 }, costUsd: 0.009 });
  });

  it('ends a review as Review.InvalidOutput when its repair is unusable too, and ranks with the other reviews', async () => {
    const { steps, actor, context } = run();
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.unusable(actor, 'review.mistral');
    await steps.unusable(actor, 'review.mistral', { problem: 'ranking names "Z", expected only A, B' });
    expect(context().steps['review.mistral']).toMatchObject({
      status: 'failed',
      attempt: 2,
      resultRef: 'review.mistral#2',
      error: { error: 'Review.InvalidOutput', cause: 'ranking names "Z", expected only A, B' },
    });
    await steps.succeed(actor, 'review.claude');
    await steps.succeed(actor, 'review.llama');
    expect((steps.calls.at(-1) as StepInput).reviews?.map((r) => r.reviewerId)).toEqual(['claude', 'llama']);
    // Two calls for that review, never a third with the same prompt.
    expect(steps.calls.filter((c) => c.stepId === 'review.mistral').map((c) => c.attempt)).toEqual([1, 2]);
  });

  it('lets the chair write without a ranking when no review could be used', async () => {
    const { steps, actor, context, value } = run();
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.fail(actor, 'review.claude', denied);
    for (const id of ['mistral', 'llama']) {
      await steps.unusable(actor, `review.${id}`);
      await steps.unusable(actor, `review.${id}`);
    }
    expect(value()).toEqual({ synthesizing: 'running' });
    expect(context().aggregate).toBeUndefined();
    const synthesis = steps.calls.at(-1) as StepInput;
    expect(synthesis.answers).toHaveLength(3);
    expect(synthesis.reviews).toBeUndefined();
    expect(synthesis.aggregate).toBeUndefined();
  });

  it('keeps the chair’s unreadable text as the advice after one repair, its confidence not stated', async () => {
    const { steps, actor, context, value } = run(sampleInput({ mode: 'quick' }));
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.unusable(actor, 'synthesize', { problem: 'it has no Recommendation section' });
    expect((steps.calls.at(-1) as StepInput).repair).toEqual({ resultRef: 'synthesize#1', problem: 'it has no Recommendation section' });
    await steps.unusable(actor, 'synthesize', { problem: 'it has no Recommendation section' });
    expect(value()).toBe('succeeded');
    expect(context().confidence).toBe('unstated');
    expect(context().steps.synthesize).toMatchObject({ status: 'succeeded', resultRef: 'synthesize#2', unusable: 'it has no Recommendation section' });
  });

  it('succeeds without a synthesis when the chair fails outright, for any reason', async () => {
    for (const failure of [
      { error: 'Model.GuardrailIntervened', cause: 'the content guardrail blocked this answer' },
      { error: 'States.Runtime', cause: 'a bug no catcher matches' },
    ]) {
      const { steps, actor, context, value } = run(sampleInput({ mode: 'quick' }));
      for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
      await steps.fail(actor, 'synthesize', failure);
      expect(value()).toBe('succeeded');
      expect(context().steps.synthesize).toMatchObject({ status: 'failed', error: failure });
      expect(context().failure).toBeUndefined();
    }
  });

  it('treats an empty chair as a failed one once its repair is empty too', async () => {
    const { steps, actor, context, value } = run(sampleInput({ mode: 'quick' }));
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.unusable(actor, 'synthesize', { empty: true });
    await steps.unusable(actor, 'synthesize', { empty: true });
    expect(value()).toBe('succeeded');
    expect(context().steps.synthesize).toMatchObject({ status: 'failed', error: { error: 'Synthesis.InvalidOutput', cause: 'the answer is empty' } });
  });

  it('counts an empty answer as a failed answer, with no repair', async () => {
    const { steps, actor, context } = run();
    await steps.unusable(actor, 'advise.llama', { empty: true });
    expect(context().steps['advise.llama']).toMatchObject({ status: 'failed', attempt: 1, error: { error: 'Advice.InvalidOutput', cause: 'the answer is empty' } });
    await steps.succeed(actor, 'advise.claude');
    await steps.succeed(actor, 'advise.mistral');
    expect(context().labels).toEqual({ claude: { A: 'mistral' }, mistral: { A: 'claude' } });
  });

  it('leaves only the review failed when its error matches no catcher', async () => {
    const { steps, actor, context, value } = run();
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.crash(actor, 'review.llama', new Error('a worker bug'));
    expect(context().steps['review.llama']).toMatchObject({ status: 'failed', error: { error: 'States.Runtime' } });
    expect(value()).toEqual({ reviewing: { claude: 'running', mistral: 'running', llama: 'failed' } });
  });

  it('cancels at any moment, stopping the calls in flight', async () => {
    const { steps, actor, context, value } = run();
    for (const id of ['claude', 'mistral', 'llama']) await steps.succeed(actor, `advise.${id}`);
    await steps.fail(actor, 'review.llama', { error: 'ThrottlingException' });
    actor.send({ type: 'job.cancel', reason: 'Cancelled by the user.' });
    expect(value()).toBe('cancelled');
    expect(actor.getSnapshot().status).toBe('done');
    expect(context().cancellation).toEqual({ reason: 'Cancelled by the user.' });
    expect(steps.aborted.sort()).toEqual(['review.claude', 'review.llama', 'review.mistral']);
    expect(steps.inFlight()).toEqual([]);
    expect(steps.backingOff()).toEqual([]);
  });

  it('fails on job.fail with the given reason (poison jobs)', () => {
    const { actor, context, value } = run();
    actor.send({ type: 'job.fail', reason: 'The job kept crashing workers and was stopped.' });
    expect(value()).toBe('failed');
    expect(context().failure).toEqual({ reason: 'The job kept crashing workers and was stopped.', errors: {} });
  });

  it('ignores cancel and fail once the job is final', async () => {
    const { machine, steps, actor } = run(sampleInput({ mode: 'quick' }));
    await steps.runToEnd(actor);
    for (const event of [{ type: 'job.cancel', reason: 'too late' }, { type: 'job.fail', reason: 'too late' }] as const) {
      const [after] = transition(machine, actor.getSnapshot(), event);
      expect(after.value).toBe('succeeded');
      expect(contextOf(after).cancellation).toBeUndefined();
      expect(contextOf(after).failure).toBeUndefined();
    }
  });
});

describe('createAdvisoryMachine', () => {
  it('builds one parallel branch per advisor', () => {
    const machine = createAdvisoryMachine({ advisors: ['a', 'b-2'] });
    expect(Object.keys(machine.root.states.advising?.states ?? {})).toEqual(['a', 'b-2']);
    expect(machine.root.states.reviewing?.type).toBe('parallel');
  });

  it('rejects advisor ids that cannot name states and steps', () => {
    expect(() => createAdvisoryMachine({ advisors: [] })).toThrow(AdvisoryInputError);
    expect(() => createAdvisoryMachine({ advisors: ['Claude'] })).toThrow('advisor ids must match');
    expect(() => createAdvisoryMachine({ advisors: ['a.b'] })).toThrow(AdvisoryInputError);
    expect(() => createAdvisoryMachine({ advisors: ['a', 'a'] })).toThrow('advisor ids must be unique');
  });
});

describe('stageOf', () => {
  it('names the top-level state of a snapshot value', () => {
    expect(stageOf({ advising: { claude: 'running' } })).toBe('advising');
    expect(stageOf({ synthesizing: 'backingOff' })).toBe('synthesizing');
    expect(stageOf('cancelled')).toBe('cancelled');
  });

  it('rejects values that are not advisory states', () => {
    expect(() => stageOf('queued')).toThrow('not an advisory state value');
  });
});
