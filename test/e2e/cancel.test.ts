/**
 * Cancelling through the whole stack: the API flags the cancel, the worker's cancel watch
 * notices it (the heartbeat is left at its 10 s default, so the heartbeat cannot be what
 * stops the job), aborts the calls in flight and ends the job cancelled. The Bedrock
 * stand-in's `stall` fault keeps calls in flight until they are aborted, so every case is
 * decided by events, not by timing; its call log says when each call arrived and ended.
 */
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobView, StepView } from '../../services/shared/contracts/job.js';
import type { CallLogEntry } from '../../services/local/bedrock/standin.types.js';
import { JobFollower } from '../../services/cli/job-follower.js';
import { withLocalStack } from '../support/local-stack.js';
import { bedrockOf, callsOf, eventually, submit, transitionsOf, waitForEnd } from '../support/jobs.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));

const fx = withLocalStack({
  workers: 2,
  env: { COT_CIRCLE_FILE: TEST_CIRCLE, COT_HEARTBEAT_SECONDS: '10', COT_LEASE_SECONDS: '30', COT_VISIBILITY_SECONDS: '30' },
  // Time for a follower to subscribe before the first tokens of a job are pushed.
  bedrock: { firstTokenDelayMs: 300 },
});

beforeEach(() => bedrockOf(fx.stack).reset());

type Stalled = 'advise' | 'review' | 'synthesize';

/**
 * Submits a question whose `kind` calls stall mid-stream, and resolves once every one of
 * them has streamed text to the worker (seen live over the WebSocket).
 */
async function jobStalledIn(user: string, kind: Stalled): Promise<{ jobId: string; follower: JobFollower }> {
  await bedrockOf(fx.stack).inject({ match: { kind }, type: 'stall', times: -1 });
  const jobId = await submit(await fx.client(user), { question: `Should we stop this ${kind} stage half-way, ${user}?` });
  const expected = kind === 'synthesize' ? ['synthesize'] : ['claude', 'mistral', 'llama'].map((id) => `${kind}.${id}`);
  const streaming = new Set<string>();
  let allStreaming!: () => void;
  const started = new Promise<void>((resolve) => (allStreaming = resolve));
  const follower = new JobFollower({
    wsUrl: fx.stack.wsUrl,
    jobId,
    token: () => fx.tokenFor(user),
    onEvent: (e) => {
      if (e.type !== 'delta') return;
      streaming.add(e.stepId);
      if (expected.every((id) => streaming.has(id))) allStreaming();
    },
  });
  void follower.follow().catch(() => undefined);
  // A review by a model that cannot stream a tool call is one Converse call: no deltas, so
  // it is in flight once the stand-in holds it (its call log says pending). A streamed call
  // whose third went out before the follower subscribed sends no more deltas while it
  // stalls: pending for a few seconds, it is stalled mid-stream.
  const whole = eventually(async () => {
    const held = (await callsOf(fx.stack, jobId)).filter((c) => c.outcome === 'pending' && (c.operation === 'Converse' || Date.now() - c.at > 3000));
    held.forEach((c) => streaming.add(c.requestMetadata.step ?? ''));
    return expected.every((id) => streaming.has(id)) ? true : undefined;
  }, `every ${kind} step in flight`);
  await Promise.race([started, whole]);
  return { jobId, follower };
}

/** POST /jobs/{id}/cancel, with the moments just before it was sent and when its 202 arrived. */
async function cancel(user: string, jobId: string): Promise<{ sentAt: number; acceptedAt: number }> {
  const client = await fx.client(user);
  const sentAt = Date.now();
  const res = await client.post<{ status: string }>(`/jobs/${jobId}/cancel`);
  const acceptedAt = Date.now();
  expect(res.status).toBe(202);
  expect(res.body.status).toBe('cancelling');
  return { sentAt, acceptedAt };
}

/** The job's calls once none is still in flight. */
function settledCalls(jobId: string): Promise<CallLogEntry[]> {
  return eventually(async () => {
    const calls = await callsOf(fx.stack, jobId);
    return calls.every((c) => c.outcome !== 'pending') ? calls : undefined;
  }, `the calls of ${jobId} to end`);
}

/** What every step of a view says, by step id. */
function stepsOfView(view: JobView): Record<string, StepView> {
  const steps: Record<string, StepView> = {};
  for (const a of view.advisors) {
    steps[`advise.${a.id}`] = a.answer;
    steps[`review.${a.id}`] = a.review;
  }
  if (view.synthesis) steps.synthesize = view.synthesis;
  return steps;
}

