import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TransitionRecord } from '../../../services/shared/contracts/job.js';
import type { ModelCallRecord, RunRecord } from '../../../services/shared/contracts/timeline.js';
import { buildTimeline } from '../../../services/shared/timeline.js';
import { renderTimeline } from '../../../services/cli/timeline.js';

const T0 = Date.UTC(2026, 10, 25, 9, 0, 0);
const job = { jobId: '0b8c1c1e-8f0a-4c55-9d6e-2f1a7b9c0d11', status: 'succeeded' as const, createdAt: new Date(T0).toISOString() };

function transition(seq: number, at: number, event: string, stage: TransitionRecord['stage'], changes: TransitionRecord['changes'] = []): TransitionRecord {
  const status = event === 'job.succeeded' ? 'succeeded' : 'running';
  return { jobId: job.jobId, seq, at: T0 + at, event, status, stage, changes };
}

function call(stepId: string, attempt: number, startedAt: number, ms: number, outcome = 'ok'): ModelCallRecord {
  const [, who] = stepId.split('.');
  return { stepId, attempt, advisorId: who ?? 'chair', modelId: 'm', startedAt: T0 + startedAt, ms, ttftMs: 10, outcome, inputTokens: 10, outputTokens: outcome === 'ok' ? 20 : 0, costUsd: outcome === 'ok' ? 0.001 : 0 };
}

function run(epoch: number, startedAt: number, extra: Partial<RunRecord> = {}): RunRecord {
  return { jobId: job.jobId, epoch, startedAt: T0 + startedAt, fromVersion: 0, modelCalls: [], commits: [], pushes: [], expiresAt: 0, ...extra };
}

/** A quick job: two advisors (mistral throttled once, 500 ms back-off), the chair; its first worker died after the answers. */
const transitions = [
  transition(1, 100, 'job.started', 'advising'),
  transition(2, 110, 'step.started', 'advising'),
  transition(3, 400, 'step.retrying', 'advising', [{ stepId: 'advise.mistral', status: 'retrying', attempt: 1, dueAt: T0 + 900, error: { error: 'ThrottlingException', cause: 'slow down' } }]),
  transition(4, 1000, 'step.succeeded', 'advising'),
  transition(5, 1500, 'stage.synthesizing', 'synthesizing'),
  transition(6, 2500, 'job.succeeded', 'done'),
];
const runs = [
  run(1, 80, {
    message: { sentAt: T0 + 20, receiveCount: 1 },
    modelCalls: [call('advise.claude', 1, 120, 800), call('advise.mistral', 1, 120, 270, 'ThrottlingException')],
    commits: [{ seq: 1, at: T0 + 100, ms: 7 }],
  }),
  run(2, 1200, { fromVersion: 4, message: { sentAt: T0 + 20, receiveCount: 2 }, modelCalls: [call('advise.mistral', 2, 905, 90), call('synthesize', 1, 1510, 980)], outcome: 'finished', endedAt: T0 + 2510 }),
];

