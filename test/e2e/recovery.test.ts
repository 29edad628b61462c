/**
 * Recovery at the service's default lease (6 s), visibility (6 s) and poll (5 s): a job
 * whose worker dies or stops is taken over as soon as its lease and its message allow it,
 * deliveries no worker saw never make a healthy job a dead letter, and poison is decided
 * by runs counted in DynamoDB.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { withLocalStack } from '../support/local-stack.js';
import { rawClient } from '../support/raw-ws.js';
import type { WorkerProcess } from '../support/index.js';
import type { LogEntry } from '../../services/local/processes.js';
import { bedrockOf, callsOf, eventually, leaseHolderPid, stateOf, stepsOf, submit, transitionsOf, waitForEnd, untilTwoOfThreeAnswered } from '../support/jobs.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));
/** The visibility timeout before this change: how long a lost or orphaned message used to stay hidden. */
const OLD_VISIBILITY_MS = 60_000;
const MAX_STALLED_RUNS = 2;

const fx = withLocalStack({
  workers: 2,
  env: { COT_CIRCLE_FILE: TEST_CIRCLE, COT_DLQ_SWEEP_SECONDS: '1', COT_MAX_STALLED_RUNS: String(MAX_STALLED_RUNS) },
});

/** Two live workers for every test: replaces any that a test killed or stopped. */
beforeEach(async () => {
  await bedrockOf(fx.stack).reset();
  const live = fx.stack.workers.filter((w) => !w.hasExited());
  await Promise.all(Array.from({ length: Math.max(0, 2 - live.length) }, () => fx.stack.spawnWorker()));
});

/**
 * Stops every worker (SIGTERM): a stopping worker leaves no poll open, so until workers are
 * started again nothing but the test receives from the queue.
 */
async function withoutWorkers(): Promise<void> {
  await Promise.all(liveWorkers().map((w) => w.stop()));
}

const liveWorkers = (): WorkerProcess[] => fx.stack.workers.filter((w) => !w.hasExited());

async function holder(jobId: string): Promise<WorkerProcess> {
  const pid = await leaseHolderPid(fx.stack, jobId);
  const w = liveWorkers().find((x) => x.pid === pid);
  if (!w) throw new Error(`no live worker holds job ${jobId}`);
  return w;
}

/** The first log line matching `predicate` from any live worker. */
const anyWorkerLogs = (predicate: (e: LogEntry) => boolean, timeoutMs = 30_000): Promise<LogEntry> =>
  Promise.any(liveWorkers().map((w) => w.waitForLog(predicate, timeoutMs)));

async function messagesIn(queueUrl: string): Promise<number> {
  const out = await fx.stack.aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible);
}

async function expectGaplessHistory(jobId: string): Promise<void> {
  const history = await transitionsOf(fx.stack, jobId);
  expect(history.map((t) => t.seq)).toEqual(history.map((_, i) => i + 1));
  expect((await stateOf(fx.stack, jobId))?.version).toBe(history.length);
}