/** The common outcome of a cancel: a cancelled job whose stalled calls were aborted, none started after. */
async function expectCancelled(user: string, jobId: string, kind: Stalled, at: { sentAt: number; acceptedAt: number }) {
  const view = await waitForEnd(await fx.client(user), jobId);
  expect(view.status).toBe('cancelled');
  expect(view.reason).toBe('Cancelled at your request.');
  expect(view.notes.join(' ')).not.toMatch(/Cancellation requested/);

  const calls = await settledCalls(jobId);
  // Nothing was asked of a model once the cancel had been accepted (a call starts only after
  // the commit that schedules it, and every commit after the cancel flag is refused) …
  expect(calls.filter((c) => c.at > at.acceptedAt)).toEqual([]);
  // … and the calls in flight were aborted by the worker after the cancel was sent.
  const stalled = calls.filter((c) => c.kind === kind);
  expect(stalled.length).toBeGreaterThan(0);
  for (const call of stalled) {
    expect(call.outcome).toBe('aborted');
    expect(call.endedAt).toBeGreaterThanOrEqual(at.sentAt);
  }
  // No stage after the stalled one was started.
  const later = kind === 'advise' ? ['review', 'synthesize'] : kind === 'review' ? ['synthesize'] : [];
  expect(calls.filter((c) => later.includes(c.kind))).toEqual([]);

  // Every step the cancel stopped is `cancelled` and charged with what its call consumed.
  const steps = stepsOfView(view);
  for (const call of stalled) {
    const step = steps[call.requestMetadata.step ?? ''];
    expect(step?.status).toBe('cancelled');
    expect(step?.usage?.inputTokens).toBeGreaterThan(0);
    expect(step?.costUsd).toBeGreaterThan(0);
    // A streamed call had sent text before it was cut; a whole (Converse) call sends nothing until it ends.
    if (call.operation === 'ConverseStream') {
      expect(call.outputTokens).toBeGreaterThan(0);
      expect(step?.usage?.outputTokens).toBeGreaterThan(0);
    }
  }
  const charged = Object.values(steps).reduce((n, s) => n + (s.usage?.outputTokens ?? 0), 0);
  expect(view.usage.outputTokens).toBe(charged);
  // A full job's steps all either finished or were cancelled: none is left looking pending or skipped.
  expect(Object.values(steps).every((s) => s.status === 'succeeded' || s.status === 'cancelled')).toBe(true);

  const history = await transitionsOf(fx.stack, jobId);
  expect(history.at(-1)).toMatchObject({ event: 'job.cancelled', status: 'cancelled' });
  expect(history.at(-1)?.at).toBeGreaterThanOrEqual(at.sentAt);
  expect(history.some((t) => t.status === 'succeeded' || t.status === 'failed')).toBe(false);
  return view;
}

describe('cancelling a job', () => {
  it('stops it while the advisors answer, aborting every answer in flight', async () => {
    const { jobId, follower } = await jobStalledIn('carla', 'advise');
    const at = await cancel('carla', jobId);
    const view = await expectCancelled('carla', jobId, 'advise', at);
    for (const a of view.advisors) expect([a.answer.status, a.review.status]).toEqual(['cancelled', 'cancelled']);
    expect(view.synthesis?.status).toBe('cancelled');
    follower.close();
  });

  it('stops it while the advisors review each other, keeping the answers', async () => {
    const { jobId, follower } = await jobStalledIn('dmitri', 'review');
    const at = await cancel('dmitri', jobId);
    const view = await expectCancelled('dmitri', jobId, 'review', at);
    for (const a of view.advisors) {
      expect(a.answer.status).toBe('succeeded');
      expect(a.answer.text?.length).toBeGreaterThan(0);
      expect(a.review.status).toBe('cancelled');
    }
    expect(view.synthesis?.status).toBe('cancelled');
    follower.close();
  });

  it('stops it while the chair writes, aborting the chair’s stream', async () => {
    const { jobId, follower } = await jobStalledIn('erin', 'synthesize');
    const at = await cancel('erin', jobId);
    const view = await expectCancelled('erin', jobId, 'synthesize', at);
    for (const a of view.advisors) expect([a.answer.status, a.review.status]).toEqual(['succeeded', 'succeeded']);
    expect(view.synthesis?.status).toBe('cancelled');
    expect(view.adviceQuality).toBeUndefined();
    follower.close();
  });

  it('never answers 202 to a cancel of a job that then succeeds, however close to its end', async () => {
    // Quick jobs, each cancelled just as its chair's call ends: the worker is then storing
    // the advice and committing the job's end, so the cancel and the final commit race.
    await bedrockOf(fx.stack).configure({ firstTokenDelayMs: 10 });
    const users = ['race-a', 'race-b', 'race-c', 'race-d'];
    const jobs: { user: string; jobId: string }[] = [];
    for (const user of users) {
      const client = await fx.client(user);
      for (let i = 0; i < 6; i++) jobs.push({ user, jobId: await submit(client, { question: `Race ${i}: should we ship on Friday?`, mode: 'quick' }) });
    }
    const chairEnded = watchChairCalls(jobs.map((j) => j.jobId));
    const answers = await Promise.all(
      jobs.map(async ({ user, jobId }, i) => {
        await chairEnded.get(jobId);
        // Spread the cancels over the few milliseconds around the final commit.
        if (i % 3) await new Promise((r) => setTimeout(r, (i % 3) * 15));
        const res = await (await fx.client(user)).post<{ error?: { message: string } }>(`/jobs/${jobId}/cancel`);
        const view = await waitForEnd(await fx.client(user), jobId);
        return { status: res.status, message: res.body.error?.message, final: view.status };
      }),
    );
    chairEnded.stop();
    for (const a of answers) {
      expect([202, 409]).toContain(a.status);
      if (a.status === 202) expect(a.final).toBe('cancelled');
      else expect(a.message).toBe(`the job has already ${a.final === 'cancelled' ? 'been cancelled' : a.final}`);
    }
  });
});

function resolvable(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves, per job, once the stand-in has seen its chair's call end; one poller for all jobs. */
function watchChairCalls(jobIds: string[]): { get(jobId: string): Promise<void>; stop(): void } {
  const waiting = new Map(jobIds.map((id) => [id, resolvable()]));
  let stopped = false;
  void (async () => {
    // eslint-disable-next-line no-unmodified-loop-condition -- stop() sets it between polls
    while (!stopped && waiting.size > 0) {
      const calls = await bedrockOf(fx.stack).calls({ step: 'synthesize' });
      for (const call of calls) {
        const jobId = call.requestMetadata.jobId ?? '';
        if (call.outcome !== 'pending' && waiting.has(jobId)) {
          waiting.get(jobId)?.resolve();
          waiting.delete(jobId);
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const all = new Map([...waiting].map(([id, w]) => [id, w.promise]));
  return { get: (jobId) => all.get(jobId) ?? Promise.resolve(), stop: () => void (stopped = true) };
}
