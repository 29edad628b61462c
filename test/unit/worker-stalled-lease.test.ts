/**
 * A worker that stalls past its lease (starved of CPU, paused by a long GC or SIGSTOP) must
 * not call a model for a job another worker may have taken over meanwhile: the commit would be
 * fenced off, but the call would be paid for twice.
 */
import { describe, expect, it } from 'vitest';
import { loadCircle } from '../../services/shared/circle/circle.js';
import type { ModelClient, ModelRequest, ModelResponse } from '../../services/shared/ports/index.js';
import { NO_TRACER } from '../../services/shared/ports/tracer.js';
import { commitFirst, quietTelemetry, startFixtureRun, type FixtureRun } from '../support/job-run.js';
import { MemoryCommitStore } from '../support/telemetry.js';

const circle = loadCircle();
const SYNTHESIS = 'Recommendation: Keep renting.\nAgreement: All advisors.\nDissent: None.\nConfidence: high';

/** Answers every call and remembers which steps were asked. */
class CountingModel implements ModelClient {
  readonly steps: string[] = [];
  /** Runs while the SDK would be serializing and signing, before beforeSend. */
  stall?: (request: ModelRequest) => Promise<void>;
  async converseStream(request: ModelRequest): Promise<ModelResponse> {
    await this.stall?.(request);
    // As the Bedrock adapter does: the request leaves only once beforeSend has passed.
    await request.beforeSend?.();
    this.steps.push(request.requestMetadata.step ?? '');
    return { text: request.requestMetadata.step === 'synthesize' ? SYNTHESIS : 'An answer.', usage: { inputTokens: 10, outputTokens: 10 }, stopReason: 'end_turn' };
  }
  converse(request: ModelRequest): Promise<ModelResponse> {
    return this.converseStream(request);
  }
}

const JOB = { jobId: 'a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b', owner: 'erin', question: 'Should I keep renting?', advisors: ['claude', 'mistral'] };

/**
 * Takes the lease with the job's first commit (as a worker does) and starts the run only once
 * that lease has lapsed; meanwhile another worker has taken the job over, or nobody has.
 */
async function stalledRun(
  takenOver: boolean,
  extra: (snapshots: MemoryCommitStore) => Partial<FixtureRun> = () => ({}),
  stall?: (snapshots: MemoryCommitStore) => CountingModel['stall'],
) {
  const snapshots = new MemoryCommitStore();
  const firstCommit = await commitFirst(snapshots, { job: JOB, circle, quorum: 2 });
  snapshots.leaseGone = takenOver;
  const model = new CountingModel();
  model.stall = stall?.(snapshots);
  const telemetry = quietTelemetry(snapshots, circle);
  const jobRun = startFixtureRun({
    circle,
    job: JOB,
    quorum: 2,
    model,
    snapshots,
    tracer: NO_TRACER,
    telemetry,
    workerId: 'w',
    leaseExpiresAt: Date.now() - 2_000,
    firstCommit,
    ...extra(snapshots),
  });
  return { model, snapshots, outcome: jobRun.outcome };
}

describe('a run that wakes with its lease lapsed', () => {
  it('calls no model once another worker has taken the job over', async () => {
    const { model, outcome } = await stalledRun(true);
    expect(await outcome).toEqual({ kind: 'fenced' });
    expect(model.steps).toEqual([]);
  });

  it('calls no model when it stalls while building the prompt and the job is taken over meanwhile', async () => {
    // The lease looks live when the step starts (a little over one heartbeat, 10 s, left); the
    // history read stalls past that margin, and meanwhile another worker takes the job.
    const { model, outcome } = await stalledRun(false, (snapshots) => ({
      leaseExpiresAt: Date.now() + 10_000 + 300,
      loadHistory: async () => {
        await new Promise((r) => setTimeout(r, 600));
        snapshots.leaseGone = true;
        return [];
      },
    }));
    expect(await outcome).toEqual({ kind: 'fenced' });
    expect(model.steps).toEqual([]);
  });

  it('sends no request when it stalls after its lease check, before the request leaves, and the job is taken over meanwhile', async () => {
    const started = Date.now();
    const checked: { leaseCheckedAt: number; stalledAt: number }[] = [];
    const { model, outcome } = await stalledRun(
      false,
      () => ({ leaseExpiresAt: Date.now() + 10_000 + 300 }),
      (snapshots) => async (request) => {
        checked.push({ leaseCheckedAt: Number(request.requestMetadata.leaseCheckedAt), stalledAt: Date.now() });
        await new Promise((r) => setTimeout(r, 600));
        snapshots.leaseGone = true;
      },
    );
    expect(await outcome).toEqual({ kind: 'fenced' });
    expect(model.steps).toEqual([]);
    // Each request said when its lease was found live: before it stalled.
    expect(checked.length).toBeGreaterThan(0);
    for (const c of checked) {
      expect(c.leaseCheckedAt).toBeGreaterThanOrEqual(started);
      expect(c.leaseCheckedAt).toBeLessThanOrEqual(c.stalledAt);
    }
  });

  it('renews the lease and goes on when nobody took the job', async () => {
    const { model, outcome } = await stalledRun(false);
    expect(await outcome).toEqual({ kind: 'finished', status: 'succeeded' });
    expect(model.steps).toContain('synthesize');
  });
});
