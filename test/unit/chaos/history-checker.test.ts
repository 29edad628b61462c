import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TransitionRecord } from '../../../services/shared/contracts/job.js';
import { checkHistories, pidOfWorker, type ChaosEvidence, type JobEvidence, type ModelCall } from '../../support/chaos/history-checker.js';

const W1 = 'host:101:aa';
const W2 = 'host:202:bb';

/** A quick job of two advisors and the chair, run by one worker without a hitch. */
function healthyJob(jobId = 'job-1'): JobEvidence {
  const t = (seq: number, at: number, event: string, changes: TransitionRecord['changes'], status: TransitionRecord['status'] = 'running'): TransitionRecord => ({
    jobId,
    seq,
    at,
    event,
    status,
    stage: status === 'running' ? 'advising' : 'done',
    changes,
    expiresAt: 9_999,
  });
  const call = (step: string, at: number, endedAt: number, worker = W1): ModelCall => ({ step, attempt: 1, worker, at, endedAt, outcome: 'ok' });
  return {
    jobId,
    status: 'succeeded',
    history: [
      t(1, 5, 'step.started', [
        { stepId: 'advise.claude', status: 'running', attempt: 1 },
        { stepId: 'advise.mistral', status: 'running', attempt: 1 },
      ]),
      t(2, 21, 'step.succeeded', [{ stepId: 'advise.claude', status: 'succeeded', attempt: 1 }]),
      t(3, 26, 'step.succeeded', [
        { stepId: 'advise.mistral', status: 'succeeded', attempt: 1 },
        { stepId: 'synthesize', status: 'running', attempt: 1 },
      ]),
      t(4, 41, 'job.succeeded', [{ stepId: 'synthesize', status: 'succeeded', attempt: 1 }], 'succeeded'),
    ],
    state: { version: 4 },
    calls: [call('advise.claude', 10, 20), call('advise.mistral', 11, 25), call('synthesize', 31, 40)],
  };
}

function evidenceOf(jobs: JobEvidence[], more: Partial<ChaosEvidence> = {}): ChaosEvidence {
  return { jobs, poisoned: [], deadLetters: { seen: [], count: 0 }, faults: [], transcripts: [], checkedAt: 1_000, ...more };
}

const rulesOf = (e: ChaosEvidence) => checkHistories(e).violations.map((v) => v.rule);

