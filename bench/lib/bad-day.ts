/**
 * The bad-day run: the Bedrock stand-in's simulated advisors misbehave on a fixed share of
 * calls (fixtures/misbehaviour), many jobs run at once, and each is judged from the outside:
 * its job view (status, advice quality, which steps were used) and the stand-in's call log
 * (how many model calls it took, how many of them produced nothing the advice uses).
 */
import type { JobView } from '../../services/shared/contracts/job.js';
import type { BenchStack } from './bench-stack.js';
import { submitJob, waitForTerminal } from './jobs.js';
import { summarise, type Summary } from './stats.js';

export interface BadDayFigures {
  /** Share of (non-repair) calls that misbehaved by design. */
  rate: number;
  jobs: number;
  /** Succeeded with complete advice and every advisor. */
  complete: number;
  /** Succeeded, but the advice says how it is degraded (a failed advisor, review or chair). */
  degraded: number;
  failed: number;
  /** Failed although at least the quorum of advisors answered: must be 0. */
  failedWithQuorum: number;
  byQuality: Record<string, number>;
  callsPerJob: Summary;
  /** Calls whose output the advice does not use (an unusable answer before its repair, a blocked answer). */
  wastedPerJob: Summary;
  /** Steps with at least one wasted call. */
  unusableSteps: number;
  /** Wasted calls ÷ unusable steps: 1 when a repair always worked. */
  wastedPerUnusableStep?: number;
  /** Calls the stand-in answered with a misbehaviour, by case. */
  misbehaviours: Record<string, number>;
  failureReasons: string[];
}

const JOB_TIMEOUT_MS = 180_000;
const QUORUM = 2;

/** Runs `questions` at once with the bad-day switch at `rate`, then turns it off again. */
export async function runBadDay(bench: BenchStack, questions: readonly string[], rate: number): Promise<BadDayFigures> {
  bench.bedrock.setBadDay({ rate, seed: 'bench' });
  try {
    const submitted = await Promise.all(questions.map((question) => submitJob(bench.stack.apiUrl, bench.token, { question })));
    await waitForTerminal(bench.direct, bench.tables, submitted.map((s) => s.jobId), JOB_TIMEOUT_MS);
    const views = await Promise.all(submitted.map((s) => viewOf(bench, s.jobId)));
    return figuresOf(bench, views, rate);
  } finally {
    bench.bedrock.setBadDay(null);
  }
}

async function viewOf(bench: BenchStack, jobId: string): Promise<JobView> {
  const res = await fetch(`${bench.stack.apiUrl}/jobs/${jobId}`, { headers: { authorization: `Bearer ${bench.token}` }, signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`GET /jobs/${jobId} answered ${res.status}`);
  return (await res.json()) as JobView;
}

function figuresOf(bench: BenchStack, views: readonly JobView[], rate: number): BadDayFigures {
  const byQuality: Record<string, number> = {};
  const misbehaviours: Record<string, number> = {};
  const calls: number[] = [];
  const wasted: number[] = [];
  let unusableSteps = 0;
  let complete = 0;
  let degraded = 0;
  let failed = 0;
  let failedWithQuorum = 0;
  const failureReasons: string[] = [];
  for (const view of views) {
    const answered = view.advisors.filter((a) => a.answer.status === 'succeeded').length;
    if (view.status === 'succeeded') {
      const quality = view.adviceQuality ?? 'complete';
      byQuality[quality] = (byQuality[quality] ?? 0) + 1;
      if (quality === 'complete' && answered === view.advisors.length && view.advisors.every((a) => a.review.status !== 'failed')) complete++;
      else degraded++;
    } else {
      failed++;
      if (answered >= QUORUM) failedWithQuorum++;
      if (view.reason) failureReasons.push(view.reason);
    }
    // A step's output is used when the step succeeded; every other call of it was wasted.
    const used = new Set([
      ...view.advisors.flatMap((a) => [a.answer.status === 'succeeded' ? `advise.${a.id}` : '', a.review.status === 'succeeded' ? `review.${a.id}` : '']),
      view.synthesis?.status === 'succeeded' ? 'synthesize' : '',
    ]);
    const jobCalls = bench.bedrock.callsOf(view.jobId);
    const perStep = new Map<string, number>();
    for (const call of jobCalls) {
      perStep.set(call.step, (perStep.get(call.step) ?? 0) + 1);
      if (call.misbehaviour) misbehaviours[call.misbehaviour] = (misbehaviours[call.misbehaviour] ?? 0) + 1;
    }
    let jobWasted = 0;
    for (const [step, n] of perStep) {
      const waste = n - (used.has(step) ? 1 : 0);
      if (waste > 0) unusableSteps++;
      jobWasted += waste;
    }
    calls.push(jobCalls.length);
    wasted.push(jobWasted);
  }
  const totalWasted = wasted.reduce((s, n) => s + n, 0);
  return {
    rate,
    jobs: views.length,
    complete,
    degraded,
    failed,
    failedWithQuorum,
    byQuality,
    callsPerJob: summarise(calls),
    wastedPerJob: summarise(wasted),
    unusableSteps,
    wastedPerUnusableStep: unusableSteps ? totalWasted / unusableSteps : undefined,
    misbehaviours,
    failureReasons: failureReasons.slice(0, 10),
  };
}
