/**
 * A step's output is written in the transaction of the commit that records it; an answer
 * no commit took (the run was fenced off between the answer and its commit) was still paid
 * for, so it is stored on its own and the run that takes the job over does not ask again.
 */
import { describe, expect, it } from 'vitest';
import type { ResultItem } from '../../services/shared/contracts/job.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import type { CommitRequest, ModelClient, ModelRequest, ModelResponse } from '../../services/shared/ports/index.js';
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

/** A Results table whose writes of one step key wait for `release()` and then do what `outcome` says. */
class HeldResultStore extends MemoryResultStore {
  started = false;
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  constructor(private readonly stepKey: string, private readonly outcome: 'store' | 'fail-once' | 'taken' = 'store') {
    super();
  }
  release(): void {
    this.open();
  }
  override async putOnce(item: ResultItem): Promise<boolean> {
    if (item.stepKey !== this.stepKey || this.started) return super.putOnce(item);
    this.started = true;
    await this.gate;
    if (this.outcome === 'fail-once') throw new Error('DynamoDB is unavailable');
    if (this.outcome === 'taken') return false;
    return super.putOnce(item);
  }
}

/** Whether a commit records `stepId` as succeeded (its snapshot refers to the step's output). */
const records = (request: CommitRequest, stepId: string) => request.transition.changes.some((c) => c.stepId === stepId && c.status === 'succeeded');

/**
 * Claude's commit stays in flight until Mistral's answer is being written beside it, and the
 * test decides when that write lands: what the commits after it are told, in order.
 */
async function answerBesideACommit(results: HeldResultStore) {
  const snapshots = new MemoryCommitStore();
  const first = await firstCommit(snapshots);
  const sent: { mistral: boolean; writeLanded: boolean }[] = [];
  let claudeInFlight = false;
  let landed = false;
  snapshots.beforeCommit = async (request) => {
    sent.push({ mistral: records(request, 'advise.mistral'), writeLanded: landed });
    if (!request.results?.some((r) => r.stepKey === 'advise.claude#1')) return;
    claudeInFlight = true;
    await until(() => results.started);
  };
  const model = new ScriptedModel({ 'advise.mistral': () => until(() => claudeInFlight) });
  const running = run(snapshots, model, { firstCommit: first, results });
  await until(() => results.started && sent.length >= 1);
  // Give the run every chance to send a commit that refers to the answer before it is stored.
  await new Promise((r) => setTimeout(r, 20));
  const sentBeforeLanding = sent.filter((c) => c.mistral).length;
  landed = true;
  results.release();
  return { outcome: await running.outcome, sent, sentBeforeLanding, snapshots };
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

  it('sends the commit that refers to an answer written beside the commit before it only once that write has landed', async () => {
    const results = new HeldResultStore('advise.mistral#1');
    const { outcome, sent, sentBeforeLanding, snapshots } = await answerBesideACommit(results);
    expect(outcome).toEqual({ kind: 'finished', status: 'succeeded' });
    expect(sentBeforeLanding).toBe(0);
    expect(sent.filter((c) => c.mistral)).toEqual([{ mistral: true, writeLanded: true }]);
    expect((await results.get(JOB.jobId, 'advise.mistral#1'))?.text).toBe('The answer of advise.mistral.');
    expect(snapshots.results.has('advise.mistral#1')).toBe(false);
  });

  it('commits nothing that refers to an answer whose write beside a commit failed, and stores the answer as the run ends', async () => {
    const results = new HeldResultStore('advise.mistral#1', 'fail-once');
    const { outcome, sent } = await answerBesideACommit(results);
    expect(outcome.kind).toBe('failed');
    expect(sent.filter((c) => c.mistral)).toEqual([]);
    // Paid for, so kept for the run that takes the job over.
    expect((await results.get(JOB.jobId, 'advise.mistral#1'))?.text).toBe('The answer of advise.mistral.');
  });

  it('stops the run as fenced off when another run had stored that attempt\'s answer first, committing nothing that refers to it', async () => {
    const results = new HeldResultStore('advise.mistral#1', 'taken');
    const { outcome, sent } = await answerBesideACommit(results);
    expect(outcome).toEqual({ kind: 'fenced' });
    expect(sent.filter((c) => c.mistral)).toEqual([]);
  });
});
