/**
 * Tool use, guardrails, misbehaviour and the bad-day switch of the Bedrock stand-in, through
 * the real @aws-sdk/client-bedrock-runtime client and the worker's own adapter and readers.
 */
import { ConverseStreamCommand, type ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { beforeEach, describe, expect, it } from 'vitest';
import { BedrockControlError } from '../../services/local/bedrock/control-client.js';
import { BLOCKED_MESSAGE, loadMisbehaviours } from '../../services/local/bedrock/misbehaviour.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { failure, withBedrockSdk } from '../support/bedrock-sdk.js';
import { ModelCallError } from '../../services/shared/errors.js';
import type { ModelRequest, ModelResponse } from '../../services/shared/ports/model-client.js';
import { buildAdvicePrompt, buildReviewPrompt, buildSynthesisPrompt, type Prompt } from '../../services/worker/prompts.js';
import { readReview } from '../../services/worker/review-parser.js';
import { interpretResponse } from '../../services/worker/step-output.js';

const circle = loadCircle();
const [claude, mistral, llama] = circle.advisors;
if (!claude || !mistral || !llama) throw new Error('the default circle has three advisors');
const question = 'Should we open a second office in Lisbon next year?';
const answers = [
  { label: 'A', text: 'Open it, but only after two clients there have signed.' },
  { label: 'B', text: 'Wait a year: measure demand with a part-time presence first.' },
];

const bedrock = withBedrockSdk({ firstTokenDelayMs: 2, tokenDelayMs: 0 });

beforeEach(() => bedrock.control.reset());

/** A request as the step runner builds it, collecting the streamed deltas. */
function request(prompt: Prompt, modelId: string, extra: Partial<ModelRequest> = {}): ModelRequest & { deltas: string[] } {
  const deltas: string[] = [];
  return {
    modelId,
    system: prompt.system,
    messages: prompt.messages,
    inference: { maxTokens: 1024 },
    requestMetadata: { jobId: 'job-tools', step: 'review.claude', attempt: '1' },
    signal: new AbortController().signal,
    onDelta: (d) => deltas.push(d),
    ...(prompt.tool ? { tool: prompt.tool } : {}),
    deltas,
    ...extra,
  };
}

const reviewPrompt = (choice?: 'tool' | 'any' | 'auto', persona = claude.persona): Prompt =>
  buildReviewPrompt({ persona, question, answers, ...(choice ? { toolUse: { choice } } : {}) });

describe('tool-use reviews through the real SDK client', () => {
  it('streams a forced tool call: contentBlockStart.start.toolUse, toolUse input fragments, stopReason tool_use', async () => {
    const prompt = reviewPrompt('tool');
    // The wire as the SDK decodes it.
    const raw = await bedrock.sdk.send(
      new ConverseStreamCommand({
        modelId: claude.modelId,
        system: [{ text: prompt.system }],
        messages: [{ role: 'user', content: [{ text: prompt.messages[0]!.text }] }],
        toolConfig: {
          tools: [{ toolSpec: { name: prompt.tool!.name, description: prompt.tool!.description, inputSchema: { json: prompt.tool!.inputSchema as never } } }],
          toolChoice: { tool: { name: prompt.tool!.name } },
        },
      }),
    );
    const events: ConverseStreamOutput[] = [];
    for await (const event of raw.stream!) events.push(event);
    const start = events.find((e) => e.contentBlockStart)?.contentBlockStart;
    expect(start?.start?.toolUse).toMatchObject({ name: 'submit_review', toolUseId: expect.stringMatching(/^tooluse_/) });
    const fragments = events.flatMap((e) => (e.contentBlockDelta?.delta?.toolUse?.input !== undefined ? [e.contentBlockDelta.delta.toolUse.input] : []));
    expect(fragments.length).toBeGreaterThan(3);
    expect(events.some((e) => e.contentBlockDelta?.delta?.text)).toBe(false);
    expect(events.find((e) => e.messageStop)?.messageStop).toMatchObject({ stopReason: 'tool_use', additionalModelResponseFields: { simulated: true } });

    // The worker's adapter reads the same call into a review.
    const req = request(prompt, claude.modelId);
    const response = await bedrock.models.converseStream(req);
    expect(response).toMatchObject({ stopReason: 'tool_use', simulated: true, text: '' });
    expect(response.toolUse?.name).toBe('submit_review');
    expect(req.deltas.join('')).toBe(response.toolUse?.inputText);
    const read = readReview({ text: response.text, toolInput: response.toolUse?.input }, ['A', 'B']);
    expect(read.ok && [...read.value.ranking].sort()).toEqual(['A', 'B']);
  });

  it('answers a tool call whole through Converse for a model that cannot stream one', async () => {
    const req = request(reviewPrompt('auto', mistral.persona), mistral.modelId);
    const response = await bedrock.models.converse(req);
    expect(response.stopReason).toBe('tool_use');
    expect(response.toolUse?.input).toMatchObject({ ranking: expect.any(Array), critiques: expect.any(Object) });
    expect(req.deltas).toEqual([response.toolUse?.inputText]);
    expect((await bedrock.control.calls())[0]).toMatchObject({ operation: 'Converse', tool: true, outcome: 'ok', stopReason: 'tool_use' });
  });

  it('rejects tool calls a model cannot make, with Bedrock’s ValidationException', async () => {
    const streamed = await failure(bedrock.models.converseStream(request(reviewPrompt('auto', mistral.persona), mistral.modelId)));
    expect(streamed.errorName).toBe('ValidationException');
    expect(streamed.message).toMatch(/tool use in streaming mode/);
    const none = await failure(bedrock.models.converse(request(reviewPrompt('auto', llama.persona), llama.modelId)));
    expect(none.message).toMatch(/doesn.t support tool use/);
    const forced = await failure(bedrock.models.converse(request(reviewPrompt('tool', mistral.persona), mistral.modelId)));
    expect(forced.message).toMatch(/toolConfig\.toolChoice\.tool/);
  });

  it('follows the circle file: every tool-using member’s configured call is accepted', async () => {
    for (const member of circle.advisors.filter((a) => a.toolUse)) {
      const req = request(reviewPrompt(member.toolUse!.choice, member.persona), member.modelId);
      const response = member.toolUse!.streaming ? await bedrock.models.converseStream(req) : await bedrock.models.converse(req);
      expect(response.toolUse?.name, member.id).toBe('submit_review');
    }
  });

  it('cuts a streamed tool call at maxTokens: stopReason max_tokens and an input that is not whole JSON', async () => {
    const response = await bedrock.models.converseStream(request(reviewPrompt('tool'), claude.modelId, { inference: { maxTokens: 8 } }));
    expect(response.stopReason).toBe('max_tokens');
    expect(response.toolUse?.input).toBeUndefined();
    expect(interpretResponse('review', response, ['A', 'B'])).toMatchObject({ truncated: true, problem: expect.stringMatching(/cut off at the token limit/) });
  });
});

describe('guardrails through the real SDK client', () => {
  const guardrail = { identifier: 'abc123guard', version: '1', trace: 'enabled' as const };

  it('intervenes on a call with a guardrail: stopReason guardrail_intervened, the blocked message, a trace', async () => {
    await bedrock.control.inject({ type: 'misbehave', case: 'guardrail-intervenes', match: { step: 'synthesize' } });
    const prompt = buildSynthesisPrompt({ chairPersona: circle.chair.persona, question, answers: [{ advisorName: 'Claude', text: 'Go.' }], mode: 'quick' });
    const req = request(prompt, circle.chair.modelId, { guardrail, requestMetadata: { jobId: 'job-g', step: 'synthesize', attempt: '1' } });
    const response: ModelResponse = await bedrock.models.converseStream(req);
    expect(response).toMatchObject({ stopReason: 'guardrail_intervened', text: BLOCKED_MESSAGE });
    const err = (() => {
      try {
        interpretResponse('synthesize', response, []);
      } catch (e) {
        return e as ModelCallError;
      }
      throw new Error('expected the blocked answer to fail the step');
    })();
    expect(err).toMatchObject({ errorName: 'Model.GuardrailIntervened', message: 'the content guardrail blocked this answer' });
    expect((await bedrock.control.calls({ jobId: 'job-g' }))[0]).toMatchObject({ outcome: 'blocked', stopReason: 'guardrail_intervened', misbehaviour: 'guardrail-intervenes' });
  });

  it('reports the model’s content filter when the call carries no guardrail', async () => {
    await bedrock.control.inject({ type: 'misbehave', case: 'guardrail-intervenes' });
    const response = await bedrock.models.converse(request(buildAdvicePrompt({ persona: llama.persona, question }), llama.modelId));
    expect(response.stopReason).toBe('content_filtered');
    expect(() => interpretResponse('advise', response, [])).toThrow('the model\u2019s content filter blocked this answer');
  });

  it('rejects a guardrail identifier Bedrock would reject', async () => {
    const err = await failure(bedrock.models.converseStream(request(buildAdvicePrompt({ persona: llama.persona, question }), llama.modelId, { guardrail: { identifier: 'Not A Guardrail!', version: '1' } })));
    expect(err.errorName).toBe('ValidationException');
  });
});

describe('misbehaviour corpus through the real SDK client', () => {
  const cases = loadMisbehaviours();

  it('holds at least 30 cases, each with what a user should end up with', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.flatMap((c) => c.kinds.map((kind) => ({ id: c.id, kind, expect: c.expect[kind]!, tool: Boolean(c.alsoToolUse) }))))(
    'arms $id on a $kind call and the worker reads it as expected',
    async ({ id, kind, expect: expected, tool }) => {
      await bedrock.control.inject({ type: 'misbehave', case: id, match: { question: 'Lisbon' }, times: tool ? 2 : 1 });
      const variants: { prompt: Prompt; modelId: string; stream: boolean; guardrail?: ModelRequest['guardrail'] }[] =
        kind === 'advise'
          ? [{ prompt: buildAdvicePrompt({ persona: llama.persona, question }), modelId: llama.modelId, stream: true }]
          : kind === 'review'
            ? [
                { prompt: reviewPrompt(undefined, llama.persona), modelId: llama.modelId, stream: true },
                ...(tool ? [{ prompt: reviewPrompt('tool'), modelId: claude.modelId, stream: true }] : []),
              ]
            : [
                {
                  prompt: buildSynthesisPrompt({ chairPersona: circle.chair.persona, question, answers: [{ advisorName: 'Claude', text: answers[0]!.text }, { advisorName: 'Llama', text: answers[1]!.text }], mode: 'quick' }),
                  modelId: circle.chair.modelId,
                  stream: true,
                },
              ];
      const guardrail = expected.step === 'advise.mistral' || expected.step === 'review.mistral' || kind === 'synthesize' ? { identifier: 'abc123guard', version: '1' } : undefined;
      for (const v of variants) {
        const req = request(v.prompt, v.modelId, { ...(guardrail ? { guardrail } : {}), inference: { maxTokens: kind === 'synthesize' ? 2048 : 1024 } });
        const response = await bedrock.models.converseStream(req);
        let read;
        try {
          read = interpretResponse(kind, response, ['A', 'B']);
        } catch (err) {
          expect(['step-failed', 'unsynthesized']).toContain(expected.outcome);
          expect(err).toBeInstanceOf(ModelCallError);
          continue;
        }
        if (expected.outcome === 'usable') expect(read.problem, read.text).toBeUndefined();
        else expect(read.problem, read.text).toBeTruthy();
        if (expected.truncated) expect(read.truncated).toBe(true);
        expect(read.text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
        if (expected.confidence && read.parsed?.kind === 'synthesis') expect(read.parsed.confidence).toBe(expected.confidence);
      }
      const logged = await bedrock.control.calls();
      expect(logged.every((c) => c.misbehaviour === id)).toBe(true);
    },
  );

  it('rejects a misbehave fault that names no case of the corpus, with a readable 400', async () => {
    const err = await bedrock.control.inject({ type: 'misbehave', case: 'no-such-case' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BedrockControlError);
    expect((err as Error).message).toMatch(/no misbehaviour case "no-such-case"/);
    const bare = await bedrock.control.inject({ type: 'misbehave' }).catch((e: unknown) => e);
    expect((bare as Error).message).toMatch(/names a case/);
  });
});

describe('the bad-day switch', () => {
  const advise = (jobId: string, step = 'advise.claude', attempt = '1') =>
    bedrock.models.converseStream(request(buildAdvicePrompt({ persona: claude.persona, question }), claude.modelId, { requestMetadata: { jobId, step, attempt } }));

  it('makes calls misbehave at the configured rate, never a repair, and stops when switched off', async () => {
    await bedrock.control.configure({ badDay: { rate: 1, seed: 'test' } });
    for (let i = 0; i < 5; i++) await advise(`job-bad-${i}`).catch(() => undefined);
    const repair = buildReviewPrompt({ persona: llama.persona, question, answers, repair: { previous: 'Both are fine.', problem: 'it contains no JSON object' } });
    const repaired = await bedrock.models.converseStream(request(repair, llama.modelId, { requestMetadata: { jobId: 'job-bad-r', step: 'review.llama', attempt: '2' } }));
    expect(readReview({ text: repaired.text }, ['A', 'B']).ok).toBe(true);
    const calls = await bedrock.control.calls();
    expect(calls.filter((c) => !c.repair).every((c) => typeof c.misbehaviour === 'string')).toBe(true);
    expect(calls.find((c) => c.repair)).toMatchObject({ repair: true });
    expect(calls.find((c) => c.repair)?.misbehaviour).toBeUndefined();

    await bedrock.control.configure({ badDay: null });
    await advise('job-good');
    expect((await bedrock.control.calls({ jobId: 'job-good' }))[0]?.misbehaviour).toBeUndefined();
  });

  it('draws the same misbehaviour for the same call, and about the configured share of calls', async () => {
    await bedrock.control.configure({ badDay: { rate: 0.3, seed: 'share' } });
    for (let i = 0; i < 30; i++) await advise(`job-share-${i}`).catch(() => undefined);
    const first = (await bedrock.control.calls()).map((c) => c.misbehaviour ?? '-');
    await bedrock.control.reset();
    await bedrock.control.configure({ badDay: { rate: 0.3, seed: 'share' } });
    for (let i = 0; i < 30; i++) await advise(`job-share-${i}`).catch(() => undefined);
    expect((await bedrock.control.calls()).map((c) => c.misbehaviour ?? '-')).toEqual(first);
    const share = first.filter((m) => m !== '-').length / first.length;
    expect(share).toBeGreaterThan(0.1);
    expect(share).toBeLessThan(0.55);
  });
});
