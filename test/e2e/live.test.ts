/**
 * Live progress over the WebSocket API, through the whole stack: the local gateway, the
 * API's $connect/$default/$disconnect routes, the worker's push through the management
 * endpoint, and the terminal client.
 */
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { beforeEach, describe, expect, it } from 'vitest';
import { JobFollower, type FollowResult } from '../../services/cli/job-follower.js';
import type { JobView } from '../../services/shared/contracts/job.js';
import type { ServerMessage } from '../../services/shared/contracts/ws.js';
import { MAX_FRAME_BYTES } from '../../services/shared/contracts/ws.js';
import { INDEX } from '../../services/shared/contracts/names.js';
import { cliEnv, withLocalStack } from '../support/local-stack.js';
import { rawClient as connectRaw } from '../support/raw-ws.js';
import { bedrockOf, eventually, leaseHolderPid, stateOf, stepsOf, submit, transitionsOf, waitForEnd } from '../support/jobs.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));

const fx = withLocalStack({ workers: 2, env: { COT_CIRCLE_FILE: TEST_CIRCLE, COT_LEASE_SECONDS: '2', COT_HEARTBEAT_SECONDS: '0.5', COT_VISIBILITY_SECONDS: '3', COT_POLL_WAIT_SECONDS: '1' } });

beforeEach(() => bedrockOf(fx.stack).reset());

function follow(user: string, jobId: string, onTransition?: (seq: number, f: JobFollower) => void): { follower: JobFollower; result: Promise<FollowResult> } {
  const follower: JobFollower = new JobFollower({
    wsUrl: fx.stack.wsUrl,
    jobId,
    token: () => fx.tokenFor(user),
    onEvent: (e) => {
      if (e.type === 'transition') onTransition?.(e.transition.seq, follower);
    },
  });
  return { follower, result: follower.follow() };
}

const rawClient = (token: string | undefined) => connectRaw(fx.stack.wsUrl, token);

const texts = (r: FollowResult, stepId: string) => [...r.texts.entries()].filter(([k]) => k.startsWith(`${stepId}#`)).map(([, v]) => v);