describe('recovery', () => {
  it('never dead-letters a healthy job, however many of its deliveries were lost', async () => {
    const ann = await fx.client('ann');
    await withoutWorkers();
    const jobId = await submit(ann, { question: 'Should a small museum charge for entry?', mode: 'quick' });
    // Eight deliveries no worker sees (as a poll abandoned by a stopping or killed worker
    // would take them): more than the old redrive threshold of five receives.
    let receiveCount = 0;
    for (let i = 0; i < 8; i++) {
      const out = await fx.stack.aws.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: fx.stack.jobQueueUrl, WaitTimeSeconds: 5, VisibilityTimeout: 0, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
      );
      receiveCount = Number(out.Messages?.[0]?.Attributes?.ApproximateReceiveCount ?? receiveCount);
    }
    expect(receiveCount).toBe(8);

    await Promise.all([fx.stack.spawnWorker(), fx.stack.spawnWorker()]);
    const view = await waitForEnd(ann, jobId);
    expect(view.status).toBe('succeeded');
    expect(await messagesIn(fx.stack.dlqUrl)).toBe(0);
    // One run, counted once: lost deliveries are not runs.
    expect((await stateOf(fx.stack, jobId))?.stalledRuns).toBe(1);
  });

  it('puts a dead letter of an unfinished job back on the queue, and removes one of a finished job, saying so', async () => {
    const ben = await fx.client('ben');
    // The redrive backstop fired for a job no worker has run yet: its only message is in the DLQ.
    await withoutWorkers();
    const jobId = await submit(ben, { question: 'Is it worth repairing a ten-year-old laptop?', mode: 'quick' });
    const stolen = await eventually(async () => {
      const out = await fx.stack.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: fx.stack.jobQueueUrl, WaitTimeSeconds: 1, VisibilityTimeout: 600 }));
      return out.Messages?.find((m) => m.Body?.includes(jobId));
    }, 'the job message', 5_000);
    await fx.stack.aws.sqs.send(new SendMessageCommand({ QueueUrl: fx.stack.dlqUrl, MessageBody: stolen.Body! }));
    await Promise.all([fx.stack.spawnWorker(), fx.stack.spawnWorker()]);
    const returned = await anyWorkerLogs((e) => e.msg === 'dead letter of an unfinished job returned to the job queue' && e.jobId === jobId);
    expect(returned.level).toBe(40);
    const view = await waitForEnd(ben, jobId);
    expect(view.status).toBe('succeeded');
    expect(await messagesIn(fx.stack.dlqUrl)).toBe(0);

    // A stray dead letter of the job now finished is removed.
    await fx.stack.aws.sqs.send(new SendMessageCommand({ QueueUrl: fx.stack.dlqUrl, MessageBody: JSON.stringify({ jobId }) }));
    await anyWorkerLogs((e) => e.msg === 'dead letter of a finished job removed' && e.jobId === jobId);
    await eventually(async () => ((await messagesIn(fx.stack.dlqUrl)) === 0 ? true : undefined), 'the DLQ to be empty', 10_000);
    expect((await ben.get<{ status: string }>(`/jobs/${jobId}`)).body.status).toBe('succeeded');
  });

  it('resumes a job on another worker once the SIGKILLed holder\'s lease and message lapse, long before the old visibility timeout', async () => {
    const cat = await fx.client('cat');
    // Llama's first call hangs, so the job sits with 2 of 3 advisors answered.
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'timeout', times: 1 });
    const jobId = await submit(cat, { question: 'Should we move our servers to the cloud?' });
    await untilTwoOfThreeAnswered(fx.stack, jobId);
    const victim = await holder(jobId);
    const before = (await stateOf(fx.stack, jobId))!;
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.exited;

    const view = await waitForEnd(cat, jobId);
    expect(view.status).toBe('succeeded');
    await expectGaplessHistory(jobId);
    const next = (await transitionsOf(fx.stack, jobId)).find((t) => t.seq === before.version + 1)!;
    // Taken over only once the lease allowed it (fencing), and long before a message hidden
    // for the old 60 s visibility would have come back.
    expect(next.at).toBeGreaterThanOrEqual(before.leaseExpiresAt!);
    expect(next.at - killedAt).toBeLessThan(OLD_VISIBILITY_MS);
    const llama = (await callsOf(fx.stack, jobId)).filter((c) => c.requestMetadata.step === 'advise.llama');
    expect(llama.map((c) => c.outcome)).toEqual(['timeout', 'ok']);
    expect(llama[1]!.requestMetadata.worker).not.toBe(llama[0]!.requestMetadata.worker);
    expect((await stateOf(fx.stack, jobId))!.epoch).toBe(before.epoch + 1);
  });

  it('hides a job whose delivery went to a stopped worker\'s poll for two heartbeats, not a whole visibility timeout', async () => {
    const eve = await fx.client('eve');
    await withoutWorkers();
    // The only worker, stopped with its poll open: the queue hands it the job's message, which it cannot act on.
    // A heartbeat of 3 s (the test stack's is 1 s) receives for 6 s; a lease and visibility of
    // 15 s tell that apart from a leased job's message.
    const stopped = await fx.stack.spawnWorker({ COT_POLL_WAIT_SECONDS: '20', COT_HEARTBEAT_SECONDS: '3', COT_LEASE_SECONDS: '15', COT_VISIBILITY_SECONDS: '15' });
    await new Promise((r) => setTimeout(r, 500));
    stopped.kill('SIGSTOP');
    try {
      const submittedAt = Date.now();
      const jobId = await submit(eve, { question: 'Should a village shop open on Sundays?', mode: 'quick' });
      // Received by the test as soon as it can be (and made visible again at once).
      await eventually(async () => {
        const out = await fx.stack.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: fx.stack.jobQueueUrl, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
        return out.Messages?.length ? true : undefined;
      }, 'the message to come back', 20_000, 0);
      const hiddenMs = Date.now() - submittedAt;
      // Received for two heartbeats (2 × 3 s), not the 15 s a leased job's message is kept hidden.
      expect(hiddenMs).toBeGreaterThan(4_500);
      expect(hiddenMs).toBeLessThan(8_500);
      await fx.stack.spawnWorker();
      expect((await waitForEnd(eve, jobId)).status).toBe('succeeded');
      await expectGaplessHistory(jobId);
    } finally {
      stopped.kill('SIGCONT');
    }
  });

  it('keeps a running job\'s message when SQS delivers it again to the worker running it, so the job outlives that worker', async () => {
    const fay = await fx.client('fay');
    // One worker only, with a 2 s lease and visibility: stopped for longer, its job's message
    // comes back, and the one poll there is to receive it is its own.
    await withoutWorkers();
    const lone = await fx.stack.spawnWorker({ COT_VISIBILITY_SECONDS: '2', COT_LEASE_SECONDS: '2', COT_HEARTBEAT_SECONDS: '1' });
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'timeout', times: 1 });
    // Messages earlier tests left (e.g. a dead letter put back), which the next delivery settles.
    const before = await messagesIn(fx.stack.jobQueueUrl);
    const jobId = await submit(fay, { question: 'Should our bakery open on Sundays?' });
    await eventually(async () => ((await stepsOf(fx.stack, jobId))['advise.llama']?.status === 'running' ? true : undefined), 'the advisors to start');
    lone.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 5000));
    lone.kill('SIGCONT');
    await lone.waitForLog((e) => e.msg === 'the message of a running job was delivered again; its run keeps it' && e.jobId === jobId, 30_000);
    // The job's one message is still there for whoever resumes it.
    expect(await messagesIn(fx.stack.jobQueueUrl)).toBe(before + 1);
    lone.kill('SIGKILL');
    await lone.exited;
    await fx.stack.spawnWorker();
    const view = await waitForEnd(fay, jobId);
    expect(view.status).toBe('succeeded');
    await expectGaplessHistory(jobId);
  });

  it('hands a job over on SIGTERM to a worker that resumes it at once, not behind the stopping worker\'s open poll', async () => {
    const dan = await fx.client('dan');
    const bedrock = bedrockOf(fx.stack);
    await bedrock.configure({ firstTokenDelayMs: 800 });
    // The leaving worker holds a 20 s poll open and hides what it receives for 60 s, as the
    // old settings did: a hand-over message its poll swallowed would wait that long.
    const leaving = await fx.stack.spawnWorker({ COT_POLL_WAIT_SECONDS: '20', COT_VISIBILITY_SECONDS: '60', COT_SHUTDOWN_GRACE_SECONDS: '60' });
    const others = liveWorkers().filter((w) => w !== leaving);
    for (const w of others) w.kill('SIGSTOP');
    let jobId: string;
    let leavingEpoch: number;
    try {
      jobId = await submit(dan, { question: 'Should our choir record an album?', mode: 'quick' });
      leavingEpoch = await eventually(async () => {
        const running = (await stepsOf(fx.stack, jobId))['advise.claude']?.status === 'running';
        return running && (await leaseHolderPid(fx.stack, jobId)) === leaving.pid ? (await stateOf(fx.stack, jobId))!.epoch : undefined;
      }, 'the leaving worker to start the advisors');
      leaving.kill('SIGTERM');
    } finally {
      for (const w of others) w.kill('SIGCONT');
    }
    await bedrock.configure({ firstTokenDelayMs: 10 });
    expect((await leaving.exited).code).toBe(0);
    await leaving.waitForLog((e) => e.msg === 'job handed over' && e.jobId === jobId, 1000);

    const view = await waitForEnd(dan, jobId);
    expect(view.status).toBe('succeeded');
    await expectGaplessHistory(jobId);
    const history = await transitionsOf(fx.stack, jobId);
    const state = (await stateOf(fx.stack, jobId))!;
    // One run after the hand-over, which resumed well within the time a swallowed hand-over
    // message would have stayed hidden (from the leaving run's last commit to its first).
    expect(state.epoch).toBe(leavingEpoch! + 1);
    const lastOfLeaving = history.find((t) => t.seq === state.versionAtAcquire)!;
    const firstOfNext = history.find((t) => t.seq === state.versionAtAcquire! + 1)!;
    expect(firstOfNext.at - lastOfLeaving.at).toBeLessThan(OLD_VISIBILITY_MS);
    // Hand-overs are no failures: the count of stalled runs is back where it was.
    expect(state.stalledRuns).toBe(1);
    const reviewers = (await callsOf(fx.stack, jobId)).filter((c) => c.kind !== 'advise').map((c) => c.requestMetadata.worker);
    const leavingId = (await callsOf(fx.stack, jobId)).find((c) => c.kind === 'advise')!.requestMetadata.worker;
    expect(reviewers.length).toBeGreaterThan(0);
    expect(reviewers).not.toContain(leavingId);
  });

  it('brings job.done to a client left waiting by a worker that died between the job\'s last commit and its push', async () => {
    const gus = await fx.client('gus');
    await withoutWorkers();
    const jobId = await submit(gus, { question: 'Should our club buy its own minibus?', mode: 'quick' });
    const client = await rawClient(fx.stack.wsUrl, await fx.tokenFor('gus'));
    try {
      client.socket.send(JSON.stringify({ action: 'subscribe', jobId, afterSeq: 0 }));
      await eventually(async () => (client.messages.some((m) => m.type === 'job.view') ? true : undefined), 'the subscription', 10_000);
      // A worker whose pushes reach nobody runs the job to its end: to the client it is a
      // worker that died after each commit, before pushing it.
      const mute = await fx.stack.spawnWorker({ COT_WS_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:9/mute' });
      expect((await waitForEnd(gus, jobId)).status).toBe('succeeded');
      await mute.stop();
      expect(client.messages.filter((m) => m.type !== 'job.view' && m.type !== 'subscribed')).toEqual([]);
      // Its failed pushes were logged without the connection id (a capability to post to that client).
      expect(mute.logs().some((e) => e.msg === 'push failed; message dropped')).toBe(true);
      expect(mute.output()).not.toMatch(/"connectionId"/);
      // A message for the ended job (one a worker that died there leaves, as the next test shows) brings job.done.
      await fx.stack.aws.sqs.send(new SendMessageCommand({ QueueUrl: fx.stack.jobQueueUrl, MessageBody: JSON.stringify({ jobId }) }));
      await fx.stack.spawnWorker();
      const done = await eventually(async () => client.messages.find((m) => m.type === 'job.done'), 'job.done', 20_000);
      const last = (await transitionsOf(fx.stack, jobId)).at(-1)!;
      expect(done).toMatchObject({ jobId, seq: last.seq, status: 'succeeded' });
      expect(client.messages.find((m) => m.type === 'job.transition' && m.seq === last.seq)).toMatchObject({ transition: { event: 'job.succeeded' } });
    } finally {
      client.socket.close();
    }
  });

  it('keeps a finished job\'s message until its last push has left, so a worker killed with job.done in flight leaves it to the next', async () => {
    const hal = await fx.client('hal');
    await withoutWorkers();
    // A management endpoint that takes every post at once, except job.done, which it never answers.
    let doneArrived!: () => void;
    const donePosted = new Promise<void>((resolve) => (doneArrived = resolve));
    const gateway = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (body.includes('"job.done"')) doneArrived();
        else res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const jobId = await submit(hal, { question: 'Should our orchestra tour abroad?', mode: 'quick' });
    const client = await rawClient(fx.stack.wsUrl, await fx.tokenFor('hal'));
    try {
      client.socket.send(JSON.stringify({ action: 'subscribe', jobId, afterSeq: 0 }));
      await eventually(async () => (client.messages.some((m) => m.type === 'job.view') ? true : undefined), 'the subscription', 10_000);
      const stuck = await fx.stack.spawnWorker({ COT_WS_MANAGEMENT_ENDPOINT: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/stuck` });
      await donePosted;
      stuck.kill('SIGKILL');
      expect((await waitForEnd(hal, jobId, 5_000)).status).toBe('succeeded');
      expect(client.messages.some((m) => m.type === 'job.done')).toBe(false);
      // The message outlived its worker: once it is visible again, a worker finds the job ended and pushes its end.
      await fx.stack.spawnWorker();
      const done = await eventually(async () => client.messages.find((m) => m.type === 'job.done'), 'job.done', 30_000);
      const last = (await transitionsOf(fx.stack, jobId)).at(-1)!;
      expect(done).toMatchObject({ jobId, seq: last.seq, status: 'succeeded' });
    } finally {
      client.socket.close();
      gateway.closeAllConnections();
      gateway.close();
    }
  });

  it('fails a job whose every run dies before making progress, after the runs counted in DynamoDB, with a readable reason', async () => {
    const eve = await fx.client('eve');
    // Llama hangs on every call: after the first run, no run of this job commits anything.
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'timeout', times: -1 });
    const jobId = await submit(eve, { question: 'Should I learn the cello at forty?', mode: 'quick' });
    await eventually(async () => {
      const s = await stepsOf(fx.stack, jobId);
      return s['advise.claude']?.status === 'succeeded' && s['advise.mistral']?.status === 'succeeded' ? true : undefined;
    }, 'two answers');
    // The job kills whichever worker runs it (as a job that crashes its worker would).
    let kills = 0;
    let epoch = 0;
    for (;;) {
      const next = await eventually(async () => {
        const [job, state] = await Promise.all([eve.get<{ status: string }>(`/jobs/${jobId}`), stateOf(fx.stack, jobId)]);
        if (job.body.status === 'failed') return 'failed';
        // A worker that found the job poison is not running it: let it fail the job.
        const running = state!.epoch > epoch && state!.leaseOwner && (state!.stalledRuns ?? 0) <= MAX_STALLED_RUNS;
        return running ? state! : undefined;
      }, 'a run of the job, or its end');
      if (next === 'failed') break;
      epoch = next.epoch;
      const w = await holder(jobId);
      w.kill('SIGKILL');
      await w.exited;
      kills++;
      await fx.stack.spawnWorker();
    }
    const view = await waitForEnd(eve, jobId);
    expect(view.status).toBe('failed');
    expect(view.reason).toBe(
      `This job could not be processed: ${MAX_STALLED_RUNS} runs in a row stopped or failed before making progress, so it was set aside in the dead-letter queue.`,
    );
    // The first run made progress (two answers); the next ones died without any.
    expect(kills).toBe(MAX_STALLED_RUNS + 1);
    expect((await stateOf(fx.stack, jobId))?.stalledRuns).toBe(MAX_STALLED_RUNS + 1);
    // Its message is in the DLQ on purpose, and stays there for an operator.
    expect(await messagesIn(fx.stack.dlqUrl)).toBe(1);
  }, 180_000);
});
