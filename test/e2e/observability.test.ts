/**
 * Telemetry of whole jobs through the local stack, read the way an operator would: the
 * trace documents the services sent to the X-Ray daemon stand-in, the EMF lines CloudWatch
 * would turn into metrics, every log line of every process, and GET /jobs/{id}/timeline —
 * checked against the Transitions table and the Bedrock stand-in's call log.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type WebSocket from 'ws';
import { rawClient } from '../support/raw-ws.js';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobTimeline, TimelineEntry } from '../../services/shared/contracts/timeline.js';
import { METRIC } from '../../services/shared/contracts/telemetry.js';
import { withLocalStack } from '../support/local-stack.js';
import { bedrockOf, callsOf, eventually, leaseHolderPid, transitionsOf, waitForEnd, untilTwoOfThreeAnswered } from '../support/jobs.js';
import { assembleTrace, descendantsNamed, emfValues, parseEmf, sum, type EmfEvent, type TraceDocument } from '../support/telemetry.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Every line every process wrote, as it arrived. */
const lines: { source: string; line: string }[] = [];

const fx = withLocalStack({
  workers: 2,
  env: { COT_CIRCLE_FILE: TEST_CIRCLE, COT_LEASE_SECONDS: '2', COT_HEARTBEAT_SECONDS: '0.5', COT_VISIBILITY_SECONDS: '3', COT_POLL_WAIT_SECONDS: '1' },
  onProcessLine: (source, line) => void lines.push({ source, line }),
});

beforeEach(() => bedrockOf(fx.stack).reset());