describe('buildTimeline', () => {
  const timeline = buildTimeline({ job, transitions, runs });

  it('lists what happened in time order, each commit with the write time its run recorded', () => {
    expect(timeline.entries.map((e) => e.at)).toEqual([...timeline.entries.map((e) => e.at)].sort((a, b) => a - b));
    expect(timeline.entries.filter((e) => e.type === 'commit').map((e) => (e.type === 'commit' ? [e.seq, e.ms, e.run] : []))).toEqual([
      [1, 7, 1],
      [2, undefined, undefined],
      [3, undefined, undefined],
      [4, undefined, undefined],
      [5, undefined, undefined],
      [6, undefined, undefined],
    ]);
    expect(timeline.entries[0]).toEqual({ type: 'queued', at: T0, ms: 80 });
  });

  it('shows the retry with its back-off, each lease and a run that ended without a word', () => {
    expect(timeline.entries.filter((e) => e.type === 'retry')).toEqual([
      { type: 'retry', at: T0 + 400, stepId: 'advise.mistral', attempt: 1, error: 'ThrottlingException', dueAt: T0 + 900, backoffMs: 500 },
    ]);
    expect(timeline.entries.filter((e) => e.type === 'lease')).toEqual([
      { type: 'lease', at: T0 + 80, run: 1, resumed: false, delivery: 1, waitedMs: 60 },
      { type: 'lease', at: T0 + 1200, run: 2, resumed: true, delivery: 2, waitedMs: 1180 },
    ]);
    expect(timeline.entries.filter((e) => e.type === 'run-end')).toEqual([
      { type: 'run-end', at: T0 + 920, run: 1, outcome: 'lost' },
      { type: 'run-end', at: T0 + 2510, run: 2, outcome: 'finished' },
    ]);
  });

  it('sums up latency as the models\' critical path plus overhead, back-off counted as the models\'', () => {
    expect(timeline.summary).toEqual({
      status: 'succeeded',
      createdAt: T0,
      endedAt: T0 + 2500,
      latencyMs: 2500,
      // advising: mistral 270 + 500 back-off + 90 = 860 > claude 800; synthesizing: 980.
      criticalPathMs: 1840,
      overheadMs: 660,
      queueWaitMs: 80,
      stages: { advising: 1400, synthesizing: 1000 },
      runs: 2,
      modelCalls: 4,
      retries: 1,
      costUsd: 0.003,
    });
  });

  it('renders as text a person can read', () => {
    const text = renderTimeline(timeline);
    expect(text).toContain(`Timeline of job ${job.jobId}`);
    expect(text).toContain('succeeded in 2.500 s; models 1.840 s (critical path), overhead 0.660 s; queue wait 80 ms; 2 runs, 4 model calls, 1 retry; $0.0030');
    expect(text).toContain('retry        advise.mistral #1 failed (ThrottlingException); next attempt after 500 ms');
    expect(text).toContain('run end      run 1 ended without a word');
    expect(text).toContain('model call   advise.mistral #1 mistral (m): first token 10 ms, 270 ms, ThrottlingException');
  });

  it('never throws and keeps its sums consistent, whatever the records say', () => {
    const transitionArb = fc.record({
      at: fc.integer({ min: 0, max: 100_000 }),
      stage: fc.constantFrom('queued', 'advising', 'reviewing', 'synthesizing', 'done'),
      status: fc.constantFrom('running', 'succeeded', 'failed'),
      retry: fc.option(fc.record({ stepId: fc.constantFrom('advise.a', 'review.b', 'synthesize', 'odd'), dueIn: fc.integer({ min: -10, max: 5000 }) })),
    });
    const callArb = fc.record({ stepId: fc.constantFrom('advise.a', 'review.b', 'synthesize', 'x.y'), start: fc.integer({ min: 0, max: 100_000 }), ms: fc.integer({ min: 0, max: 50_000 }) });
    fc.assert(
      fc.property(fc.array(transitionArb, { maxLength: 20 }), fc.array(fc.array(callArb, { maxLength: 10 }), { maxLength: 4 }), (ts, callsByRun) => {
        const records: TransitionRecord[] = ts.map((t, i) => ({
          jobId: job.jobId,
          seq: i + 1,
          at: T0 + t.at,
          event: 'e',
          status: t.status as TransitionRecord['status'],
          stage: t.stage as TransitionRecord['stage'],
          changes: t.retry ? [{ stepId: t.retry.stepId, status: 'retrying', attempt: 1, dueAt: T0 + t.at + t.retry.dueIn }] : [],
        }));
        const runRecords = callsByRun.map((calls, i) => run(i + 1, i * 10, { modelCalls: calls.map((c) => call(c.stepId, 1, c.start, c.ms)) }));
        const { entries, summary } = buildTimeline({ job, transitions: records, runs: runRecords });
        expect(entries.map((e) => e.at)).toEqual([...entries.map((e) => e.at)].sort((a, b) => a - b));
        if (summary.latencyMs !== undefined && summary.criticalPathMs !== undefined) expect(summary.criticalPathMs + summary.overheadMs!).toBe(summary.latencyMs);
        expect(summary.modelCalls).toBe(runRecords.reduce((n, r) => n + r.modelCalls.length, 0));
        expect(() => renderTimeline({ jobId: job.jobId, summary, entries })).not.toThrow();
      }),
    );
  });
});
