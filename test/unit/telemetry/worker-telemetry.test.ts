/**
 * A fixture job run in-process with the worker's telemetry wired as in its composition root:
 * the EMF lines it writes, its run record and its trace annotations, for a job with a
 * throttled advisor (a retry), an advisor that cannot answer (a degraded job) and an
 * unusable synthesis (a repair).
 */
import { describe, expect, it } from 'vitest';
import { EmfMetrics } from '../../../services/shared/adapters/aws/emf-metrics.js';
import { costOf, loadCircle, memberOf } from '../../../services/shared/circle/circle.js';
import type { JobItem } from '../../../services/shared/contracts/job.js';
import { METRIC } from '../../../services/shared/contracts/telemetry.js';
import { ModelCallError } from '../../../services/shared/errors.js';
import { silentLogger } from '../../../services/shared/logging.js';
import type { Annotations, Lease, ModelClient, ModelRequest, ModelResponse, Span, Tracer } from '../../../services/shared/ports/index.js';
import { NOOP_SPAN } from '../../../services/shared/ports/tracer.js';
import { WorkerTelemetry } from '../../../services/worker/telemetry/worker-telemetry.js';
import { emfValues, MemoryCommitStore, MemoryRunRecordStore, parseEmf, sum } from '../../support/telemetry.js';
import { startFixtureRun } from '../../support/job-run.js';

const circle = loadCircle();
const JOB_ID = '9d2c1c1e-8f0a-4c55-9d6e-2f1a7b9c0d11';
const USAGE = { inputTokens: 120, outputTokens: 80 };
const SYNTHESIS = 'Recommendation: Rent for two more years.\nAgreement: Both advisors.\nDissent: None.\nConfidence: high';

/** Claude answers; Mistral is throttled once; Llama's request is invalid; the chair's first text is unusable. */
class FixtureModel implements ModelClient {
  async converseStream(request: ModelRequest): Promise<ModelResponse> {
    const { step, attempt } = request.requestMetadata;
    if (step === 'advise.mistral' && attempt === '1') throw new ModelCallError('ThrottlingException', 'slow down');
    if (step === 'advise.llama') throw new ModelCallError('ValidationException', 'the request is not valid');
    request.onDelta?.('A');
    const text = step === 'synthesize' ? (attempt === '1' ? 'I think you should rent.' : SYNTHESIS) : 'An answer.';
    return { text, usage: USAGE, stopReason: 'end_turn' };
  }
  converse(request: ModelRequest): Promise<ModelResponse> {
    return this.converseStream(request);
  }
}

/** A tracer that keeps each span's annotations. */
function recordingTracer(): { tracer: Tracer; spans: Annotations[] } {
  const spans: Annotations[] = [];
  const span = (): Span => {
    const annotations: Annotations = {};
    spans.push(annotations);
    return { ...NOOP_SPAN, traceId: '1-6789abcd-0123456789abcdef01234567', annotate: (a) => Object.assign(annotations, a) };
  };
  let current: Span | undefined;
  const within = <T>(s: Span, fn: (s: Span) => Promise<T>) => {
    current = s;
    return fn(s);
  };
  return {
    spans,
    tracer: {
      segment: (_name, fn) => within(span(), fn),
      subsegment: (_name, fn) => within(span(), fn),
      annotate: (a) => current?.annotate(a),
    },
  };
}

