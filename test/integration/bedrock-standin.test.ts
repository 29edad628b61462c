import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import net from 'node:net';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { BedrockControlError } from '../../services/local/bedrock/control-client.js';
import { loadRecordings } from '../../services/local/bedrock/recordings.js';
import { getFreePort } from '../../services/local/free-port.js';
import { BedrockModelClient } from '../../services/shared/adapters/aws/bedrock-model-client.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { failure, withBedrockSdk } from '../support/bedrock-sdk.js';
import type { ModelRequest } from '../../services/shared/ports/model-client.js';
import { buildAdvicePrompt, buildReviewPrompt, buildSynthesisPrompt, type Prompt } from '../../services/worker/prompts.js';
import { readReview } from '../../services/worker/review-parser.js';
import { readSynthesis } from '../../services/worker/synthesis-parser.js';

const parseReview = (text: string, labels: string[]) => {
  const read = readReview({ text }, labels);
  if (!read.ok) throw new Error(read.problem);
  return read.value;
};
const parseSynthesis = (text: string) => {
  const read = readSynthesis(text);
  if (!read.ok) throw new Error(read.problem);
  return read.value;
};

const circle = loadCircle();
const [claude, mistral, llama] = circle.advisors;
if (!claude || !mistral || !llama) throw new Error('the default circle has three advisors');
const question = 'Should we open a second office in Lisbon next year?';

const bedrock = withBedrockSdk({ firstTokenDelayMs: 5, tokenDelayMs: 0 });

beforeEach(async () => {
  await bedrock.control.reset();
});

interface CallOptions {
  modelId?: string;
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  /** Also told each delta as it arrives (a failed call returns none). */
  onDelta?: (text: string) => void;
  beforeSend?: () => Promise<void>;
}

/** Streams a prompt through the real adapter, collecting the deltas. */
async function call(prompt: Prompt, opts: CallOptions = {}) {
  const deltas: string[] = [];
  const request: ModelRequest = {
    modelId: opts.modelId ?? claude!.modelId,
    system: prompt.system,
    messages: prompt.messages,
    inference: { maxTokens: 1024, temperature: 0.5 },
    requestMetadata: opts.metadata ?? { jobId: 'job-1', step: 'advise.claude', attempt: '1', worker: 'test' },
    signal: opts.signal ?? new AbortController().signal,
    onDelta: (d) => {
      deltas.push(d);
      opts.onDelta?.(d);
    },
    ...(opts.beforeSend ? { beforeSend: opts.beforeSend } : {}),
  };
  const response = await bedrock.models.converseStream(request);
  return { ...response, deltas };
}

const advicePrompt = (member = claude!, q = question): Prompt => buildAdvicePrompt({ persona: member.persona, question: q });