describe('live progress', () => {
  it('streams every transition gapless, deltas that add up to the stored answers, then job.done', async () => {
    const alice = await fx.client('alice');
    const { jobId, result } = await beforeAnyWorker(async () => {
      const id = await submit(alice, { question: 'Should I take a job offer abroad with my family?' });
      return { jobId: id, result: follow('alice', id).result };
    });
    const outcome = await result;
    expect(outcome.status).toBe('succeeded');

    const history = await transitionsOf(fx.stack, jobId);
    expect(outcome.transitions.map((t) => t.seq)).toEqual(history.map((t) => t.seq));
    expect(outcome.transitions.map((t) => t.seq)).toEqual(history.map((_, i) => i + 1));
    expect((await stateOf(fx.stack, jobId))!.version).toBe(history.length);

    const view = (await alice.get<JobView>(`/jobs/${jobId}`)).body;
    for (const advisor of view.advisors) {
      expect(texts(outcome, `advise.${advisor.id}`)).toEqual([advisor.answer.text]);
      expect(texts(outcome, `review.${advisor.id}`)).toEqual([advisor.review.text]);
    }
    expect(texts(outcome, 'synthesize')).toEqual([view.synthesis!.text]);
  });

  it('ends with the same transitions after a dropped connection as a client that never dropped', async () => {
    const bob = await fx.client('bob');
    await bedrockOf(fx.stack).configure({ firstTokenDelayMs: 200 });
    try {
      const jobId = await submit(bob, { question: 'Is it time to replace our CRM?' });
      const steady = follow('bob', jobId);
      let dropped = false;
      const flaky = follow('bob', jobId, (seq, f) => {
        if (seq === 3 && !dropped) {
          dropped = true;
          f.dropConnection();
        }
      });
      const [a, b] = await Promise.all([steady.result, flaky.result]);
      expect(dropped).toBe(true);
      expect(b.reconnects).toBeGreaterThanOrEqual(1);
      expect(b.status).toBe('succeeded');
      expect(b.transitions).toEqual(a.transitions);
      expect(a.transitions.map((t) => t.seq)).toEqual((await transitionsOf(fx.stack, jobId)).map((t) => t.seq));
    } finally {
      await bedrockOf(fx.stack).configure({ firstTokenDelayMs: 10 });
    }
  });

  it('keeps streaming when the worker running the job is killed', async () => {
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'timeout', times: 1 });
    const carol = await fx.client('carol');
    const jobId = await submit(carol, { question: 'Should we open-source our internal tooling?' });
    const { result } = follow('carol', jobId);
    await eventually(async () => ((await stepsOf(fx.stack, jobId))['advise.mistral']?.status === 'succeeded' ? true : undefined), 'two answers');
    const pid = await leaseHolderPid(fx.stack, jobId);
    const victim = fx.stack.workers.find((w) => w.pid === pid)!;
    victim.kill('SIGKILL');
    try {
      await victim.exited;
      const outcome = await result;
      expect(outcome.status).toBe('succeeded');
      expect(outcome.transitions.map((t) => t.seq)).toEqual((await transitionsOf(fx.stack, jobId)).map((t) => t.seq));
    } finally {
      // The later tests count on two workers, whether or not this one passed.
      await fx.stack.spawnWorker();
    }
  });

  it('refuses connections without a valid token and subscriptions to other users’ jobs', async () => {
    await expect(rawClient(undefined)).rejects.toThrow(/401/);
    await expect(rawClient('not-a-token')).rejects.toThrow(/401/);

    const dave = await fx.client('dave');
    const jobId = await submit(dave, { question: 'Which laptop should a data analyst buy?', mode: 'quick' });
    const mallory = await rawClient(await fx.tokenFor('mallory'));
    mallory.socket.send(JSON.stringify({ action: 'subscribe', jobId, afterSeq: 0 }));
    const refusal = await eventually(async () => mallory.messages.find((m) => m.type === 'error'), 'a refusal');
    expect(refusal).toMatchObject({ type: 'error', code: 'not_found' });
    await waitForEnd(dave, jobId);
    expect(mallory.messages.some((m) => m.type === 'job.view' || m.type === 'job.transition' || m.type === 'step.delta')).toBe(false);
    mallory.socket.close();
  });

  it('answers GoneException for a closed connection, and the worker forgets such connections', async () => {
    const erin = await fx.client('erin');
    const client = await rawClient(await fx.tokenFor('erin'));
    const connectionId = await eventually(async () => (await connectionIdsOf('erin'))[0], 'the connection record');
    client.socket.close();
    await eventually(async () => ((await connectionIdsOf('erin')).length === 0 ? true : undefined), '$disconnect to remove it');
    const env = fx.stack.env;
    const management = new ApiGatewayManagementApiClient({
      endpoint: fx.stack.managementEndpoint,
      region: env.AWS_REGION,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
    });
    await expect(management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'hello' }))).rejects.toMatchObject({ name: 'GoneException' });

    // A stale subscription (its $disconnect never arrived) is removed on the worker's first GoneException.
    const jobId = await submit(erin, { question: 'How should I split chores with roommates?', mode: 'quick' });
    const ttl = Math.floor(Date.now() / 1000) + 600;
    await fx.stack.aws.doc.send(new PutCommand({ TableName: fx.stack.tables.connections, Item: { connectionId, sk: 'conn', sub: 'erin', connectedAt: Date.now(), expiresAt: ttl } }));
    await fx.stack.aws.doc.send(new PutCommand({ TableName: fx.stack.tables.connections, Item: { connectionId, sk: `job#${jobId}`, jobId, sub: 'erin', expiresAt: ttl } }));
    await waitForEnd(erin, jobId);
    await eventually(async () => ((await subscriberCount(jobId)) === 0 ? true : undefined), 'the stale connection to be removed');
  });

  it('delivers a 200 KB answer whole, in frames of at most 32 KB', async () => {
    const fay = await fx.client('fay');
    const { jobId, live } = await beforeAnyWorker(async () => {
      const id = await submit(fay, { question: 'Write me everything you know [[size:200000]]', mode: 'quick', advisors: ['claude', 'mistral'] });
      const client = await rawClient(await fx.tokenFor('fay'));
      client.socket.send(JSON.stringify({ action: 'subscribe', jobId: id, afterSeq: 0 }));
      await eventually(async () => (client.messages.some((m) => m.type === 'job.view') ? true : undefined), 'the first view');
      return { jobId: id, live: client };
    });
    await waitForEnd(fay, jobId);
    await eventually(async () => (live.messages.some((m) => m.type === 'job.done') ? true : undefined), 'job.done');
    const stored = (await fay.get<JobView>(`/jobs/${jobId}`)).body.advisors.find((a) => a.id === 'claude')!.answer.text!;
    expect(Buffer.byteLength(stored)).toBe(200_000);

    // Streamed: the deltas of claude's answer join to the stored 200 KB.
    const deltas = live.messages.filter((m): m is Extract<ServerMessage, { type: 'step.delta' }> => m.type === 'step.delta' && m.stepId === 'advise.claude');
    expect(deltas.map((d) => d.text).join('')).toBe(stored);
    // Subscribing afterwards: the whole view arrives in chunks and joins to the same answer.
    const late = await rawClient(await fx.tokenFor('fay'));
    late.socket.send(JSON.stringify({ action: 'subscribe', jobId, afterSeq: 0 }));
    const view = await eventually(async () => late.messages.find((m) => m.type === 'job.view'), 'the late view');
    expect((view as Extract<ServerMessage, { type: 'job.view' }>).view.advisors[0]!.answer.text).toBe(stored);
    for (const size of [...live.sizes, ...late.sizes]) expect(size).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(late.sizes.length).toBeGreaterThan(6);
    live.socket.close();
    late.socket.close();
  });

  it('runs npm run ask end to end: live progress, the advice, exit 0', async () => {
    const run = await ask(['Should I buy or lease my next car?']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Claude/);
    expect(run.stdout).toMatch(/Mistral/);
    expect(run.stdout).toMatch(/Llama/);
    expect(run.stdout).toMatch(/Confidence: (high|medium|low)/);

    const json = await ask(['--json', '--quick', 'Is a heat pump worth it in a mild climate?']);
    expect(json.code).toBe(0);
    const view = JSON.parse(json.stdout) as JobView;
    expect(view.status).toBe('succeeded');
    expect(view.mode).toBe('quick');
  });

  it('exits non-zero with a readable message when the job fails or the question is missing', async () => {
    const bedrock = bedrockOf(fx.stack);
    await bedrock.inject({ match: { step: 'advise.mistral' }, type: 'internal', times: -1 });
    await bedrock.inject({ match: { step: 'advise.llama' }, type: 'internal', times: -1 });
    const failed = await ask(['Should I move to Lisbon?']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/The job failed\..*1 of 3 advisors/s);
    const usage = await ask([]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/ask a question/);
    expect(usage.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

/** Runs `fn` with every worker paused (SIGSTOP), so what it sets up happens before any job starts. */
async function beforeAnyWorker<T extends { jobId: string }>(fn: () => Promise<T>): Promise<T> {
  const workers = fx.stack.workers.filter((w) => !w.hasExited());
  for (const w of workers) w.kill('SIGSTOP');
  try {
    const value = await fn();
    await eventually(async () => ((await subscriberCount(value.jobId)) > 0 ? true : undefined), 'the subscription to be recorded');
    return value;
  } finally {
    for (const w of workers) w.kill('SIGCONT');
  }
}

async function subscriberCount(jobId: string): Promise<number> {
  const out = await fx.stack.aws.doc.send(
    new QueryCommand({ TableName: fx.stack.tables.connections, IndexName: INDEX.connectionsByJob, KeyConditionExpression: 'jobId = :j', ExpressionAttributeValues: { ':j': jobId } }),
  );
  return out.Items?.length ?? 0;
}

async function connectionIdsOf(user: string): Promise<string[]> {
  const sub = JSON.parse(Buffer.from((await fx.tokenFor(user)).split('.')[1]!, 'base64url').toString()).sub as string;
  const out = await fx.stack.aws.doc.send(
    new ScanCommand({ TableName: fx.stack.tables.connections, FilterExpression: '#s = :s AND sk = :c', ExpressionAttributeNames: { '#s': 'sub' }, ExpressionAttributeValues: { ':s': sub, ':c': 'conn' } }),
  );
  return (out.Items ?? []).map((i) => i.connectionId as string);
}

function ask(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli/ask.ts', ...args], {
      cwd: REPO,
      env: cliEnv(fx.stack, { COT_USER: 'gina' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
