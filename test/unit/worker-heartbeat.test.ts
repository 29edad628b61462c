/**
 * A run's heartbeat renews its lease, extends its message and hears of a cancel. What it
 * cannot do (extend a delivery that lapsed, renew a lease its last commit gave up) must not
 * change how the job ends.
 */
import { describe, expect, it } from 'vitest';
import { loadCircle } from '../../services/shared/circle/circle.js';
import type { ModelClient, ModelRequest, ModelResponse } from '../../services/shared/ports/index.js';
import { NO_TRACER } from '../../services/shared/ports/tracer.js';
import { commitFirst, quietTelemetry, startFixtureRun, type FixtureRun } from '../support/job-run.js';
import { MemoryCommitStore } from '../support/telemetry.js';

const circle = loadCircle();
const SYNTHESIS = 'Recommendation: Keep renting.\nAgreement: All advisors.\nDissent: None.\nConfidence: high';
const JOB = { jobId: 'b7e2d1c0-4a5b-4c6d-8e7f-9a0b1c2d3e4f', owner: 'erin', question: 'Should I keep renting?', advisors: ['claude', 'mistral'] };
const BEAT_MS = 20;

/** Answers at once, or (`hang`) only ever ends by the call's abort. */
function model(hang = false): ModelClient & { steps: string[] } {
  const steps: string[] = [];
  const answer = async (request: ModelRequest): Promise<ModelResponse> => {
    steps.push(request.requestMetadata.step ?? '');
    if (hang) {
      await new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason as Error), { once: true }));
    }
    return { text: request.requestMetadata.step === 'synthesize' ? SYNTHESIS : 'An answer.', usage: { inputTokens: 10, outputTokens: 10 }, stopReason: 'end_turn' };
  };
  return { steps, converseStream: answer, converse: answer };
}

/** The job's first run, leased with its first commit as a worker takes it, beating every BEAT_MS. */
async function run(snapshots: MemoryCommitStore, client: ModelClient, extra: Partial<FixtureRun> = {}) {
  const firstCommit = await commitFirst(snapshots, { job: JOB, circle, quorum: 2 });
  const telemetry = quietTelemetry(snapshots, circle);
  return startFixtureRun({ circle, job: JOB, quorum: 2, model: client, snapshots, tracer: NO_TRACER, telemetry, workerId: 'w', firstCommit, heartbeatMs: BEAT_MS, ...extra }).outcome;
}

describe('a run’s heartbeat', () => {
  it('ends the job succeeded, not taken over, when a beat is refused while its last commit is on its way back', async () => {
    const snapshots = new MemoryCommitStore();
    // The last commit gives the lease up at once; its answer takes several beats to return, and
    // each beat meanwhile is refused (DynamoDB: the lease owner is gone).
    snapshots.afterCommit = async (request) => {
      if (request.release) await new Promise((r) => setTimeout(r, BEAT_MS * 8));
    };
    const outcome = await run(snapshots, model());
    expect(outcome).toEqual({ kind: 'finished', status: 'succeeded' });
    expect(snapshots.transitions.at(-1)?.status).toBe('succeeded');
  });

  it('hears a cancel even when the message’s visibility cannot be extended', { timeout: 15_000 }, async () => {
    const snapshots = new MemoryCommitStore();
    snapshots.cancelReason = 'I asked the wrong question';
    const client = model(true);
    const outcome = await run(snapshots, client, {
      extendMessage: async () => {
        throw new Error('SQS is unavailable');
      },
    });
    expect(outcome).toEqual({ kind: 'finished', status: 'cancelled' });
    expect(snapshots.transitions.at(-1)).toMatchObject({ status: 'cancelled', reason: 'I asked the wrong question' });
    expect(client.steps.length).toBeGreaterThan(0);
  });

  it('keeps running when its delivery of the message lapsed and a newer one holds it', async () => {
    const snapshots = new MemoryCommitStore();
    let extends_ = 0;
    const slow = model();
    const client: ModelClient = {
      // Slow enough for several beats to find the delivery gone.
      converseStream: async (request) => {
        await new Promise((r) => setTimeout(r, BEAT_MS * 3));
        return slow.converseStream(request);
      },
      converse: (request) => slow.converse(request),
    };
    const outcome = await run(snapshots, client, {
      extendMessage: async () => {
        extends_++;
        return false;
      },
    });
    expect(outcome).toEqual({ kind: 'finished', status: 'succeeded' });
    expect(extends_).toBeGreaterThan(0);
  });
});
