/**
 * A step's output is written in the transaction of the commit that records it; an answer
 * no commit took (the run was fenced off between the answer and its commit) was still paid
 * for, so it is stored on its own and the run that takes the job over does not ask again.
 */
import { describe, expect, it } from 'vitest';
import { loadCircle } from '../../services/shared/circle/circle.js';
import type { ModelClient, ModelRequest, ModelResponse } from '../../services/shared/ports/index.js';
import { NO_TRACER } from '../../services/shared/ports/tracer.js';
import { commitFirst, quietTelemetry, startFixtureRun, type FixtureRun } from '../support/job-run.js';
import { MemoryCommitStore } from '../support/telemetry.js';
import { MemoryResultStore } from './api-memory-ports.js';

const circle = loadCircle();
const SYNTHESIS = 'Recommendation: Keep renting.\nAgreement: All advisors.\nDissent: None.\nConfidence: high';
const JOB = { jobId: 'b4e2d3c5-6c7f-4a81-9bac-1d2e3f4a5b6c', owner: 'erin', question: 'Should I keep renting?', advisors: ['claude', 'mistral'] };

/** Answers every call (after `hold`, if one is given for that step) and remembers which steps were asked. */
class ScriptedModel implements ModelClient {
  readonly steps: string[] = [];
  constructor(private readonly hold: Record<string, (request: ModelRequest) => Promise<void>> = {}) {}
  async converseStream(request: ModelRequest): Promise<ModelResponse> {
    const step = request.requestMetadata.step ?? '';
    // As the Bedrock adapter does: the request leaves only once beforeSend has passed.
    await request.beforeSend?.();
    this.steps.push(step);
    await this.hold[step]?.(request);
    return { text: step === 'synthesize' ? SYNTHESIS : `The answer of ${step}.`, usage: { inputTokens: 10, outputTokens: 10 }, stopReason: 'end_turn' };
  }
  converse(request: ModelRequest): Promise<ModelResponse> {
    return this.converseStream(request);
  }
}

/** Resolves once `done()` holds (checked every millisecond; the test's timeout bounds it). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 1));
}

/** Never settles until the call is aborted (the run stopped). */
const untilAborted = (request: ModelRequest) =>
  new Promise<void>((_, reject) => request.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));

function run(snapshots: MemoryCommitStore, model: ModelClient, extra: Partial<FixtureRun>) {
  return startFixtureRun({ circle, job: JOB, quorum: 2, model, snapshots, tracer: NO_TRACER, telemetry: quietTelemetry(snapshots, circle), workerId: 'w', ...extra });
}

/** The job's first commit, stored as a worker's lease stores it. */
const firstCommit = (snapshots: MemoryCommitStore) => commitFirst(snapshots, { job: JOB, circle, quorum: 2 });

describe('step outputs and commits', () => {
  it('writes an answer in the commit that records it when no other commit is in flight', async () => {
    const snapshots = new MemoryCommitStore();
    const results = new MemoryResultStore();
    // Mistral answers once Claude's answer is committed, the chair after both.
    const model = new ScriptedModel({ 'advise.mistral': () => until(() => snapshots.results.has('advise.claude#1')) });
    const outcome = await run(snapshots, model, { firstCommit: await firstCommit(snapshots), results }).outcome;
    expect(outcome).toEqual({ kind: 'finished', status: 'succeeded' });
    expect([...snapshots.results.keys()].sort()).toEqual(['advise.claude#1', 'advise.mistral#1', 'synthesize#1']);
    expect(snapshots.results.get('advise.claude#1')?.text).toBe('The answer of advise.claude.');
    expect(results.items.size).toBe(0);
  });

  it('stores an answer that comes while a commit is in flight at once, not after that commit', async () => {
    const snapshots = new MemoryCommitStore();
    const results = new MemoryResultStore();
    const first = await firstCommit(snapshots);
    // The commit carrying Claude's answer stays in flight until Mistral's answer is stored; Mistral answers meanwhile.
    let claudeInFlight = false;
    snapshots.beforeCommit = async (request) => {
      if (!request.results?.some((r) => r.stepKey === 'advise.claude#1')) return;
      claudeInFlight = true;
      await until(() => results.items.size > 0);
    };
    const model = new ScriptedModel({ 'advise.mistral': () => until(() => claudeInFlight) });
    const outcome = await run(snapshots, model, { firstCommit: first, results }).outcome;
    expect(outcome).toEqual({ kind: 'finished', status: 'succeeded' });
    expect([...results.items.keys()]).toEqual([`${JOB.jobId}/advise.mistral#1`]);
    expect([...snapshots.results.keys()].sort()).toEqual(['advise.claude#1', 'synthesize#1']);
  });

  it('stores an answer its run was fenced off before committing, and the run that takes over reuses it', async () => {
    const snapshots = new MemoryCommitStore();
    const results = new MemoryResultStore();
    const first = await firstCommit(snapshots);
    // Claude answers at once, but by then another worker has taken the job; Mistral's call hangs until the run stops.
    const fencedModel = new ScriptedModel({
      'advise.claude': async () => void (snapshots.leaseGone = true),
      'advise.mistral': untilAborted,
    });
    expect(await run(snapshots, fencedModel, { firstCommit: first, results }).outcome).toEqual({ kind: 'fenced' });
    expect(snapshots.results.size).toBe(0);
    expect((await results.get(JOB.jobId, 'advise.claude#1'))?.text).toBe('The answer of advise.claude.');
    expect(await results.get(JOB.jobId, 'advise.mistral#1')).toBeUndefined();

    // The next run resumes from the last commit (the job started, both advisors scheduled).
    snapshots.leaseGone = false;
    const model = new ScriptedModel();
    const resumes = { jobId: JOB.jobId, version: 1, epoch: 2, snapshot: first.snapshot, machineVersion: first.machineVersion, expiresAt: first.transition.expiresAt ?? 0 };
    expect(await run(snapshots, model, { resumes, results }).outcome).toEqual({ kind: 'finished', status: 'succeeded' });
    expect(model.steps).not.toContain('advise.claude');
    expect(model.steps).toContain('advise.mistral');
    expect(fencedModel.steps.filter((s) => s === 'advise.claude')).toHaveLength(1);
  });
});