const readLines = (file: string | undefined): string[] => (file ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const traces = (): TraceDocument[] => readLines(fx.stack.telemetry.tracesFile).map((l) => JSON.parse(l) as TraceDocument);
const metrics = (): EmfEvent[] => readLines(fx.stack.telemetry.metricsFile).map(parseEmf);
const ofJob = (jobId: string) => (e: EmfEvent) => e.jobId === jobId;

/** POST /chat; the job id and the request id that names the API's trace segment. */
async function ask(user: string, body: Record<string, unknown>): Promise<{ jobId: string; requestId: string }> {
  const client = await fx.client(user);
  const res = await client.post<{ jobId: string }>('/chat', body);
  expect(res.status).toBe(202);
  return { jobId: res.body.jobId, requestId: res.headers.get('x-request-id') ?? '' };
}

/** The trace of a job: the API segment of its POST /chat, and the finished worker segments, assembled. */
async function jobTrace(requestId: string, until: (segments: TraceDocument[]) => boolean): Promise<{ api: TraceDocument; segments: TraceDocument[] }> {
  return eventually(async () => {
    const docs = traces();
    const api = docs.find((d) => d.name === 'cot-api' && d.annotations?.requestId === requestId && !d.in_progress);
    if (!api?.trace_id) return undefined;
    const segments = assembleTrace(docs, api.trace_id);
    return until(segments) ? { api: segments.find((s) => s.id === api.id)!, segments } : undefined;
  }, 'the job trace');
}

const workerSegments = (segments: TraceDocument[]) => segments.filter((s) => s.name === 'cot-worker');
const modelCalls = (segments: TraceDocument[]) => workerSegments(segments).flatMap((s) => descendantsNamed(s, 'model-call'));

describe('a job through the local stack', () => {
  it('is one trace from POST /chat through the queue to a subsegment per model call', async () => {
    const { jobId, requestId } = await ask('alice', { question: 'Should our team of five adopt trunk-based development?' });
    const view = await waitForEnd(await fx.client('alice'), jobId);
    expect(view.status).toBe('succeeded');
    const { api, segments } = await jobTrace(requestId, (s) => modelCalls(s).length === 7 && workerSegments(s).every((w) => !w.in_progress));

    const sendMessage = api.subsegments?.find((s) => s.name === 'SQS' && s.aws?.operation === 'SendMessage');
    expect(sendMessage).toBeDefined();
    const [run, ...others] = workerSegments(segments);
    expect(others).toEqual([]);
    // The worker's run continues the trace from the SendMessage call that queued the job.
    expect(run).toMatchObject({ trace_id: api.trace_id, parent_id: sendMessage!.id });
    expect(run!.annotations).toMatchObject({ jobId, run: 1, resumed: false, outcome: 'finished', status: 'succeeded' });
    expect(run!.annotations?.user).toMatch(/^[0-9a-f]{16}$/);

    const calls = modelCalls(segments);
    const byAdvisor = calls.map((c) => `${String(c.annotations?.stage)}:${String(c.annotations?.advisor)}`).sort();
    expect(byAdvisor).toEqual(['advising:claude', 'advising:llama', 'advising:mistral', 'reviewing:claude', 'reviewing:llama', 'reviewing:mistral', 'synthesizing:chair']);
    for (const call of calls) {
      expect(call.annotations).toMatchObject({ jobId, attempt: 1, outcome: 'ok' });
      expect(call.annotations?.ttftMs).toBeGreaterThanOrEqual(0);
      expect(call.annotations?.outputTokens).toBeGreaterThan(0);
      // Each with the AWS call it made: streamed, except a review by a model that cannot stream a tool call (Mistral, per the circle file).
      const whole = call.annotations?.stage === 'reviewing' && call.annotations?.advisor === 'mistral';
      expect(descendantsNamed(call, 'BedrockRuntime').map((b) => b.aws?.operation)).toEqual([whole ? 'Converse' : 'ConverseStream']);
    }
    const stages = descendantsNamed(run!, 'stage').map((s) => s.annotations?.stage);
    expect(stages).toEqual(['advising', 'reviewing', 'synthesizing']);
    expect(descendantsNamed(run!, 'DynamoDB').length).toBeGreaterThan(0);
    // No question text and no user id in the trace.
    const trace = JSON.stringify(traces().filter((d) => d.trace_id === api.trace_id));
    expect(trace).not.toContain('trunk-based');
  });

  it('keeps both runs of a job whose worker was SIGKILLed mid-job in the same trace', async () => {
    // Llama's first answer hangs, so the job waits with 2 of 3 advisors answered.
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.llama' }, type: 'timeout', times: 1 });
    const { jobId, requestId } = await ask('bob', { question: 'Should we move our nightly batch jobs to event streams?' });
    await untilTwoOfThreeAnswered(fx.stack, jobId);
    // The run streams its finished subsegments on a timer: kill it once both answers have gone out.
    await jobTrace(requestId, (s) => modelCalls(s).filter((c) => c.annotations?.outcome === 'ok').length >= 2);
    const holder = await leaseHolderPid(fx.stack, jobId);
    const victim = fx.stack.workers.find((w) => w.pid === holder)!;
    victim.kill('SIGKILL');
    await victim.exited;
    expect((await waitForEnd(await fx.client('bob'), jobId)).status).toBe('succeeded');

    const { api, segments } = await jobTrace(requestId, (s) => workerSegments(s).some((w) => w.annotations?.outcome === 'finished'));
    const runs = workerSegments(segments).sort((a, b) => Number(a.annotations?.run) - Number(b.annotations?.run));
    expect(runs.map((r) => [r.trace_id, r.annotations?.jobId, r.annotations?.resumed])).toEqual([
      [api.trace_id, jobId, false],
      [api.trace_id, jobId, true],
    ]);
    // The killed run never finished: its segment stays in progress, with the answers it got.
    expect(runs[0]!.in_progress).toBe(true);
    expect(modelCalls([runs[0]!]).filter((c) => c.annotations?.outcome === 'ok').map((c) => c.annotations?.advisor).sort()).toEqual(['claude', 'mistral']);
    expect(runs[1]!.annotations?.outcome).toBe('finished');
    expect(modelCalls([runs[1]!]).map((c) => c.annotations?.step)).toContain('advise.llama');
  });

  it('writes EMF metrics that add up to what the job view shows', async () => {
    const { jobId } = await ask('carol', { question: 'Should a small bakery start selling online?' });
    const view = await waitForEnd(await fx.client('carol'), jobId);
    expect(view.status).toBe('succeeded');
    // Job timings are written once the run has read the job's timeline back: the overall ones,
    // then one line per stage (separate appends, so wait for all of them).
    const events = await eventually(async () => {
      const all = metrics().filter(ofJob(jobId));
      return emfValues(all, METRIC.jobOverhead).length > 0 && emfValues(all, METRIC.stageLatency).length >= 3 ? all : undefined;
    }, 'the job timing metrics');

    expect(sum(emfValues(events, METRIC.modelCalls))).toBe(7);
    expect(sum(emfValues(events, METRIC.modelCalls, (e) => String(e.step).startsWith('advise.')))).toBe(3);
    expect(sum(emfValues(events, METRIC.modelErrors))).toBe(0);
    expect(sum(emfValues(events, METRIC.cost))).toBeCloseTo(view.costUsd, 6);
    expect(sum(emfValues(events, METRIC.inputTokens))).toBe(view.usage.inputTokens);
    expect(sum(emfValues(events, METRIC.outputTokens))).toBe(view.usage.outputTokens);
    expect(emfValues(events, METRIC.timeToFirstToken)).toHaveLength(7);
    // Per advisor as well as overall: CloudWatch gets one dimension set per advisor.
    const perAdvisor = events.filter((e) => e._aws.CloudWatchMetrics[0]!.Dimensions.some((d) => d.join() === 'Service,Advisor'));
    expect(new Set(perAdvisor.map((e) => e.Advisor))).toEqual(new Set(['claude', 'mistral', 'llama', 'chair']));
    expect(sum(emfValues(events, METRIC.jobsStarted))).toBe(1);
    expect(sum(emfValues(events, METRIC.jobsSucceeded))).toBe(1);
    expect(emfValues(events, METRIC.jobsFailed)).toEqual([]);
    expect(emfValues(events, METRIC.commitLatency)).toHaveLength((await transitionsOf(fx.stack, jobId)).length);
    const [latency] = emfValues(events, METRIC.jobLatency);
    const [critical] = emfValues(events, METRIC.criticalPath);
    const [overhead] = emfValues(events, METRIC.jobOverhead);
    expect(latency).toBe(critical! + overhead!);
    expect(emfValues(events, METRIC.stageLatency)).toHaveLength(3);
    for (const event of events) expect(event._aws.CloudWatchMetrics[0]!.Namespace).toBe('CircleOfTrust');
  });

  it('logs every line of a job as JSON with its job id, and never a token, a secret or the question at info', async () => {
    const from = lines.length;
    const token = await fx.tokenFor('dave');
    const question = 'How should a family of four split chores fairly?';
    const { jobId } = await ask('dave', { question });
    const client = await fx.client('dave');
    const view = await waitForEnd(client, jobId);
    await client.get(`/jobs/${jobId}/timeline`);
    await eventually(async () => (lines.slice(from).some((l) => l.source === 'api' && l.line.includes(`${jobId}/timeline`)) ? true : undefined), 'the timeline request log');
    const jobLines = lines.slice(from).filter((l) => l.source !== 'dynamodb' && l.line.includes(jobId));
    expect(jobLines.length).toBeGreaterThan(10);
    const entries = jobLines.map(({ source, line }) => ({ source, entry: JSON.parse(line) as Record<string, unknown> }));
    for (const { entry } of entries) expect(entry.jobId, JSON.stringify(entry)).toBe(jobId);
    // The job's trace id on POST /chat's line and every worker line; other requests (GET /jobs/…) have their own.
    const chat = entries.find(({ entry }) => entry.msg === 'request' && entry.method === 'POST' && entry.path === '/chat');
    const workerTraces = new Set(entries.filter(({ source }) => source.startsWith('worker')).map(({ entry }) => entry.traceId));
    expect([...workerTraces]).toEqual([chat?.entry.traceId]);
    expect(chat?.entry.traceId).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    const modelLines = entries.map(({ entry }) => entry).filter((e) => e.msg === 'model call');
    expect(modelLines.map((e) => `${String(e.step)}#${String(e.attempt)}`).sort()).toEqual(
      ['advise.claude#1', 'advise.llama#1', 'advise.mistral#1', 'review.claude#1', 'review.llama#1', 'review.mistral#1', 'synthesize#1'],
    );

    const everything = lines.slice(from).map((l) => l.line);
    const secrets = [token, token.split('.')[2]!];
    for (const line of everything) for (const secret of secrets) expect(line).not.toContain(secret);
    const modelText = [...view.advisors.map((a) => a.answer.text ?? ''), view.synthesis?.text ?? ''].map((t) => t.slice(0, 40)).filter((t) => t.length === 40);
    expect(modelText.length).toBeGreaterThan(0);
    const atInfo = everything.filter((l) => {
      try {
        return (JSON.parse(l) as { level?: number }).level! >= 30;
      } catch {
        return true;
      }
    });
    for (const line of atInfo) {
      expect(line).not.toContain(question);
      for (const text of modelText) expect(line).not.toContain(text);
    }
  });
});

describe('GET /jobs/{id}/timeline', () => {
  it('matches the Transitions table and the Bedrock call log, retries and pushes included', async () => {
    // Mistral's first answer is throttled once: a retry with a back-off in the timeline.
    await bedrockOf(fx.stack).inject({ match: { step: 'advise.mistral' }, type: 'throttle', times: 1 });
    const erin = await fx.client('erin');
    const { jobId, socket, done } = await subscribedBeforeAnyWorker('erin', { question: 'Should I learn the cello at forty?', mode: 'quick' });
    const view = await waitForEnd(erin, jobId);
    await done();
    socket.close();
    expect(view.status).toBe('succeeded');
    const timeline = await eventually(async () => {
      const res = await erin.get<JobTimeline>(`/jobs/${jobId}/timeline`);
      // Pushes are recorded off the job's path, the last one after the run has ended.
      const last = res.body.entries.filter((e) => e.type === 'commit').at(-1);
      const pushedLast = res.body.entries.some((e) => e.type === 'push' && last !== undefined && e.seq === last.seq);
      return res.status === 200 && res.body.entries.some((e) => e.type === 'run-end') && pushedLast ? res.body : undefined;
    }, 'the timeline with the end of the run and its last push');

    const entries = <T extends TimelineEntry['type']>(type: T) => timeline.entries.filter((e): e is Extract<TimelineEntry, { type: T }> => e.type === type);
    const transitions = await transitionsOf(fx.stack, jobId);
    expect(entries('commit').map(({ seq, at, event, status, stage }) => ({ seq, at, event, status, stage }))).toEqual(
      transitions.map(({ seq, at, event, status, stage }) => ({ seq, at, event, status, stage })),
    );
    expect(entries('commit').filter((c) => c.ms === undefined || c.ms < 0 || c.run !== 1)).toEqual([]);

    const calls = await callsOf(fx.stack, jobId);
    const OUTCOME: Record<string, string> = { ok: 'ok', throttled: 'ThrottlingException' };
    expect(entries('model-call').map((c) => `${c.stepId}#${c.attempt}:${c.outcome}`).sort()).toEqual(
      calls.map((c) => `${c.requestMetadata.step}#${c.requestMetadata.attempt}:${OUTCOME[c.outcome] ?? c.outcome}`).sort(),
    );
    for (const call of calls.filter((c) => c.outcome === 'ok')) {
      const seen = entries('model-call').find((e) => e.stepId === call.requestMetadata.step && String(e.attempt) === call.requestMetadata.attempt)!;
      expect([seen.inputTokens, seen.outputTokens]).toEqual([call.inputTokens, call.outputTokens]);
      expect(seen.ttftMs).toBeLessThanOrEqual(seen.ms);
    }

    const [retry, ...moreRetries] = entries('retry');
    expect(moreRetries).toEqual([]);
    const retrying = transitions.flatMap((t) => t.changes.filter((c) => c.status === 'retrying').map((c) => ({ at: t.at, ...c })));
    expect(retry).toMatchObject({ stepId: 'advise.mistral', attempt: 1, error: 'ThrottlingException', at: retrying[0]!.at, dueAt: retrying[0]!.dueAt });
    expect(retry!.backoffMs).toBe(retry!.dueAt - retry!.at);

    expect(entries('lease')).toEqual([expect.objectContaining({ run: 1, resumed: false, delivery: 1 })]);
    expect(entries('queued')).toHaveLength(1);
    expect(entries('run-end')).toEqual([expect.objectContaining({ run: 1, outcome: 'finished' })]);
    // The subscriber got every transition pushed: one push entry per commit after it subscribed.
    const pushed = entries('push').map((p) => p.seq);
    expect(pushed).toEqual(transitions.map((t) => t.seq));
    expect(entries('push').filter((p) => p.connections !== 1 || p.gone !== 0 || p.ms < 0)).toEqual([]);

    const { summary } = timeline;
    expect(summary).toMatchObject({ status: 'succeeded', runs: 1, modelCalls: calls.length, retries: 1 });
    expect(summary.costUsd).toBeCloseTo(view.costUsd, 6);
    expect(summary.latencyMs).toBe(summary.endedAt! - Date.parse(view.createdAt));
    expect(summary.criticalPathMs! + summary.overheadMs!).toBe(summary.latencyMs);
    expect(Object.keys(summary.stages).sort()).toEqual(['advising', 'synthesizing']);

    // The same timeline in a terminal: npm run ask -- timeline <id>.
    const cli = await askTimeline('erin', jobId);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`Timeline of job ${jobId} (X-Ray trace ${timeline.traceId})`);
    expect(cli.stdout).toContain('retry        advise.mistral #1 failed (ThrottlingException)');
    expect(cli.stdout.match(/model call {3}/g)).toHaveLength(calls.length);
    expect(cli.stdout.match(/commit #/g)).toHaveLength(transitions.length);
  });

  it('is the owner\'s only: 404 for anyone else, 401 without a token', async () => {
    const { jobId } = await ask('fay', { question: 'Is a used electric car a good first car?', mode: 'quick' });
    expect((await (await fx.client('gus')).get(`/jobs/${jobId}/timeline`)).status).toBe(404);
    expect((await (await fx.client()).get(`/jobs/${jobId}/timeline`)).status).toBe(401);
    expect((await (await fx.client('fay')).get(`/jobs/${jobId}/timeline`)).status).toBe(200);
    const cli = await askTimeline('gus', jobId);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(new RegExp(`^ask: no job ${jobId} among`, 'm'));
  });
});

/** `npm run ask -- timeline <jobId>` as `user`, against the test stack. */
async function askTimeline(user: string, jobId: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli/ask.ts', 'timeline', jobId], {
    cwd: REPO,
    env: { PATH: process.env.PATH, COT_API_URL: fx.stack.apiUrl, COT_WS_URL: fx.stack.wsUrl, COT_TOKEN: await fx.tokenFor(user) },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

/** Submits a job while the workers are paused and subscribes to it over the WebSocket before any transition. */
async function subscribedBeforeAnyWorker(user: string, body: Record<string, unknown>): Promise<{ jobId: string; socket: WebSocket; done: () => Promise<void> }> {
  const workers = fx.stack.workers.filter((w) => !w.hasExited());
  for (const w of workers) w.kill('SIGSTOP');
  try {
    const { jobId } = await ask(user, body);
    const { socket, messages } = await rawClient(fx.stack.wsUrl, await fx.tokenFor(user));
    socket.send(JSON.stringify({ action: 'subscribe', jobId, afterSeq: 0 }));
    await eventually(async () => (messages.some((m) => m.type === 'job.view') ? true : undefined), 'the subscription');
    // The job's end reaches the socket after GET /jobs/{id} shows it; close only then, or the last push finds it gone.
    const done = async (): Promise<void> => {
      await eventually(async () => (messages.some((m) => m.type === 'job.done') ? true : undefined), 'job.done on the socket');
    };
    return { jobId, socket, done };
  } finally {
    for (const w of workers) w.kill('SIGCONT');
  }
}
