/**
 * The whole stack through HTTP: a question goes through the API, SQS, a worker running the
 * advisory machine against the Bedrock stand-in, and comes back as advice.
 */
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobView } from '../../services/shared/contracts/job.js';
import { loadRecordings } from '../../services/local/bedrock/recordings.js';
import { withLocalStack } from '../support/local-stack.js';
import { bedrockOf, callsOf, submit, transitionsOf, waitForEnd, waitForView, stepsOf, eventually } from '../support/jobs.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));

const fx = withLocalStack({ workers: 2, env: { COT_CIRCLE_FILE: TEST_CIRCLE } });

// Faults are armed before the job is submitted (a worker may call the model within
// milliseconds); tests in a file run one at a time, and each starts with a clean stand-in.
beforeEach(() => bedrockOf(fx.stack).reset());

const answerOf = (view: JobView, id: string) => view.advisors.find((a) => a.id === id)!.answer;

describe('asking the circle', () => {
  it('takes a question from queued to succeeded with three answers, reviews and a synthesis', async () => {
    const alice = await fx.client('alice');
    const posted = await alice.post<{ jobId: string; status: string }>('/chat', { question: 'Should our team of five adopt a four-day week?' });
    expect(posted.status).toBe(202);
    expect(posted.body.status).toBe('queued');
    const jobId = posted.body.jobId;

    const view = await waitForEnd(alice, jobId);
    expect(view.status).toBe('succeeded');
    expect(view.stage).toBe('done');

    // Three distinct answers, each reviewed.
    const answers = view.advisors.map((a) => a.answer.text ?? '');
    expect(view.advisors.map((a) => a.answer.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(new Set(answers).size).toBe(3);
    for (const a of answers) expect(a.length).toBeGreaterThan(100);
    for (const a of view.advisors) {
      expect(a.review.status).toBe('succeeded');
      // Each reviewer ranks the two others, never itself.
      expect(a.review.ranking).toHaveLength(2);
      expect(a.review.ranking).not.toContain(a.id);
    }
    expect(view.ranking?.map((r) => r.advisorId).sort()).toEqual(['claude', 'llama', 'mistral']);

    // The synthesis names agreement and dissent and states its confidence.
    expect(view.synthesis?.status).toBe('succeeded');
    expect(view.synthesis?.recommendation?.length).toBeGreaterThan(20);
    expect(view.synthesis?.agreement?.length).toBeGreaterThan(10);
    expect(view.synthesis?.dissent?.length).toBeGreaterThan(10);
    expect(['high', 'medium', 'low']).toContain(view.synthesis?.confidence);

    // Usage and cost are filled in and add up over the steps.
    expect(view.usage.inputTokens).toBeGreaterThan(0);
    expect(view.usage.outputTokens).toBeGreaterThan(0);
    const stepCosts = [...view.advisors.flatMap((a) => [a.answer.costUsd ?? 0, a.review.costUsd ?? 0]), view.synthesis?.costUsd ?? 0];
    expect(view.costUsd).toBeCloseTo(stepCosts.reduce((s, c) => s + c, 0), 6);
    expect(view.costUsd).toBeGreaterThan(0);

    // Queued → running → succeeded, in a gapless committed history.
    const history = await transitionsOf(fx.stack, jobId);
    expect(history.map((t) => t.seq)).toEqual(history.map((_, i) => i + 1));
    expect(history[0]!.status).toBe('running');
    expect(history.at(-1)!.status).toBe('succeeded');
    expect(view.seq).toBe(history.length);

    // Seven model calls, each attributed with requestMetadata.
    const calls = await callsOf(fx.stack, jobId);
    expect(calls.map((c) => c.requestMetadata.step).sort()).toEqual(
      ['advise.claude', 'advise.llama', 'advise.mistral', 'review.claude', 'review.llama', 'review.mistral', 'synthesize'].sort(),
    );
    for (const c of calls) {
      expect(c.outcome).toBe('ok');
      expect(c.requestMetadata).toMatchObject({ jobId, attempt: '1' });
      expect(c.requestMetadata.worker).toMatch(/:\d+:/);
    }
    // Reviews go by tool use where the circle file says the model can: streamed for Claude,
    // whole (Converse) for Mistral, and as JSON text for Llama 3.
    const review = (id: string) => calls.find((c) => c.requestMetadata.step === `review.${id}`);
    expect(review('claude')).toMatchObject({ tool: true, operation: 'ConverseStream', stopReason: 'tool_use' });
    expect(review('mistral')).toMatchObject({ tool: true, operation: 'Converse', stopReason: 'tool_use' });
    expect(review('llama')?.tool).toBeUndefined();
    expect(view).toMatchObject({ adviceQuality: 'complete', simulated: true, modelCalls: { total: 7, first: 7, retries: 0, repairs: 0 } });
  });

  it('skips the reviews in quick mode and asks only the chosen advisors', async () => {
    const bob = await fx.client('bob');
    const jobId = await submit(bob, { question: 'Which database should a two-person startup pick?', mode: 'quick', advisors: ['claude', 'llama'] });
    const view = await waitForEnd(bob, jobId);
    expect(view.status).toBe('succeeded');
    expect(view.advisors.map((a) => a.id)).toEqual(['claude', 'llama']);
    expect(view.advisors.every((a) => a.review.status === 'skipped')).toBe(true);
    expect(view.synthesis?.text?.length).toBeGreaterThan(50);
    const steps = (await callsOf(fx.stack, jobId)).map((c) => c.requestMetadata.step).sort();
    expect(steps).toEqual(['advise.claude', 'advise.llama', 'synthesize']);
  });

  it('retries throttling and 5xx per the Retry policy and succeeds', async () => {
    const carol = await fx.client('carol');
    const bedrock = bedrockOf(fx.stack);
    await bedrock.inject({ match: { step: 'advise.mistral' }, type: 'throttle', times: 2 });
    await bedrock.inject({ match: { step: 'advise.llama' }, type: 'internal', times: 1 });
    const jobId = await submit(carol, { question: 'Is it worth renovating a 1970s kitchen before selling?', mode: 'quick' });
    const view = await waitForEnd(carol, jobId);
    expect(view.status).toBe('succeeded');
    expect(answerOf(view, 'mistral')).toMatchObject({ status: 'succeeded', attempt: 3 });
    expect(answerOf(view, 'llama')).toMatchObject({ status: 'succeeded', attempt: 2 });

    const calls = await callsOf(fx.stack, jobId);
    const outcomes = (step: string) => calls.filter((c) => c.requestMetadata.step === step).map((c) => [c.requestMetadata.attempt, c.outcome]);
    expect(outcomes('advise.mistral')).toEqual([
      ['1', 'throttled'],
      ['2', 'throttled'],
      ['3', 'ok'],
    ]);
    expect(outcomes('advise.llama')).toEqual([
      ['1', 'error'],
      ['2', 'ok'],
    ]);
    // Throttling waits IntervalSeconds (1.5 s), then BackoffRate × that (3 s): the retry never comes early.
    const mistral = calls.filter((c) => c.requestMetadata.step === 'advise.mistral');
    expect(mistral[1]!.at - mistral[0]!.at).toBeGreaterThanOrEqual(1500);
    expect(mistral[2]!.at - mistral[1]!.at).toBeGreaterThanOrEqual(3000);
  });

  it('gives advice from two advisors when the third fails for good, and says so', async () => {
    const dave = await fx.client('dave');
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'internal', times: -1 });
    const jobId = await submit(dave, { question: 'Should I learn Rust or Go first for backend work?', mode: 'quick' });
    const view = await waitForEnd(dave, jobId);
    expect(view.status).toBe('succeeded');
    expect(answerOf(view, 'llama')).toMatchObject({ status: 'failed', error: { error: 'InternalServerException' } });
    expect(view.notes.join(' ')).toMatch(/Llama/);
    expect(view.synthesis?.text).toBeTruthy();
    // 1 attempt + MaxAttempts 2 retries, then caught.
    expect((await callsOf(fx.stack, jobId)).filter((c) => c.requestMetadata.step === 'advise.llama')).toHaveLength(3);
  });

  it('fails the job with a readable reason when two of three advisors fail', async () => {
    const erin = await fx.client('erin');
    const bedrock = bedrockOf(fx.stack);
    await bedrock.inject({ match: { step: 'advise.mistral' }, type: 'internal', times: -1 });
    await bedrock.inject({ match: { step: 'advise.llama' }, type: 'internal', times: -1 });
    const jobId = await submit(erin, { question: 'Do I need a lawyer to register a trademark?' });
    const view = await waitForEnd(erin, jobId);
    expect(view.status).toBe('failed');
    expect(view.reason).toMatch(/1 of 3 advisors/);
    expect(view.reason).toMatch(/Mistral|mistral/);
    expect(view.reason).toMatch(/Llama|llama/);
    expect(view.reason).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    expect((await callsOf(fx.stack, jobId)).some((c) => c.requestMetadata.step === 'synthesize')).toBe(false);
  });

  it('cancels a running job at the owner’s request and stops calling models', async () => {
    const frank = await fx.client('frank');
    await bedrockOf(fx.stack).inject({ match: { kind: 'advise' }, type: 'timeout', times: -1 });
    const jobId = await submit(frank, { question: 'Should we move our office to a smaller city?' });
    await eventually(async () => ((await stepsOf(fx.stack, jobId))['advise.claude']?.status === 'running' ? true : undefined), 'the job to start');
    expect((await (await fx.client('mallory')).post(`/jobs/${jobId}/cancel`)).status).toBe(404);
    expect((await frank.post(`/jobs/${jobId}/cancel`)).status).toBe(202);
    const view = await waitForEnd(frank, jobId);
    expect(view.status).toBe('cancelled');
    // The hung calls were aborted, and nothing else was asked of the models.
    const calls = await eventually(async () => {
      const c = await callsOf(fx.stack, jobId);
      return c.every((x) => x.outcome !== 'pending') ? c : undefined;
    }, 'the aborted calls to close');
    expect(calls.every((c) => c.requestMetadata.step?.startsWith('advise.'))).toBe(true);
    expect((await frank.post(`/jobs/${jobId}/cancel`)).status).toBe(409);
  });

  it('replays every recorded conversation to its recorded outcome', async () => {
    const gina = await fx.client('gina');
    for (const recording of loadRecordings()) {
      const jobId = await submit(gina, { question: recording.question, mode: recording.mode, advisors: recording.advisors });
      const view = await waitForEnd(gina, jobId);
      expect(view.status, recording.name).toBe(recording.expected.status);
      expect(view.synthesis?.confidence, recording.name).toBe(recording.expected.confidence);
      for (const advisor of recording.advisors) {
        expect(answerOf(view, advisor).text, `${recording.name}: ${advisor}`).toBe(recording.replies[`advise.${advisor}`]!.join(''));
      }
      const calls = await callsOf(fx.stack, jobId);
      expect(calls.every((c) => c.recording === recording.name)).toBe(true);
    }
  });

  it('shows another user’s job as not found', async () => {
    const alice = await fx.client('alice');
    const jobId = await submit(alice, { question: 'What should I cook for twelve people on a budget?', mode: 'quick' });
    const mallory = await fx.client('mallory');
    const res = await mallory.get<{ error: { code: string } }>(`/jobs/${jobId}`);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    const list = await mallory.get<{ items: { jobId: string }[] }>('/jobs');
    expect(list.body.items.map((i) => i.jobId)).not.toContain(jobId);
    await waitForView(alice, jobId, (v) => v.status === 'succeeded', 'alice to see her advice');
  });

  it('answers a follow-up in the context of the conversation, for its owner only', async () => {
    const hana = await fx.client('hana');
    const first = await hana.post<{ jobId: string; conversationId: string }>('/chat', { question: 'Should I sell my car and rely on cycling?', mode: 'quick' });
    expect(first.status).toBe(202);
    expect(first.body.conversationId).toBe(first.body.jobId);
    expect((await waitForEnd(hana, first.body.jobId)).status).toBe('succeeded');

    const question = 'What about the winter months?';
    const followUp = await hana.post<{ jobId: string; conversationId: string }>('/chat', { question, mode: 'quick', conversationId: first.body.conversationId });
    expect(followUp.status).toBe(202);
    expect(followUp.body.conversationId).toBe(first.body.conversationId);
    const standalone = await submit(hana, { question, mode: 'quick' });
    const [inContext, alone] = await Promise.all([waitForEnd(hana, followUp.body.jobId), waitForEnd(hana, standalone)]);
    expect(inContext.status).toBe('succeeded');
    expect(inContext.conversationId).toBe(first.body.conversationId);
    // The advisors saw the earlier turn: the same question reads differently in context.
    for (const id of ['claude', 'mistral', 'llama']) {
      expect(answerOf(inContext, id).text).not.toBe(answerOf(alone, id).text);
    }
    expect(answerOf(inContext, 'claude').text).toMatch(/car|cycling/i);

    // Nobody else can continue hana's conversation, and a refused follow-up stores nothing.
    const ivan = await fx.client('ivan');
    const before = (await ivan.get<{ items: unknown[] }>('/jobs')).body.items.length;
    const refused = await ivan.post<{ error: { code: string } }>('/chat', { question: 'And in summer?', conversationId: first.body.conversationId });
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('not_found');
    expect((await ivan.get<{ items: unknown[] }>('/jobs')).body.items).toHaveLength(before);
  });
});
