/**
 * Durable execution through real worker processes: crashes, pauses past the lease,
 * duplicate deliveries, SIGTERM hand-over and poison messages. Leases and visibility are
 * short here so take-overs happen in seconds.
 */
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withLocalStack } from '../support/local-stack.js';
import type { WorkerProcess } from '../support/index.js';
import { bedrockOf, callsOf, eventually, leaseHolderPid, stateOf, stepsOf, submit, transitionsOf, waitForEnd, waitForView, untilTwoOfThreeAnswered } from '../support/jobs.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));

const fx = withLocalStack({
  workers: 2,
  env: {
    COT_CIRCLE_FILE: TEST_CIRCLE,
    COT_LEASE_SECONDS: '2',
    COT_HEARTBEAT_SECONDS: '0.5',
    COT_VISIBILITY_SECONDS: '3',
    COT_POLL_WAIT_SECONDS: '1',
    COT_MAX_STALLED_RUNS: '3',
    COT_DLQ_SWEEP_SECONDS: '1',
    COT_SHUTDOWN_GRACE_SECONDS: '2',
  },
});

beforeEach(() => bedrockOf(fx.stack).reset());

/** Keeps two live workers: replaces any that a test killed or stopped. */
afterEach(async () => {
  const live = fx.stack.workers.filter((w) => !w.hasExited());
  for (let i = live.length; i < 2; i++) await fx.stack.spawnWorker();
});

const workerByPid = (pid: number): WorkerProcess => {
  const w = fx.stack.workers.find((x) => x.pid === pid);
  if (!w) throw new Error(`no worker with pid ${pid}`);
  return w;
};

const stepCalls = async (jobId: string, step: string) => (await callsOf(fx.stack, jobId)).filter((c) => c.requestMetadata.step === step);

async function expectGaplessHistory(jobId: string): Promise<void> {
  const history = await transitionsOf(fx.stack, jobId);
  expect(history.map((t) => t.seq)).toEqual(history.map((_, i) => i + 1));
  expect((await stateOf(fx.stack, jobId))?.version).toBe(history.length);
}