describe('checkHistories', () => {
  it('accepts a run whose jobs ended cleanly and whose client saw the whole history', () => {
    const job = healthyJob();
    const verdict = checkHistories(evidenceOf([job], { transcripts: [{ client: 'c1', jobId: job.jobId, subscriptions: 1, received: job.history, done: 'succeeded' }] }));
    expect(verdict.violations).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.counts).toMatchObject({ jobs: 1, transitions: 4, calls: 3, transcripts: 1 });
    expect(verdict.wasted).toEqual({ returned: 0, cutOff: 0 });
  });

  it('flags a job that never finished', () => {
    const job = healthyJob();
    job.status = 'running';
    job.history.pop();
    job.state = { version: 3 };
    expect(rulesOf(evidenceOf([job]))).toEqual(['terminal']);
  });

  it('flags a job whose history ends in another status than the job', () => {
    const job = healthyJob();
    job.status = 'failed';
    expect(checkHistories(evidenceOf([job])).violations).toEqual([expect.objectContaining({ rule: 'terminal', detail: expect.stringMatching(/ends succeeded/) })]);
  });

  it('flags a gap in the committed history', () => {
    const job = healthyJob();
    job.history.splice(2, 1);
    const v = checkHistories(evidenceOf([job])).violations;
    expect(v).toContainEqual(expect.objectContaining({ rule: 'gapless', detail: 'seq 3 missing of 1..4' }));
  });

  it('flags a fork: two transitions committed with the same seq', () => {
    const job = healthyJob();
    job.history.splice(2, 0, { ...job.history[1]!, event: 'step.failed', changes: [{ stepId: 'advise.claude', status: 'failed', attempt: 1 }] });
    const v = checkHistories(evidenceOf([job])).violations;
    expect(v).toContainEqual(expect.objectContaining({ rule: 'gapless', detail: 'seq 2 committed 2 times (a fork)' }));
  });

  it('flags a State version that disagrees with the history', () => {
    const job = healthyJob();
    job.state = { version: 5 };
    expect(rulesOf(evidenceOf([job]))).toEqual(['gapless']);
  });

  it('flags a transition after the terminal one and a step that changes after it succeeded', () => {
    const job = healthyJob();
    job.history.push({ ...job.history[3]!, seq: 5, at: 50, event: 'step.started', status: 'running', changes: [{ stepId: 'advise.claude', status: 'running', attempt: 2 }] });
    job.state = { version: 5 };
    const v = checkHistories(evidenceOf([job])).violations.filter((x) => x.rule === 'linear');
    expect(v.map((x) => x.detail)).toEqual([
      'seq 5 (step.started) follows the terminal seq 4 (succeeded)',
      'advise.claude changed to running#2 at seq 5 after it was succeeded at seq 2',
    ]);
  });

  it('flags a step called again after its outcome was committed', () => {
    const job = healthyJob();
    job.calls.push({ step: 'advise.claude', attempt: 1, worker: W2, at: 30, endedAt: 35, outcome: 'ok' });
    const v = checkHistories(evidenceOf([job])).violations;
    expect(v).toEqual([expect.objectContaining({ rule: 'repeat', detail: expect.stringMatching(/^advise\.claude#1 called by host:202:bb at 30, after its outcome was committed at seq 2/) })]);
  });

  /** Worker 2 found its lease live at 9 and asked for Claude's step; its request arrived at 30, after worker 1 committed the step at 21. */
  function lateArrival(leaseCheckedAt: number): JobEvidence {
    const job = healthyJob();
    job.calls.push({ step: 'advise.claude', attempt: 1, worker: W2, at: 30, endedAt: 31, outcome: 'throttled', leaseCheckedAt });
    return job;
  }

  it('allows a call that arrives after its outcome was committed when its worker checked its lease in time and was stopped before sending', () => {
    const verdict = checkHistories(evidenceOf([lateArrival(9)], { faults: [{ kind: 'SIGSTOP', moment: 'random', pid: 202, at: 10, until: 29 }] }));
    expect(verdict.violations).toEqual([]);
    expect(verdict.repeats).toEqual([{ jobId: 'job-1', step: 'advise.claude', attempt: 1, reason: 'SIGSTOP random' }]);
    // The late call is the wasted one, not the call whose answer was committed.
    expect(verdict.wasted).toEqual({ returned: 0, cutOff: 1 });
  });

  it('flags that late call when its worker was not stopped in between, checked its lease only after the commit, or said nothing of its check', () => {
    expect(rulesOf(evidenceOf([lateArrival(9)]))).toEqual(['repeat']);
    expect(rulesOf(evidenceOf([lateArrival(9)], { faults: [{ kind: 'SIGSTOP', moment: 'random', pid: 101, at: 10, until: 29 }] }))).toEqual(['repeat']);
    expect(rulesOf(evidenceOf([lateArrival(22)], { faults: [{ kind: 'SIGSTOP', moment: 'random', pid: 202, at: 23, until: 29 }] }))).toEqual(['repeat']);
    const silent = lateArrival(9);
    delete silent.calls.at(-1)!.leaseCheckedAt;
    expect(rulesOf(evidenceOf([silent], { faults: [{ kind: 'SIGSTOP', moment: 'random', pid: 202, at: 10, until: 29 }] }))).toEqual(['repeat']);
  });

  /** Worker 1 got Claude's answer at 20 but never committed it; worker 2 asked again at 22 and committed at 30. */
  function lostAnswer(): JobEvidence {
    const job = healthyJob();
    job.calls.push({ step: 'advise.claude', attempt: 1, worker: W2, at: 22, endedAt: 29, outcome: 'ok' });
    job.history[1]!.at = 30;
    job.history[2]!.at = 31;
    return job;
  }

  it('flags a step called again after it returned when no crash came between the return and the commit', () => {
    const v = checkHistories(evidenceOf([lostAnswer()])).violations;
    expect(v).toEqual([expect.objectContaining({ rule: 'repeat', detail: expect.stringMatching(/called again by host:202:bb at 22 after host:101:aa got its answer at 20, with no crash/) })]);
  });

  it('allows that repeat after a crash between the return and the commit, and counts it with its reason', () => {
    const verdict = checkHistories(evidenceOf([lostAnswer()], { faults: [{ kind: 'SIGKILL', moment: 'after-return', pid: 101, at: 20 }] }));
    expect(verdict.violations).toEqual([]);
    expect(verdict.repeats).toEqual([{ jobId: 'job-1', step: 'advise.claude', attempt: 1, reason: 'SIGKILL after-return' }]);
    expect(verdict.wasted).toEqual({ returned: 1, cutOff: 0 });
  });

  it('does not count a crash of another worker as the reason', () => {
    const v = rulesOf(evidenceOf([lostAnswer()], { faults: [{ kind: 'SIGKILL', moment: 'random', pid: 202, at: 21 }] }));
    expect(v).toEqual(['repeat']);
  });

  it('says which faults the answering worker had when it flags a repeat', () => {
    const none = checkHistories(evidenceOf([lostAnswer()])).violations[0]!;
    expect(none.detail).toMatch(/its worker had no fault/);
    const earlier = checkHistories(evidenceOf([lostAnswer()], { faults: [{ kind: 'SIGSTOP', moment: 'random', pid: 101, at: 2, until: 8 }] })).violations[0]!;
    expect(earlier.detail).toMatch(/its worker's faults: SIGSTOP random at 2 until 8/);
  });

  it('allows the repeat when the worker was stopped while its answer came in, though the stop began before the call was logged', () => {
    // The call was held (a slow first token, a busy endpoint) and logged at 10; the worker was stopped from 9 to 24.
    const verdict = checkHistories(evidenceOf([lostAnswer()], { faults: [{ kind: 'SIGSTOP', moment: 'random', pid: 101, at: 9, until: 24 }] }));
    expect(verdict.violations).toEqual([]);
    expect(verdict.repeats).toEqual([{ jobId: 'job-1', step: 'advise.claude', attempt: 1, reason: 'SIGSTOP random' }]);
  });

  it('allows the repeat when the worker was killed after sending the call but before the call was logged', () => {
    const verdict = checkHistories(evidenceOf([lostAnswer()], { faults: [{ kind: 'SIGKILL', moment: 'random', pid: 101, at: 9 }] }));
    expect(verdict.repeats).toEqual([{ jobId: 'job-1', step: 'advise.claude', attempt: 1, reason: 'SIGKILL random' }]);
  });

  it('does not count a stop that was over before the call arrived', () => {
    expect(rulesOf(evidenceOf([lostAnswer()], { faults: [{ kind: 'SIGSTOP', moment: 'random', pid: 101, at: 2, until: 8 }] }))).toEqual(['repeat']);
  });

  it('does not count a fault that came after the call was asked again', () => {
    expect(rulesOf(evidenceOf([lostAnswer()], { faults: [{ kind: 'SIGKILL', moment: 'random', pid: 101, at: 23 }] }))).toEqual(['repeat']);
  });

  it('counts a call cut off by a crash as wasted, not as a repeat', () => {
    const job = healthyJob();
    job.calls.unshift({ step: 'advise.mistral', attempt: 1, worker: W2, at: 2, endedAt: 4, outcome: 'aborted' });
    const verdict = checkHistories(evidenceOf([job]));
    expect(verdict.ok).toBe(true);
    expect(verdict.wasted).toEqual({ returned: 0, cutOff: 1 });
  });

  it('flags a healthy job in the DLQ and accepts a poisoned one', () => {
    const healthy = healthyJob('job-1');
    const poison: JobEvidence = { jobId: 'poison-1', status: 'failed', history: [], state: { version: 0 }, calls: [] };
    const v = checkHistories(evidenceOf([healthy, poison], { poisoned: ['poison-1'], deadLetters: { seen: ['poison-1', 'job-1'], count: 2 } })).violations;
    expect(v).toEqual([
      expect.objectContaining({ rule: 'dead-letter', jobId: 'job-1' }),
      expect.objectContaining({ rule: 'dead-letter', detail: '2 messages in the DLQ, but only 1 jobs were poisoned' }),
    ]);
    expect(rulesOf(evidenceOf([healthy, poison], { poisoned: ['poison-1'], deadLetters: { seen: ['poison-1'], count: 1 } }))).toEqual([]);
  });

  it('flags a dead letter it could not identify when the DLQ holds more than the poisoned jobs', () => {
    expect(rulesOf(evidenceOf([healthyJob()], { deadLetters: { seen: [], count: 1 } }))).toEqual(['dead-letter']);
  });

  it('flags a lease still held at the end, and only counts one left to expire', () => {
    const held = healthyJob('job-1');
    held.state = { version: 4, leaseOwner: W1, leaseExpiresAt: 2_000 };
    const lapsed = healthyJob('job-2');
    lapsed.state = { version: 4, leaseOwner: W2, leaseExpiresAt: 900 };
    const verdict = checkHistories(evidenceOf([held, lapsed]));
    expect(verdict.violations).toEqual([expect.objectContaining({ rule: 'lease', jobId: 'job-1' })]);
    expect(verdict.counts.leasesLeftToExpire).toBe(1);
  });

  it('flags a client that missed a transition, got one that differs, or was told another end', () => {
    const job = healthyJob();
    const [s1, s2, s3, s4] = job.history as [TransitionRecord, TransitionRecord, TransitionRecord, TransitionRecord];
    const transcripts = [
      { client: 'missed', jobId: job.jobId, subscriptions: 2, received: [s1, s2, s4], done: 'succeeded' as const },
      { client: 'altered', jobId: job.jobId, subscriptions: 1, received: [s1, s2, { ...s3, event: 'step.failed' }, s4] },
      { client: 'told-failed', jobId: job.jobId, subscriptions: 1, received: [s1, s2, s3, s4], done: 'failed' as const },
    ];
    const details = checkHistories(evidenceOf([job], { transcripts })).violations.map((v) => `${v.rule}: ${v.detail}`);
    expect(details).toEqual([
      'transcript: client missed: missed seq 3 of 4',
      'transcript: client altered: seq 3 differs from the committed transition (step.failed vs step.succeeded)',
      'transcript: client told-failed: job.done said failed, the job is succeeded',
    ]);
  });

  it('accepts any arrival order with repeats after a resubscription, and flags any one seq lost', () => {
    const job = healthyJob();
    const arrivals = fc.array(fc.constantFrom(...job.history), { maxLength: 12 });
    fc.assert(
      fc.property(fc.shuffledSubarray(job.history, { minLength: 4, maxLength: 4 }), arrivals, fc.nat(3), (all, repeatsOf, lost) => {
        const complete = { client: 'c', jobId: job.jobId, subscriptions: 3, received: [...all, ...repeatsOf] };
        expect(checkHistories(evidenceOf([job], { transcripts: [complete] })).ok).toBe(true);
        const lostSeq = lost + 1;
        const incomplete = { ...complete, received: complete.received.filter((t) => t.seq !== lostSeq) };
        expect(checkHistories(evidenceOf([job], { transcripts: [incomplete] })).violations).toEqual([
          expect.objectContaining({ rule: 'transcript', detail: `client c: missed seq ${lostSeq} of 4` }),
        ]);
      }),
    );
  });

  it('reads the pid out of a worker id', () => {
    expect(pidOfWorker('ip-10-0-0-1.ec2.internal:4242:0a1b2c')).toBe(4242);
    expect(pidOfWorker('not a worker')).toBeUndefined();
  });
});
