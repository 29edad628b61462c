/**
 * Tracing on, for real: a UDP socket on loopback plays the X-Ray daemon, SDK clients talk to
 * fauxqs and the Bedrock stand-in, and every assertion reads the segment documents as they
 * arrived over the wire. The X-Ray SDK is one per process, so this file builds one tracing.
 */
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { BedrockModelClient } from '../../services/shared/adapters/aws/bedrock-model-client.js';
import { SqsJobQueue } from '../../services/shared/adapters/aws/sqs-job-queue.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { silentLogger } from '../../services/shared/logging.js';
import type { JobQueue, ModelClient, ModelRequest, ModelResponse, QueueMessage, SnapshotStore } from '../../services/shared/ports/index.js';
import { createTracing, type Tracing } from '../../services/shared/adapters/aws/xray-tracing.js';
import type { SamplingRule } from '../../services/shared/contracts/telemetry.js';
import { JobRun } from '../../services/worker/job-run.js';
import { BedrockControl } from '../../services/local/bedrock/control-client.js';
import { startBedrockStandin, type BedrockStandin } from '../../services/local/bedrock/server.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../services/local/dynamodb-local.js';
import { startSqsLocal, type SqsLocal } from '../../services/local/sqs-local.js';
import { startXRayDaemon, type XRayDaemonStandin } from '../../services/local/xray-daemon.js';
import { NO_METRICS } from '../../services/shared/ports/metrics.js';
import { WorkerTelemetry } from '../../services/worker/telemetry/worker-telemetry.js';
import { fakeVerifier, memoryLogger, MemoryJobStore, MemoryResultStore, MemorySnapshotStore, serve } from '../unit/api-memory-ports.js';
import { assembleTrace, MemoryCommitStore, MemoryRunRecordStore, type TraceDocument } from '../support/telemetry.js';
import { startFixtureRun } from '../support/job-run.js';

const circle = loadCircle();
const TRACE_EVERY_REQUEST: SamplingRule = { name: 'all', priority: 1, service: '*', method: '*', path: '*', reservoir: 1, rate: 1, description: 'every request' };

/** The X-Ray daemon's side of the protocol (services/local/xray-daemon.ts), keeping what arrived for assertions. */
class DaemonStandin {
  readonly datagrams: string[] = [];
  readonly documents: TraceDocument[] = [];
  private waiters: (() => void)[] = [];
  private daemon?: XRayDaemonStandin;

  static async start(): Promise<DaemonStandin> {
    const standin = new DaemonStandin();
    standin.daemon = await startXRayDaemon({
      onDocument: (doc, datagram) => {
        standin.datagrams.push(datagram);
        standin.documents.push(doc);
        const waiters = standin.waiters;
        standin.waiters = [];
        for (const wake of waiters) wake();
      },
    });
    return standin;
  }

  get address(): string {
    return this.daemon?.address ?? '';
  }

