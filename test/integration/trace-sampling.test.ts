/**
 * How a job's trace is continued and sampled, through the real X-Ray SDK and a UDP daemon
 * stand-in: the deployed sampling rules (every POST /chat, a trickle of the rest), the
 * header a worker continues from (its sampling decision included), and live segments that
 * are in X-Ray before they end. The X-Ray SDK is one per process: this file builds one tracing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../services/shared/logging.js';
import { createTracing, type Tracing } from '../../services/shared/adapters/aws/xray-tracing.js';
import { startXRayDaemon, type TraceDocument, type XRayDaemonStandin } from '../../services/local/xray-daemon.js';
import { eventually } from '../support/jobs.js';

let daemon: XRayDaemonStandin;
let tracing: Tracing;
const documents: TraceDocument[] = [];

beforeAll(async () => {
  daemon = await startXRayDaemon({ onDocument: (doc) => documents.push(doc) });
  // The deployed rules (SAMPLING_RULES), applied locally as the local stack does.
  tracing = (await createTracing({ enabled: true, logger: silentLogger(), daemonAddress: daemon.address, sampling: 'local' }))!;
});

afterAll(async () => {
  await daemon?.close();
});

const named = (name: string) => documents.filter((d) => d.name === name);
const settle = () => new Promise((r) => setTimeout(r, 200));

describe('trace sampling', () => {
  it('traces every POST /chat, so every job, and only a trickle of other requests', async () => {
    for (let i = 0; i < 30; i++) await tracing.tracer.segment('cot-api', async (span) => span.annotate({ probe: 'chat' }), { request: { method: 'POST', path: '/chat' } });
    for (let i = 0; i < 300; i++) await tracing.tracer.segment('cot-api', async (span) => span.annotate({ probe: 'read' }), { request: { method: 'GET', path: '/jobs' } });
    await eventually(async () => (named('cot-api').filter((d) => d.annotations?.probe === 'chat').length === 30 ? true : undefined), 'every POST /chat');
    await settle();
    const reads = named('cot-api').filter((d) => d.annotations?.probe === 'read').length;
    // One a second plus 5 %: about 16 of 300; far fewer than all of them, and not none.
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(75);
  });

  it('continues the trace of a header from its parent, and keeps its decision not to sample', async () => {
    const root = '1-6789abcd-0123456789abcdef01234567';
    await tracing.tracer.segment('cot-worker', async (span) => {
      span.annotate({ probe: 'sampled' });
      await tracing.tracer.subsegment('model-call', async () => {});
      expect(span.traceId).toBe(root);
    }, { parent: `Root=${root};Parent=53995c3f42cd8ad8;Sampled=1`, live: true });
    const unsampled = '1-6789abcd-fedcba9876543210fedcba98';
    await tracing.tracer.segment('cot-worker', async (span) => {
      span.annotate({ probe: 'unsampled' });
      await tracing.tracer.subsegment('model-call', async () => {});
    }, { parent: `Root=${unsampled};Parent=53995c3f42cd8ad8;Sampled=0`, live: true });

    const [segment] = await eventually(async () => {
      const found = named('cot-worker').filter((d) => d.annotations?.probe === 'sampled' && !d.in_progress);
      return found.length ? found : undefined;
    }, 'the continued segment');
    expect(segment).toMatchObject({ trace_id: root, parent_id: '53995c3f42cd8ad8' });
    await settle();
    expect(documents.filter((d) => d.trace_id === unsampled)).toEqual([]);
  });

  it('sends a live segment in progress at once, and each subsegment as it ends, before the segment ends', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const done = tracing.tracer.segment('cot-worker', async (span) => {
      span.annotate({ probe: 'live' });
      await tracing.tracer.subsegment('model-call', async (call) => call.annotate({ probe: 'first-call' }));
      span.record('stage', Date.now() - 50, Date.now(), { stage: 'advising' });
      await held;
    }, { live: true });

    const inProgress = await eventually(async () => named('cot-worker').find((d) => d.annotations?.probe === 'live' && d.in_progress), 'the in-progress segment');
    const call = await eventually(async () => documents.find((d) => d.annotations?.probe === 'first-call'), 'the streamed subsegment');
    const stage = await eventually(async () => documents.find((d) => d.name === 'stage' && d.parent_id === inProgress.id), 'the stage');
    expect(call).toMatchObject({ type: 'subsegment', parent_id: inProgress.id, trace_id: inProgress.trace_id });
    expect(stage.annotations).toEqual({ stage: 'advising' });
    expect(stage.end_time! - stage.start_time!).toBeCloseTo(0.05, 1);
    release();
    await done;
    const finished = await eventually(async () => named('cot-worker').find((d) => d.id === inProgress.id && !d.in_progress), 'the finished segment');
    // Streamed subsegments are not sent twice.
    expect(finished.subsegments ?? []).toEqual([]);
  });
});