describe('Bedrock stand-in', () => {
  it('serves the default SDK client over HTTP/2 without TLS', () => {
    expect(bedrock.sdk.config.requestHandler.metadata?.handlerProtocol).toBe('h2');
  });

  it('streams an advise answer as many deltas that make up the final text, with usage', async () => {
    const result = await call(advicePrompt());
    expect(result.deltas.length).toBeGreaterThan(50);
    expect(result.deltas.join('')).toBe(result.text);
    expect(result.text).toContain('Lisbon');
    expect(result.stopReason).toBe('end_turn');
    expect(result.simulated).toBe(true);
    expect(result.usage.inputTokens).toBeGreaterThan(50);
    expect(result.usage.outputTokens).toBe(result.deltas.length);
  });

  it('answers the same question with the same text and different models differently', async () => {
    const first = await call(advicePrompt(claude));
    const again = await call(advicePrompt(claude));
    const other = await call(advicePrompt(mistral), { modelId: mistral!.modelId });
    const third = await call(advicePrompt(llama), { modelId: llama!.modelId });
    expect(again.text).toBe(first.text);
    expect(new Set([first.text, other.text, third.text]).size).toBe(3);
  });

  it('stops at maxTokens the way Bedrock does', async () => {
    const prompt = advicePrompt();
    const response = await bedrock.models.converseStream({
      modelId: claude!.modelId,
      system: prompt.system,
      messages: prompt.messages,
      inference: { maxTokens: 10 },
      requestMetadata: {},
      signal: new AbortController().signal,
    });
    expect(response.stopReason).toBe('max_tokens');
    expect(response.usage.outputTokens).toBe(10);
  });

  it('streams a [[size:N]] answer of N bytes whatever maxTokens says, for limit tests', async () => {
    const result = await call(advicePrompt(claude, 'Tell me everything about Lisbon [[size:200000]]'));
    expect(Buffer.byteLength(result.text)).toBe(200_000);
    expect(result.deltas.length).toBeLessThanOrEqual(2000);
    expect(result.deltas.join('')).toBe(result.text);
  });

  it('reviews with JSON that the review parser accepts for the labels in the prompt', async () => {
    const answers = [
      { label: 'A', text: (await call(advicePrompt(mistral), { modelId: mistral!.modelId })).text },
      { label: 'B', text: (await call(advicePrompt(llama), { modelId: llama!.modelId })).text },
      { label: 'C', text: 'Open the office only if two clients there sign first.' },
    ];
    const result = await call(buildReviewPrompt({ persona: claude!.persona, question, answers }), {
      metadata: { jobId: 'job-1', step: 'review.claude', attempt: '1' },
    });
    const parsed = parseReview(result.text, ['A', 'B', 'C']);
    expect([...parsed.ranking].sort()).toEqual(['A', 'B', 'C']);
    expect(Object.keys(parsed.critiques).sort()).toEqual(['A', 'B', 'C']);
  });

  it('chairs a synthesis that the synthesis parser accepts and that names the advisors', async () => {
    const answers = [];
    for (const m of [claude!, mistral!, llama!]) answers.push({ advisorName: m.name, text: (await call(advicePrompt(m), { modelId: m.modelId })).text });
    const prompt = buildSynthesisPrompt({
      chairPersona: circle.chair.persona,
      question,
      answers,
      mode: 'full',
      reviews: [
        { reviewerName: 'Claude', ranking: ['A', 'B'], critiques: { A: 'Practical.', B: 'Too cautious.' } },
        { reviewerName: 'Mistral', ranking: ['B', 'A'], critiques: { A: 'Vague.', B: 'Careful.' } },
      ],
      labelMap: { Claude: { A: 'Mistral', B: 'Llama' }, Mistral: { A: 'Claude', B: 'Llama' } },
      aggregate: [
        { advisorName: 'Llama', meanPosition: 1.5, votes: 2 },
        { advisorName: 'Mistral', meanPosition: 1, votes: 1 },
        { advisorName: 'Claude', meanPosition: 2, votes: 1 },
      ],
    });
    const result = await call(prompt, { modelId: circle.chair.modelId, metadata: { jobId: 'job-1', step: 'synthesize', attempt: '1' } });
    const parsed = parseSynthesis(result.text);
    expect(['high', 'medium', 'low']).toContain(parsed.confidence);
    expect(`${parsed.recommendation} ${parsed.agreement} ${parsed.dissent}`).toMatch(/Claude|Mistral|Llama/);
    const [entry] = await bedrock.control.calls({ step: 'synthesize' });
    expect(entry?.kind).toBe('synthesize');
  });

  it.each([
    ['throttle', 'ThrottlingException', 429],
    ['unavailable', 'ServiceUnavailableException', 503],
    ['internal', 'InternalServerException', 500],
  ] as const)('surfaces a %s fault as %s with HTTP %i', async (type, errorName, status) => {
    await bedrock.control.inject({ type });
    const err = await failure(call(advicePrompt()));
    expect(err.errorName).toBe(errorName);
    expect((err.cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(status);
    expect((await call(advicePrompt())).text.length).toBeGreaterThan(0);
  });

  it('surfaces a midstream fault as ModelStreamErrorException after some deltas', async () => {
    await bedrock.control.inject({ type: 'midstream' });
    const deltas: string[] = [];
    const err = await failure(call(advicePrompt(), { metadata: { jobId: 'job-mid', step: 'advise.claude', attempt: '1' }, onDelta: (d) => deltas.push(d) }));
    expect(err.errorName).toBe('ModelStreamErrorException');
    expect(deltas.length).toBeGreaterThan(0);
    const [entry] = await bedrock.control.calls({ jobId: 'job-mid' });
    expect(entry).toMatchObject({ outcome: 'midstream-error', error: 'ModelStreamErrorException', outputTokens: deltas.length });
  });

  it('sends a call only once its beforeSend has passed, and never one whose beforeSend refuses', async () => {
    const refused = await failure(
      call(advicePrompt(), { metadata: { jobId: 'job-fenced', step: 'advise.claude', attempt: '1' }, beforeSend: () => Promise.reject(new Error('the lease is lost')) }),
    );
    expect(refused.message).toMatch(/the lease is lost/);
    expect(await bedrock.control.calls({ jobId: 'job-fenced' })).toEqual([]);
    let seenBeforeSend = -1;
    const answered = await call(advicePrompt(), {
      metadata: { jobId: 'job-sent', step: 'advise.claude', attempt: '1' },
      beforeSend: async () => {
        seenBeforeSend = (await bedrock.control.calls({ jobId: 'job-sent' })).length;
      },
    });
    expect(answered.text.length).toBeGreaterThan(0);
    expect(seenBeforeSend).toBe(0);
    expect(await bedrock.control.calls({ jobId: 'job-sent' })).toHaveLength(1);
  });

  it('fails only the matching calls, as many times as asked', async () => {
    await bedrock.control.inject({ type: 'throttle', times: 2, match: { jobId: 'job-t', step: 'advise.llama' } });
    const llamaCall = () => call(advicePrompt(llama), { modelId: llama!.modelId, metadata: { jobId: 'job-t', step: 'advise.llama', attempt: '1' } });
    await call(advicePrompt(), { metadata: { jobId: 'job-t', step: 'advise.claude', attempt: '1' } });
    expect((await failure(llamaCall())).errorName).toBe('ThrottlingException');
    expect((await failure(llamaCall())).errorName).toBe('ThrottlingException');
    expect((await llamaCall()).text.length).toBeGreaterThan(0);
    expect(await bedrock.control.faults()).toEqual([]);
    const outcomes = (await bedrock.control.calls({ jobId: 'job-t' })).map((c) => `${c.requestMetadata.step}:${c.outcome}`);
    expect(outcomes).toEqual(['advise.claude:ok', 'advise.llama:throttled', 'advise.llama:throttled', 'advise.llama:ok']);
  });

  it('keeps a fault with times -1 until reset', async () => {
    await bedrock.control.inject({ type: 'unavailable', times: -1, match: { kind: 'advise' } });
    for (let i = 0; i < 3; i++) expect((await failure(call(advicePrompt()))).errorName).toBe('ServiceUnavailableException');
    await bedrock.control.reset();
    expect((await call(advicePrompt())).text.length).toBeGreaterThan(0);
  });

  it('answers a scripted text, streamed in pieces, to the calls whose question contains the given text', async () => {
    const text = 'Plain **scripted** answer <img src=x onerror=alert(1)> with [a link](javascript:alert(1)).';
    await bedrock.control.script({ match: { question: 'LISBON   next', kind: 'advise' }, text, times: 2 });
    const scripted = await call(advicePrompt());
    expect(scripted.text).toBe(text);
    expect(scripted.deltas.length).toBeGreaterThan(5);
    expect(scripted.deltas.join('')).toBe(text);
    expect((await call(advicePrompt(claude, 'Should we hire a second designer?'))).text).not.toBe(text);
    expect((await call(advicePrompt())).text).toBe(text);
    expect(await bedrock.control.replies()).toEqual([]);
    expect((await call(advicePrompt())).text).not.toBe(text);
  });

  it('fails calls matched by their question, and forgets scripted replies on reset', async () => {
    await bedrock.control.inject({ type: 'internal', times: -1, match: { question: 'second office' } });
    await bedrock.control.script({ match: { question: 'designer' }, text: 'Hire them.', times: -1 });
    expect((await failure(call(advicePrompt()))).errorName).toBe('InternalServerException');
    expect((await call(advicePrompt(claude, 'Should we hire a second designer?'))).text).toBe('Hire them.');
    await bedrock.control.reset();
    expect(await bedrock.control.replies()).toEqual([]);
    expect((await call(advicePrompt(claude, 'Should we hire a second designer?'))).text).not.toBe('Hire them.');
  });

  it('maps the SDK\'s own TimeoutError (a connection reset mid-request) to ServiceUnavailableException, which the circle retries', async () => {
    // A server that reads the request and resets the connection, as a load balancer closing a kept-alive connection does.
    const resetting = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    const { port } = resetting.address() as net.AddressInfo;
    const h1 = new BedrockRuntimeClient({ maxAttempts: 1, endpoint: `http://127.0.0.1:${port}`, requestHandler: new NodeHttpHandler() });
    try {
      const err = await failure(new BedrockModelClient(h1).converseStream({ modelId: claude!.modelId, ...advicePrompt(), inference: {}, requestMetadata: {}, signal: new AbortController().signal }));
      // The SDK names ECONNRESET "TimeoutError" and adds $metadata; no Retry rule of the circle lists that name.
      expect((err.cause as { name?: string }).name).toBe('TimeoutError');
      expect(err.errorName).toBe('ServiceUnavailableException');
      expect(circle.policies.advise.Retry.some((r) => r.ErrorEquals.includes(err.errorName))).toBe(true);
    } finally {
      h1.destroy();
      await new Promise((resolve) => resetting.close(resolve));
    }
  });

  it('maps a hanging call cut off by AbortSignal.timeout to States.Timeout', async () => {
    await bedrock.control.inject({ type: 'timeout', match: { jobId: 'job-slow' } });
    const signal = AbortSignal.any([new AbortController().signal, AbortSignal.timeout(200)]);
    const err = await failure(call(advicePrompt(), { signal, metadata: { jobId: 'job-slow', step: 'advise.claude', attempt: '1' } }));
    expect(err.errorName).toBe('States.Timeout');
    await vi.waitFor(async () => expect((await bedrock.control.calls({ jobId: 'job-slow' }))[0]?.outcome).toBe('timeout'));
  });

  it('maps an abort during the stream to States.Aborted and stops streaming', async () => {
    await bedrock.control.configure({ tokenDelayMs: 5 });
    const controller = new AbortController();
    const prompt = advicePrompt();
    let seen = 0;
    const err = await failure(
      call(prompt, {
        metadata: { jobId: 'job-abort', step: 'advise.claude', attempt: '1' },
        signal: controller.signal,
        onDelta: () => {
          if (++seen === 3) controller.abort();
        },
      }),
    );
    expect(err.errorName).toBe('States.Aborted');
    await vi.waitFor(async () => expect((await bedrock.control.calls({ jobId: 'job-abort' }))[0]?.outcome).toBe('aborted'));
    const [entry] = await bedrock.control.calls({ jobId: 'job-abort' });
    await bedrock.control.configure({ tokenDelayMs: 0 });
    const whole = await call(prompt);
    expect(entry!.outputTokens).toBeLessThan(whole.usage.outputTokens);
  });

  it('records every call with its model, requestMetadata, kind and outcome', async () => {
    const metadata = { jobId: 'job-log', step: 'advise.mistral', attempt: '2', worker: 'w-1' };
    await bedrock.control.inject({ type: 'throttle', match: { jobId: 'job-log' } });
    await failure(call(advicePrompt(mistral), { modelId: mistral!.modelId, metadata }));
    const ok = await call(advicePrompt(mistral), { modelId: mistral!.modelId, metadata });
    const calls = await bedrock.control.calls({ jobId: 'job-log' });
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ modelId: mistral!.modelId, operation: 'ConverseStream', requestMetadata: metadata, kind: 'advise', outcome: 'throttled', outputTokens: 0 });
    expect(calls[1]).toMatchObject({ requestMetadata: metadata, outcome: 'ok', outputTokens: ok.usage.outputTokens, inputTokens: ok.usage.inputTokens });
    expect(calls[1]!.seq).toBeGreaterThan(calls[0]!.seq);
  });

  it('replays every recorded conversation exactly', async () => {
    const recordings = loadRecordings();
    expect(recordings.length).toBeGreaterThanOrEqual(2);
    for (const rec of recordings) {
      for (const [key, chunks] of Object.entries(rec.replies)) {
        const [kind, advisorId] = key.split('.') as ['advise' | 'review' | 'synthesize', string];
        const member = kind === 'synthesize' ? circle.chair : circle.advisors.find((a) => a.id === advisorId)!;
        const prompt =
          kind === 'advise'
            ? buildAdvicePrompt({ persona: member.persona, question: rec.question })
            : kind === 'review'
              ? buildReviewPrompt({ persona: member.persona, question: rec.question, answers: [{ label: 'A', text: 'a' }, { label: 'B', text: 'b' }] })
              : buildSynthesisPrompt({ chairPersona: member.persona, question: rec.question, answers: [{ advisorName: 'Claude', text: 'x' }], mode: rec.mode });
        const step = kind === 'synthesize' ? 'synthesize' : key;
        const result = await call(prompt, { modelId: member.modelId, metadata: { jobId: `rec-${rec.name}`, step, attempt: '1' } });
        expect(result.deltas).toEqual(chunks);
        if (kind === 'review') parseReview(result.text, ['A', 'B']);
        if (kind === 'synthesize') expect(parseSynthesis(result.text).confidence).toBe(rec.expected.confidence);
      }
      const logged = await bedrock.control.calls({ jobId: `rec-${rec.name}` });
      expect(logged.every((c) => c.recording === rec.name && c.outcome === 'ok')).toBe(true);
    }
  });

  it('rejects a request without messages with ValidationException', async () => {
    const err = await bedrock.sdk.send(new ConverseStreamCommand({ modelId: claude!.modelId, messages: [] })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect((err as Error).message).toMatch(/must start with a user message/);
  });

  it('rejects requestMetadata that Bedrock would reject', async () => {
    const err = await failure(call(advicePrompt(), { metadata: { jobId: 'job!1' } }));
    expect(err.errorName).toBe('ValidationException');
    expect((await bedrock.control.calls())[0]).toMatchObject({ outcome: 'error', error: 'ValidationException' });
  });

  it('answers Converse without streaming too', async () => {
    const prompt = advicePrompt();
    const out = await bedrock.sdk.send(
      new ConverseCommand({ modelId: claude!.modelId, system: [{ text: prompt.system }], messages: [{ role: 'user', content: [{ text: prompt.messages[0]!.text }] }] }),
    );
    const streamed = await call(prompt);
    expect(out.output?.message?.content?.[0]?.text).toBe(streamed.text);
    expect(out.usage?.outputTokens).toBe(streamed.usage.outputTokens);
    expect((await bedrock.control.calls()).map((c) => c.operation)).toEqual(['Converse', 'ConverseStream']);
  });

  it('serves an HTTP/1.1 client on the same endpoint', async () => {
    const h1 = new BedrockRuntimeClient({ maxAttempts: 1, requestHandler: new NodeHttpHandler() });
    try {
      const result = await new BedrockModelClient(h1).converseStream({
        modelId: claude!.modelId,
        ...advicePrompt(),
        inference: {},
        requestMetadata: {},
        signal: new AbortController().signal,
      });
      expect(result.text).toBe((await call(advicePrompt())).text);
    } finally {
      h1.destroy();
    }
  });

  it('maps an unreachable endpoint to ServiceUnavailableException', async () => {
    const dead = new BedrockRuntimeClient({ maxAttempts: 1, endpoint: `http://127.0.0.1:${await getFreePort()}` });
    try {
      const err = await failure(new BedrockModelClient(dead).converseStream({ modelId: claude!.modelId, ...advicePrompt(), inference: {}, requestMetadata: {}, signal: new AbortController().signal }));
      expect(err.errorName).toBe('ServiceUnavailableException');
    } finally {
      dead.destroy();
    }
  });

  it('rejects a scripted reply without text with a readable 400', async () => {
    const err = await bedrock.control.script({ match: { kind: 'advise' }, text: '' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400 });
    expect((err as Error).message).toMatch(/text/);
    expect(await bedrock.control.replies()).toEqual([]);
  });

  it('rejects a malformed fault with a readable 400', async () => {
    const err = await bedrock.control.inject({ type: 'explode' as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BedrockControlError);
    expect(err).toMatchObject({ status: 400 });
    expect((err as Error).message).toMatch(/type/);
  });
});