  /** Resolves with the `count` documents (received already or still to come) that match. */
  async waitFor(count: number, match: (doc: TraceDocument) => boolean): Promise<TraceDocument[]> {
    for (;;) {
      const found = this.documents.filter(match);
      if (found.length >= count) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close(): Promise<void> {
    return this.daemon?.close() ?? Promise.resolve();
  }
}

/** Lets callers through only once `parties` of them have arrived, so concurrent work truly overlaps. */
class Meeting {
  private arrived: (() => void)[] = [];
  private open = false;
  constructor(private readonly parties: number) {}

  async arrive(): Promise<void> {
    if (this.open) return;
    await new Promise<void>((resolve) => {
      this.arrived.push(resolve);
      if (this.arrived.length < this.parties) return;
      this.open = true;
      for (const release of this.arrived) release();
    });
  }
}

const annotated = (key: string, value: unknown) => (doc: TraceDocument) => doc.annotations?.[key] === value;
const childrenNamed = (doc: TraceDocument, name: string) => (doc.subsegments ?? []).filter((s) => s.name === name);

let daemon: DaemonStandin;
let tracing: Tracing;
const xrayLog = memoryLogger();

beforeAll(async () => {
  daemon = await DaemonStandin.start();
  // The stand-in daemon proxies no sampling API, so rules apply locally; here every request is traced.
  const traced = await createTracing({ enabled: true, logger: xrayLog.logger, daemonAddress: daemon.address, sampling: 'local', samplingRules: [TRACE_EVERY_REQUEST] });
  if (!traced) throw new Error('tracing is on');
  tracing = traced;
});

afterAll(async () => {
  await daemon?.close();
});

describe('API tracing', () => {
  let sqsLocal: SqsLocal;
  let sqs: SQSClient;
  let queueUrl: string;

  beforeAll(async () => {
    sqsLocal = await startSqsLocal();
    sqs = tracing.instrument(new SQSClient({ endpoint: sqsLocal.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }));
    const created = await sqs.send(new CreateQueueCommand({ QueueName: 'cot-tracing-jobs' }));
    queueUrl = created.QueueUrl ?? '';
  });

  afterAll(async () => {
    sqs?.destroy();
    await sqsLocal?.stop();
  });

  async function startApi(queue: JobQueue, rateLimitPerMinute = 1000) {
    const jobs = new MemoryJobStore();
    const app = createApp({
      jobs,
      snapshots: new MemorySnapshotStore(jobs),
      results: new MemoryResultStore(),
      queue,
      circle,
      verifier: fakeVerifier,
      logger: silentLogger(),
      config: { maxQuestionChars: 4000, rateLimitPerMinute },
      tracer: tracing.tracer,
    });
    return serve(app);
  }

  it('gives two concurrent requests separate segments, each with its own SQS call', async () => {
    const meeting = new Meeting(2);
    const api = await startApi(new MeetingQueue(new SqsJobQueue(sqs, queueUrl), meeting));
    try {
      const ask = (user: string, requestId: string) =>
        fetch(`${api.url}/chat`, {
          method: 'POST',
          headers: { authorization: `Bearer user:${user}`, 'content-type': 'application/json', 'x-request-id': requestId },
          body: JSON.stringify({ question: 'Should I learn Rust?' }),
        });
      const answers = await Promise.all([ask('alice', 'req-concurrent-alice'), ask('bob', 'req-concurrent-bob')]);
      expect(answers.map((r) => r.status)).toEqual([202, 202]);

      const [alice] = await daemon.waitFor(1, annotated('requestId', 'req-concurrent-alice'));
      const [bob] = await daemon.waitFor(1, annotated('requestId', 'req-concurrent-bob'));
      for (const segment of [alice!, bob!]) {
        expect(segment.name).toBe('cot-api');
        expect(segment.annotations).toMatchObject({ method: 'POST', route: '/chat', status: 202 });
        expect(segment.in_progress).toBeUndefined();
        // Each request's SendMessage is recorded in its own segment, not in the other's.
        expect(childrenNamed(segment, 'SQS').map((s) => s.aws?.operation)).toEqual(['SendMessage']);
      }
      expect(alice!.trace_id).not.toBe(bob!.trace_id);
      expect(alice!.id).not.toBe(bob!.id);
    } finally {
      await api.close();
    }
  });

  it('keeps the token, the query and the caller out of every datagram', async () => {
    const api = await startApi(new SqsJobQueue(sqs, queueUrl));
    const token = 'user:carol-2f9c41';
    try {
      const res = await fetch(`${api.url}/advisors?token=${encodeURIComponent(token)}`, {
        headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-private-carol' },
      });
      expect(res.status).toBe(200);

      const [segment] = await daemon.waitFor(1, annotated('requestId', 'req-private-carol'));
      expect(segment!.annotations).toEqual({ method: 'GET', route: '/advisors', status: 200, requestId: 'req-private-carol' });
      const datagram = daemon.datagrams.find((d) => d.includes('req-private-carol')) ?? '';
      expect(datagram).not.toContain('carol-2f9c41');
      expect(datagram).not.toContain('token');
      expect(datagram).not.toContain('/advisors?');
    } finally {
      await api.close();
    }
  });

  it('flags client errors, throttling and unmatched routes without their path, and skips health checks', async () => {
    const api = await startApi(new SqsJobQueue(sqs, queueUrl), 1);
    const get = (path: string, requestId: string, init: RequestInit = {}) =>
      fetch(`${api.url}${path}`, { ...init, headers: { authorization: 'Bearer user:dave', 'x-request-id': requestId, 'content-type': 'application/json' } });
    try {
      expect((await get('/healthz', 'req-flags-health')).status).toBe(200);
      expect((await get('/jobs/5b1f3c1e-8f0a-4c55-9d6e-2f1a7b9c0d11', 'req-flags-missing')).status).toBe(404);
      expect((await get('/private-scan-target/x', 'req-flags-unmatched')).status).toBe(404);
      const chat = { method: 'POST', body: JSON.stringify({ question: 'Is this throttled?' }) };
      expect((await get('/chat', 'req-flags-first', chat)).status).toBe(202);
      expect((await get('/chat', 'req-flags-limited', chat)).status).toBe(429);

      const [missing] = await daemon.waitFor(1, annotated('requestId', 'req-flags-missing'));
      expect(missing!.annotations).toMatchObject({ route: '/jobs/:id', status: 404 });
      expect(missing!.error).toBe(true);
      expect(missing!.fault).toBeUndefined();

      const [unmatched] = await daemon.waitFor(1, annotated('requestId', 'req-flags-unmatched'));
      expect(unmatched!.annotations).toMatchObject({ route: '(unmatched)', status: 404 });
      expect(daemon.datagrams.some((d) => d.includes('private-scan-target'))).toBe(false);

      const [limited] = await daemon.waitFor(1, annotated('requestId', 'req-flags-limited'));
      expect(limited).toMatchObject({ error: true, throttle: true, annotations: { status: 429 } });
      // Health checks are not traced (sent first, its segment would have arrived first).
      expect(daemon.datagrams.some((d) => d.includes('req-flags-health'))).toBe(false);
    } finally {
      await api.close();
    }
  });

  it('leaves SDK calls outside any request untraced, without a word in the logs', async () => {
    await new SqsJobQueue(sqs, queueUrl).send('{"jobId":"outside-any-request"}');
    expect(xrayLog.lines()).toEqual([]);
  });
});

describe('worker tracing', () => {
  let standin: BedrockStandin;
  let bedrock: BedrockRuntimeClient;

  beforeAll(async () => {
    standin = await startBedrockStandin({ firstTokenDelayMs: 5, tokenDelayMs: 0 });
    bedrock = tracing.instrument(new BedrockRuntimeClient({ endpoint: standin.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }));
  });

  afterAll(async () => {
    bedrock?.destroy();
    await standin?.close();
  });

  it('sends one segment per job run whose model calls, with their Bedrock calls, belong to that job only', async () => {
    const advisors = ['claude', 'mistral'];
    const [first, second] = ['6f1d2a0e-3b4c-4d5e-8f90-a1b2c3d4e5f6', '7a2e3b1f-4c5d-4e6f-9a01-b2c3d4e5f6a7'];
    const claude = circle.advisors.find((a) => a.id === 'claude')!;
    // The first job's first Claude answer is throttled once; the retry succeeds.
    await new BedrockControl(standin.controlUrl).inject({ match: { jobId: first!, step: 'advise.claude' }, type: 'throttle', times: 1 });
    // Every first-round answer of both jobs waits for the others: the runs overlap for sure.
    const model = new MeetingModel(new BedrockModelClient(bedrock), new Meeting(advisors.length * 2));
    const snapshots = new MemoryCommitStore();
    const runs = [first!, second!].map((jobId) => runJob(jobId, advisors, model, snapshots));
    const outcomes = await Promise.all(runs.map((run) => run.outcome));
    expect(outcomes).toEqual([
      { kind: 'finished', status: 'succeeded' },
      { kind: 'finished', status: 'succeeded' },
    ]);

    for (const jobId of [first!, second!]) {
      const [finished] = await daemon.waitFor(1, (d) => d.name === 'cot-worker' && d.annotations?.jobId === jobId && !d.in_progress);
      // Finished subsegments were streamed while the run went on: X-Ray puts the tree back together.
      const segment = assembleTrace(daemon.documents, finished!.trace_id!).find((d) => d.id === finished!.id);
      expect(segment!.annotations).toMatchObject({ jobId, run: 1, resumed: false, outcome: 'finished', status: 'succeeded' });
      expect(segment!.annotations?.user).toMatch(/^[0-9a-f]{16}$/);
      const calls = childrenNamed(segment!, 'model-call');
      // Only this job's calls, each with the Bedrock request it made inside it.
      expect(new Set(calls.map((c) => c.annotations?.jobId))).toEqual(new Set([jobId]));
      expect(calls.every((c) => childrenNamed(c, 'BedrockRuntime').map((b) => b.aws?.operation).join() === 'ConverseStream')).toBe(true);
      const summary = calls.map((c) => `${String(c.annotations?.step)}#${String(c.annotations?.attempt)}:${String(c.annotations?.outcome)}`).sort();
      expect(summary).toEqual(
        jobId === first
          ? ['advise.claude#1:ThrottlingException', 'advise.claude#2:ok', 'advise.mistral#1:ok', 'synthesize#1:ok']
          : ['advise.claude#1:ok', 'advise.mistral#1:ok', 'synthesize#1:ok'],
      );
      const throttled = calls.find((c) => c.annotations?.outcome === 'ThrottlingException');
      if (throttled) expect(throttled.fault).toBe(true);
      expect(calls.find((c) => c.annotations?.step === 'advise.claude' && c.annotations.attempt === 1)?.annotations?.modelId).toBe(claude.modelId);
    }
  });

  function runJob(jobId: string, advisors: string[], model: ModelClient, snapshots: SnapshotStore): JobRun {
    const telemetry = new WorkerTelemetry({
      tracer: tracing.tracer,
      metrics: NO_METRICS,
      runs: new MemoryRunRecordStore(),
      transitions: snapshots,
      circle,
      clock: { now: () => Date.now() },
      logger: silentLogger(),
    });
    return startFixtureRun({
      circle,
      job: { jobId, owner: 'erin', question: 'Should we move the team to a four-day week?', advisors },
      quorum: advisors.length,
      model: telemetry.modelClient(model),
      snapshots: telemetry.snapshotStore(snapshots),
      tracer: tracing.tracer,
      telemetry,
      workerId: 'worker-1',
    });
  }
});

/** A job queue whose sends wait at a meeting first. */
class MeetingQueue implements JobQueue {
  constructor(
    private readonly queue: JobQueue,
    private readonly meeting: Meeting,
  ) {}
  async send(body: string, delaySeconds?: number): Promise<void> {
    await this.meeting.arrive();
    await this.queue.send(body, delaySeconds);
  }
  receive(max: number, waitSeconds: number, visibilitySeconds: number, signal?: AbortSignal): Promise<QueueMessage[]> {
    return this.queue.receive(max, waitSeconds, visibilitySeconds, signal);
  }
  delete(receiptHandle: string): Promise<void> {
    return this.queue.delete(receiptHandle);
  }
  changeVisibility(receiptHandle: string, seconds: number): Promise<boolean> {
    return this.queue.changeVisibility(receiptHandle, seconds);
  }
}

/** A model client whose calls wait at a meeting first. */
class MeetingModel implements ModelClient {
  constructor(
    private readonly model: ModelClient,
    private readonly meeting: Meeting,
  ) {}
  async converseStream(request: ModelRequest): Promise<ModelResponse> {
    await this.meeting.arrive();
    return this.model.converseStream(request);
  }
  async converse(request: ModelRequest): Promise<ModelResponse> {
    await this.meeting.arrive();
    return this.model.converse(request);
  }
}