/** Once two of the three advisors have answered, SIGKILLs the job's holder; the job then ends succeeded on another worker. */
async function killHolderOnceTwoAnswered(client: Awaited<ReturnType<typeof fx.client>>, jobId: string) {
  await untilTwoOfThreeAnswered(fx.stack, jobId);
  const victim = workerByPid((await leaseHolderPid(fx.stack, jobId))!);
  victim.kill('SIGKILL');
  await victim.exited;
  const view = await waitForEnd(client, jobId);
  expect(view.status).toBe('succeeded');
  return view;
}
describe('durable execution', () => {
  it('resumes on another worker after a SIGKILL, without asking the finished advisors again', async () => {
    const alice = await fx.client('alice');
    // Llama's first call hangs, so the job sits with 2 of 3 advisors answered.
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'timeout', times: 1 });
    const jobId = await submit(alice, { question: 'Should we rewrite our billing system or refactor it?' });
    const view = await killHolderOnceTwoAnswered(alice, jobId);
    expect(view.advisors.every((a) => a.answer.status === 'succeeded')).toBe(true);
    expect(await stepCalls(jobId, 'advise.claude')).toHaveLength(1);
    expect(await stepCalls(jobId, 'advise.mistral')).toHaveLength(1);
    const llama = await stepCalls(jobId, 'advise.llama');
    // The hung call (the stand-in's `timeout` fault) died with its worker; the retry answered.
    expect(llama.map((c) => c.outcome)).toEqual(['timeout', 'ok']);
    expect(llama[1]!.requestMetadata.worker).not.toBe(llama[0]!.requestMetadata.worker);
    await expectGaplessHistory(jobId);
  });

  it('still succeeds after a SIGKILL with 2 of 3 answered when reviewers and chair answer in prose only', async () => {
    const alice = await fx.client('alice');
    const bedrock = bedrockOf(fx.stack);
    // Llama's first call hangs; every review and the chair answer in plain prose, repairs too.
    await bedrock.inject({ match: { step: 'advise.llama', question: 'prose circle' }, type: 'timeout', times: 1 });
    await bedrock.inject({ match: { kind: 'review', question: 'prose circle' }, type: 'misbehave', case: 'review-prose-only', times: -1 });
    await bedrock.inject({ match: { kind: 'synthesize', question: 'prose circle' }, type: 'misbehave', case: 'synth-prose-only', times: -1 });
    const jobId = await submit(alice, { question: 'Should we hire a second designer this year? (prose circle)' });
    const view = await killHolderOnceTwoAnswered(alice, jobId);
    expect(view.adviceQuality).toBe('unstructured');
    expect(view.synthesis?.text).toMatch(/staged approach/);
    expect(view.advisors.every((a) => a.answer.status === 'succeeded')).toBe(true);
    // The finished advisors were not asked again; each review and the chair got one repair, never a third call.
    expect(await stepCalls(jobId, 'advise.claude')).toHaveLength(1);
    expect(await stepCalls(jobId, 'advise.mistral')).toHaveLength(1);
    for (const step of ['review.claude', 'review.mistral', 'review.llama', 'synthesize']) {
      expect((await stepCalls(jobId, step)).map((c) => Boolean(c.repair)), step).toEqual([false, true]);
    }
    await expectGaplessHistory(jobId);
  });

  it('keeps the attempt count and due time of a retry across a crash during back-off', async () => {
    const bob = await fx.client('bob');
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.mistral' }, type: 'throttle', times: 1 });
    const jobId = await submit(bob, { question: 'How do I price a freelance design project?', mode: 'quick' });
    const retrying = await eventually(async () => {
      const s = (await stepsOf(fx.stack, jobId))['advise.mistral'];
      return s?.status === 'retrying' ? s : undefined;
    }, 'the throttled call to be scheduled for retry');
    expect(retrying.attempt).toBe(1);

    const victim = workerByPid((await leaseHolderPid(fx.stack, jobId))!);
    victim.kill('SIGKILL');
    await victim.exited;

    const view = await waitForEnd(bob, jobId);
    expect(view.status).toBe('succeeded');
    const mistral = await stepCalls(jobId, 'advise.mistral');
    expect(mistral.map((c) => [c.requestMetadata.attempt, c.outcome])).toEqual([
      ['1', 'throttled'],
      ['2', 'ok'],
    ]);
    // The retry honoured the committed due time, on the worker that took over.
    expect(mistral[1]!.at).toBeGreaterThanOrEqual(retrying.dueAt!);
    expect(mistral[1]!.requestMetadata.worker).not.toBe(mistral[0]!.requestMetadata.worker);
  });

  it('fences off a worker paused past its lease: it commits nothing and starts no step', async () => {
    const carol = await fx.client('carol');
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'timeout', times: 1 });
    const jobId = await submit(carol, { question: 'Should a bakery open a second shop or a delivery service?' });
    await eventually(async () => ((await stepsOf(fx.stack, jobId))['advise.mistral']?.status === 'succeeded' ? true : undefined), 'two answers');
    const paused = workerByPid((await leaseHolderPid(fx.stack, jobId))!);
    const pausedEpoch = (await stateOf(fx.stack, jobId))!.epoch;
    paused.kill('SIGSTOP');
    try {
      // Another worker takes the lease once it lapses, and finishes the job.
      await eventually(async () => ((await stateOf(fx.stack, jobId))!.epoch > pausedEpoch ? true : undefined), 'another worker to take the lease');
      const view = await waitForEnd(carol, jobId);
      expect(view.status).toBe('succeeded');
    } finally {
      paused.kill('SIGCONT');
    }
    const resumedAt = Date.now();
    const before = await transitionsOf(fx.stack, jobId);
    // On waking, the paused worker learns it lost the lease and stops the run.
    await paused.waitForLog((e) => /lease lost|fenced off/.test(String(e.msg)) && e.jobId === jobId, 15_000);
    expect(await transitionsOf(fx.stack, jobId)).toEqual(before);
    const pausedId = (await stepCalls(jobId, 'advise.llama'))[0]!.requestMetadata.worker;
    const laterCalls = (await callsOf(fx.stack, jobId)).filter((c) => c.requestMetadata.worker === pausedId && c.at >= resumedAt);
    expect(laterCalls).toEqual([]);
    await expectGaplessHistory(jobId);
    expect(paused.hasExited()).toBe(false);
  });

  it('advances a job delivered several times as one history, running each step once', async () => {
    const dave = await fx.client('dave');
    const jobId = await submit(dave, { question: 'Is a standing desk worth it for a home office?' });
    for (let i = 0; i < 3; i++) {
      await fx.stack.aws.sqs.send(new SendMessageCommand({ QueueUrl: fx.stack.jobQueueUrl, MessageBody: JSON.stringify({ jobId }) }));
    }
    const view = await waitForEnd(dave, jobId);
    expect(view.status).toBe('succeeded');
    await expectGaplessHistory(jobId);
    // One committed history: each of the seven steps was started once and succeeded first time.
    const history = await transitionsOf(fx.stack, jobId);
    const committed = new Map<string, string[]>();
    for (const change of history.flatMap((t) => t.changes).filter((c) => c.status !== 'pending')) {
      committed.set(change.stepId, [...(committed.get(change.stepId) ?? []), `${change.status}#${change.attempt}`]);
    }
    const steps = [...view.advisors.flatMap((a) => [`advise.${a.id}`, `review.${a.id}`]), 'synthesize'];
    expect(steps).toHaveLength(7);
    expect(Object.fromEntries(committed)).toEqual(Object.fromEntries(steps.map((step) => [step, ['running#1', 'succeeded#1']])));
    // No repeated step: no worker asked the model for a step twice, and only lease holders asked
    // (a worker may take over a lapsed lease under load; with no take-over, epoch 1, that is
    // one worker and exactly seven calls).
    const calls = await callsOf(fx.stack, jobId);
    expect(new Set(calls.map((c) => c.requestMetadata.step))).toEqual(new Set(steps));
    const asked = calls.map((c) => `${c.requestMetadata.worker} ${c.requestMetadata.step}`);
    expect(new Set(asked).size).toBe(asked.length);
    const workers = new Set(calls.map((c) => c.requestMetadata.worker));
    expect(workers.size).toBeLessThanOrEqual((await stateOf(fx.stack, jobId))!.epoch);
    // The duplicates are cleaned up, none left to wander into the DLQ.
    await eventually(async () => {
      const out = await fx.stack.aws.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: fx.stack.jobQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      const a = out.Attributes ?? {};
      return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible) === 0 ? true : undefined;
    }, 'the queue to drain', 20_000);
  });

  it('hands a job over on SIGTERM: in-flight steps finish, the rest continues elsewhere', async () => {
    const erin = await fx.client('erin');
    const bedrock = bedrockOf(fx.stack);
    await bedrock.configure({ firstTokenDelayMs: 800 });
    // The leaving worker's grace is far longer than an answer takes, so whether the answers in
    // flight finish does not depend on how busy the machine is; the other workers sit out the
    // start so that it is the one to take the job.
    const leaving = await fx.stack.spawnWorker({ COT_SHUTDOWN_GRACE_SECONDS: '60' });
    const others = fx.stack.workers.filter((w) => w !== leaving && !w.hasExited());
    for (const w of others) w.kill('SIGSTOP');
    let jobId: string;
    try {
      jobId = await submit(erin, { question: 'Should our nonprofit switch to a four-day week?' });
      await eventually(async () => {
        const running = (await stepsOf(fx.stack, jobId))['advise.claude']?.status === 'running';
        return running && (await leaseHolderPid(fx.stack, jobId)) === leaving.pid ? true : undefined;
      }, 'the leaving worker to start the advisors');
      leaving.kill('SIGTERM');
    } finally {
      for (const w of others) w.kill('SIGCONT');
    }
    const exit = await leaving.exited;
    expect(exit.code).toBe(0);
    await leaving.waitForLog((e) => e.msg === 'job handed over' && e.jobId === jobId, 1000);
    await bedrock.configure({ firstTokenDelayMs: 10 });

    const view = await waitForEnd(erin, jobId);
    expect(view.status).toBe('succeeded');
    // The answers in flight at SIGTERM finished and were committed: no advisor was asked twice.
    for (const step of ['advise.claude', 'advise.mistral', 'advise.llama']) {
      expect((await stepCalls(jobId, step)).map((c) => c.outcome)).toEqual(['ok']);
    }
    const reviewers = new Set((await callsOf(fx.stack, jobId)).filter((c) => c.kind !== 'advise').map((c) => c.requestMetadata.worker));
    expect(reviewers.has((await stepCalls(jobId, 'advise.claude'))[0]!.requestMetadata.worker)).toBe(false);
    await expectGaplessHistory(jobId);
  });

  it('survives ten interruptions in a row without sending the job to the DLQ', async () => {
    const fay = await fx.client('fay');
    // Llama hangs on each of the next ten workers, so every SIGTERM catches the job mid-step.
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'timeout', times: 10 });
    const jobId = await submit(fay, { question: 'What should a first-time manager do in their first month?' });
    for (let i = 0; i < 10; i++) {
      const holder = await eventually(async () => {
        const pid = await leaseHolderPid(fx.stack, jobId);
        const steps = await stepsOf(fx.stack, jobId);
        const w = fx.stack.workers.find((x) => x.pid === pid && !x.hasExited());
        return w && steps['advise.llama']?.status === 'running' ? w : undefined;
      }, `interruption ${i + 1}: a worker to be running the job`);
      holder.kill('SIGTERM');
      expect((await holder.exited).code).toBe(0);
      await fx.stack.spawnWorker();
    }
    const view = await waitForEnd(fay, jobId);
    expect(view.status).toBe('succeeded');
    // Hand-overs cost no attempts: every llama call was attempt 1, ten hung and cut off, then one answer.
    const llama = await stepCalls(jobId, 'advise.llama');
    expect(llama.map((c) => c.requestMetadata.attempt)).toEqual(Array(11).fill('1'));
    expect(llama.map((c) => c.outcome)).toEqual([...Array(10).fill('timeout'), 'ok']);
    const dlq = await fx.stack.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: fx.stack.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(Number(dlq.Attributes?.ApproximateNumberOfMessages)).toBe(0);
    await expectGaplessHistory(jobId);
  }, 300_000); // ten worker start-ups in a row: on a busy machine each takes seconds

  it('sends a poison job and an unparseable message to the DLQ and fails the job with a readable reason', async () => {
    const gus = await fx.client('gus');
    // A job whose stored data no worker can run (an unknown mode), owned by gus.
    const jobId = randomUUID();
    const sub = JSON.parse(Buffer.from((await fx.tokenFor('gus')).split('.')[1]!, 'base64url').toString()).sub as string;
    const now = new Date().toISOString();
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    await fx.stack.aws.doc.send(
      new PutCommand({
        TableName: fx.stack.tables.jobs,
        Item: { jobId, owner: sub, question: 'Corrupt job', questionPreview: 'Corrupt job', advisors: ['claude'], mode: 'turbo', status: 'queued', stage: 'queued', createdAt: now, updatedAt: now, expiresAt },
      }),
    );
    await fx.stack.aws.doc.send(new PutCommand({ TableName: fx.stack.tables.state, Item: { jobId, version: 0, epoch: 0, expiresAt } }));
    await fx.stack.aws.sqs.send(new SendMessageCommand({ QueueUrl: fx.stack.jobQueueUrl, MessageBody: JSON.stringify({ jobId }) }));
    await fx.stack.aws.sqs.send(new SendMessageCommand({ QueueUrl: fx.stack.jobQueueUrl, MessageBody: 'this is not a job message' }));

    const view = await waitForEnd(gus, jobId, 90_000);
    expect(view.status).toBe('failed');
    expect(view.reason).toMatch(/could not be processed.*dead-letter queue/);
    // The job is marked failed before its message moves, and the unparseable one may go later: wait for both.
    const inDlq = async () => {
      const dlq = await fx.stack.aws.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: fx.stack.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(dlq.Attributes?.ApproximateNumberOfMessages) + Number(dlq.Attributes?.ApproximateNumberOfMessagesNotVisible);
    };
    await eventually(async () => ((await inDlq()) >= 2 ? true : undefined), 'both messages in the DLQ', 10_000);
    expect(await inDlq()).toBe(2);
    expect(await callsOf(fx.stack, jobId)).toEqual([]);
  });

  it('fails a job whose stored snapshot this version cannot restore, instead of guessing', async () => {
    const hal = await fx.client('hal');
    const jobId = await submit(hal, { question: 'Placeholder while the snapshot is swapped', mode: 'quick' });
    await waitForEnd(hal, jobId);
    // The same job as a future machine version would have left it, with its status reopened.
    const state = (await stateOf(fx.stack, jobId))!;
    await fx.stack.aws.doc.send(new PutCommand({ TableName: fx.stack.tables.state, Item: { ...state, machineVersion: 'advisory/99', leaseOwner: undefined, leaseExpiresAt: 0 } }));
    await fx.stack.aws.doc.send(new UpdateCommand({ TableName: fx.stack.tables.jobs, Key: { jobId }, UpdateExpression: 'SET #s = :q', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':q': 'running' } }));
    const callsBefore = (await callsOf(fx.stack, jobId)).length;
    await fx.stack.aws.sqs.send(new SendMessageCommand({ QueueUrl: fx.stack.jobQueueUrl, MessageBody: JSON.stringify({ jobId }) }));

    const view = await waitForView(hal, jobId, (v) => v.status === 'failed', 'the job to be failed', 20_000);
    expect(view.reason).toMatch(/incompatible version/);
    expect((await callsOf(fx.stack, jobId)).length).toBe(callsBefore);
  });
});
