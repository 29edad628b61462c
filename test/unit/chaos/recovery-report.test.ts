import { describe, expect, it } from 'vitest';
import { recoveries } from '../../../bench/lib/chaos/report.js';
import type { FaultRecord } from '../../../bench/lib/chaos/worker-chaos.js';
import type { JobEvidence } from '../../support/chaos/history-checker.js';

const job = (jobId: string, commitsAt: number[]): JobEvidence => ({
  jobId,
  status: 'succeeded',
  history: commitsAt.map((at, i) => ({ jobId, seq: i + 1, at, event: 'step.succeeded', status: 'running', stage: 'advising', changes: [] })),
  calls: [],
});

describe('chaos recovery figures', () => {
  it('times a SIGTERM to the job\'s next commit, the draining worker\'s included, and the hand-over from the exit to the next worker\'s commit', () => {
    // Signalled at 100; the stopping worker commits a finished call at 1,100 and is gone at 2,000; the next worker commits at 5,000.
    const faults: FaultRecord[] = [{ kind: 'SIGTERM', moment: 'random', pid: 7, at: 100, exitedAt: 2000, jobs: ['a'] }];
    const byGroup = Object.fromEntries(recoveries(faults, [job('a', [50, 1100, 5000])]).map((r) => [r.group, r.summary.max]));
    expect(byGroup).toEqual({ SIGTERM: 1000, 'SIGTERM hand-over': 3000 });
  });

  it('times a SIGKILL from the signal, by moment, and counts a job that never committed again apart', () => {
    const faults: FaultRecord[] = [{ kind: 'SIGKILL', moment: 'after-return', pid: 7, at: 100, jobs: ['a', 'b'] }];
    const out = recoveries(faults, [job('a', [50, 10_100]), job('b', [90])]);
    expect(out.map((r) => [r.group, r.summary.n, r.summary.max, r.noLaterCommit])).toEqual([
      ['SIGKILL', 1, 10_000, 1],
      ['SIGKILL after-return', 1, 10_000, 1],
    ]);
  });

  it('separates a recovery that a second fault interrupted, and takes no sample of a job that had already ended', () => {
    const ended: JobEvidence = { ...job('done', [10]), history: [{ ...job('done', [10]).history[0]!, status: 'succeeded' }] };
    const faults: FaultRecord[] = [
      { kind: 'SIGKILL', moment: 'random', pid: 7, at: 100, jobs: ['a', 'b', 'done'] },
      // b's next holder is killed too, before b commits again.
      { kind: 'SIGKILL', moment: 'random', pid: 8, at: 9_000, jobs: ['b'] },
    ];
    const [all] = recoveries(faults, [job('a', [50, 11_100]), job('b', [60, 30_100]), ended]);
    expect(all).toMatchObject({ group: 'SIGKILL', compounded: 1, noLaterCommit: 0 });
    // a after 11 s; b after 30 s from the first kill (interrupted) and 21.1 s from the second (alone).
    expect([all!.summary.n, all!.summary.max]).toEqual([3, 30_000]);
    expect([all!.alone.n, all!.alone.p50, all!.alone.max]).toEqual([2, 11_000, 21_100]);
  });

  it('times the resumption apart: the next lease on another worker, or the next commit when that came first', () => {
    const faults: FaultRecord[] = [
      { kind: 'SIGKILL', moment: 'random', pid: 7, at: 100, jobs: ['a'] },
      { kind: 'SIGSTOP', moment: 'random', pid: 9, at: 100, jobs: ['b'], until: 1_100 },
    ];
    // a: taken by worker 8 at 10,100, its call answered and committed at 11,600.
    // b: the stopped worker itself goes on and commits at 1,300; nobody else leases it.
    const leases = [
      { jobId: 'a', pid: 7, at: 50 },
      { jobId: 'a', pid: 8, at: 10_100 },
      { jobId: 'b', pid: 9, at: 60 },
    ];
    const out = Object.fromEntries(recoveries(faults, [job('a', [60, 11_600]), job('b', [70, 1_300])], leases).map((r) => [r.group, r]));
    expect([out.SIGKILL!.resumed.max, out.SIGKILL!.summary.max]).toEqual([10_000, 11_500]);
    expect([out.SIGSTOP!.resumed.max, out.SIGSTOP!.summary.max]).toEqual([1_200, 1_200]);
  });
});