describe('worker telemetry of a fixture job', () => {
  it('writes EMF that adds up to the job: calls, errors, retries, repairs, cost and its end', async () => {
    const lines: string[] = [];
    const metrics = new EmfMetrics({ namespace: 'CircleOfTrust', service: 'cot-worker', write: (line) => void lines.push(line) });
    const runs = new MemoryRunRecordStore();
    const snapshots = new MemoryCommitStore();
    const { tracer } = recordingTracer();
    const telemetry = new WorkerTelemetry({ tracer, metrics, runs, transitions: snapshots, circle, clock: { now: () => Date.now() }, logger: silentLogger() });
    const now = Date.now();
    const run = startFixtureRun({
      circle,
      job: { jobId: JOB_ID, owner: 'erin', question: 'Should I buy a flat now or keep renting?', advisors: ['claude', 'mistral', 'llama'], createdAt: now - 50 },
      quorum: 2,
      model: telemetry.modelClient(new FixtureModel()),
      snapshots: telemetry.snapshotStore(snapshots),
      tracer,
      telemetry,
      workerId: 'w',
      message: { messageId: 'm', receiptHandle: 'r', body: '', receiveCount: 1, sentAt: now - 20 },
    });
    expect(await run.outcome).toEqual({ kind: 'finished', status: 'succeeded' });
    await telemetry.idle();
    await expect.poll(() => emfValues(lines.map(parseEmf), METRIC.jobOverhead).length).toBe(1);

    const events = lines.map(parseEmf);
    // 1 claude + 2 mistral + 1 llama + 2 chair (the repair).
    expect(sum(emfValues(events, METRIC.modelCalls))).toBe(6);
    expect(sum(emfValues(events, METRIC.modelErrors))).toBe(2);
    const errorsBy = (advisor: string) => sum(emfValues(events, METRIC.modelErrors, (e) => e.Advisor === advisor));
    expect([errorsBy('mistral'), errorsBy('llama'), errorsBy('claude')]).toEqual([1, 1, 0]);
    const retries = events.filter((e) => emfValues([e], METRIC.retries).length > 0).map((e) => e.Error);
    expect(retries).toEqual(['ThrottlingException']);
    const repairs = events.filter((e) => emfValues([e], METRIC.repairs).length > 0).map((e) => e.Error);
    expect(repairs).toEqual(['Synthesis.InvalidOutput']);
    const perCall = costOf(memberOf(circle, 'claude')!, USAGE) + costOf(memberOf(circle, 'mistral')!, USAGE) + 2 * costOf(circle.chair, USAGE);
    expect(sum(emfValues(events, METRIC.cost))).toBeCloseTo(perCall, 6);
    expect(sum(emfValues(events, METRIC.jobsStarted))).toBe(1);
    expect(sum(emfValues(events, METRIC.jobsSucceeded))).toBe(1);
    // Llama could not answer: the advice is partial.
    expect(sum(emfValues(events, METRIC.jobsDegraded))).toBe(1);
    expect(emfValues(events, METRIC.commitLatency)).toHaveLength(snapshots.transitions.length);
    expect(emfValues(events, METRIC.queueWait)[0]).toBeGreaterThanOrEqual(50);

    const [record] = await runs.list(JOB_ID);
    expect(record).toMatchObject({ epoch: 1, fromVersion: 0, outcome: 'finished', message: { receiveCount: 1, sentAt: now - 20 } });
    expect(record!.modelCalls.map((c) => `${c.stepId}#${c.attempt}:${c.outcome}`).sort()).toEqual([
      'advise.claude#1:ok',
      'advise.llama#1:ValidationException',
      'advise.mistral#1:ThrottlingException',
      'advise.mistral#2:ok',
      'synthesize#1:ok',
      'synthesize#2:ok',
    ]);
    expect(record!.commits.map((c) => c.seq)).toEqual(snapshots.transitions.map((t) => t.seq));
  });

  it('counts a lost lease and the fenced run, and names them in the run record', async () => {
    const lines: string[] = [];
    const metrics = new EmfMetrics({ namespace: 'CircleOfTrust', service: 'cot-worker', write: (line) => void lines.push(line) });
    const runs = new MemoryRunRecordStore();
    const inner = new MemoryCommitStore();
    const { tracer, spans } = recordingTracer();
    const telemetry = new WorkerTelemetry({ tracer, metrics, runs, transitions: inner, circle, clock: { now: () => Date.now() }, logger: silentLogger() });
    const store = telemetry.snapshotStore(inner);
    const now = Date.now();
    const lease: Lease = { jobId: JOB_ID, owner: 'w', epoch: 4, expiresAt: now + 30_000, state: { jobId: JOB_ID, version: 2, epoch: 4, expiresAt: 0 } };
    const job = { jobId: JOB_ID, owner: 'ann', createdAt: new Date(now).toISOString(), expiresAt: 0 } as JobItem;
    let finish!: (kind: 'fenced') => void;
    const ended = telemetry.run({ job, lease }, () => new Promise((resolve) => (finish = (kind) => resolve({ kind }))));
    inner.leaseGone = true;
    await expect(store.heartbeat(lease, 1000, now)).rejects.toThrow('held by another worker');
    finish('fenced');
    await ended;
    await telemetry.idle();
    const events = lines.map(parseEmf);
    expect(sum(emfValues(events, METRIC.leasesLost))).toBe(1);
    expect(sum(emfValues(events, METRIC.resumes))).toBe(1);
    await expect.poll(async () => (await runs.list(JOB_ID))[0]).toMatchObject({ epoch: 4, fromVersion: 2, outcome: 'fenced', leaseLostAt: expect.any(Number) });
    expect(spans[0]).toMatchObject({ jobId: JOB_ID, run: 4, resumed: true, outcome: 'fenced' });
    expect(spans[0]!.user).toMatch(/^[0-9a-f]{16}$/);
  });
});
