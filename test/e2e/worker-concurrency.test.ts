/**
 * COT_WORKER_CONCURRENCY holds in a burst: one worker with 2 slots and many jobs queued at
 * once never runs more than 2 of them together. Which jobs ran together is read from the
 * Bedrock stand-in's call log (each job from its first call's arrival to its last call's
 * end), so it is what the models really saw, not what the worker says of itself.
 */
import { describe, expect, it } from 'vitest';
import { withLocalStack } from '../support/local-stack.js';
import { callsOf, submit, waitForEnd } from '../support/jobs.js';

const CONCURRENCY = 2;
const JOBS = 6;

const fx = withLocalStack({ workers: 1, env: { COT_WORKER_CONCURRENCY: String(CONCURRENCY) } });

/** The most intervals open at any one instant (an interval ending at t does not overlap one starting at t). */
function mostAtOnce(intervals: readonly { from: number; to: number }[]): number {
  const edges = intervals.flatMap((i) => [
    { at: i.from, step: 1 },
    { at: i.to, step: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let open = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (open += e.step));
  return most;
}

describe('worker concurrency', () => {
  it('never runs more jobs at once than COT_WORKER_CONCURRENCY when a burst is queued', async () => {
    const alice = await fx.client('alice');
    const jobIds = await Promise.all(
      Array.from({ length: JOBS }, (_, i) => submit(alice, { question: `Burst question ${i}: should we hire a generalist or a specialist?`, mode: 'quick' })),
    );
    const views = await Promise.all(jobIds.map((id) => waitForEnd(alice, id, 120_000)));
    expect(views.map((v) => v.status)).toEqual(jobIds.map(() => 'succeeded'));

    const intervals = await Promise.all(
      jobIds.map(async (id) => {
        const calls = await callsOf(fx.stack, id);
        return { from: Math.min(...calls.map((c) => c.at)), to: Math.max(...calls.map((c) => c.endedAt ?? Infinity)) };
      }),
    );
    // Exactly the configured number: the burst did fill both slots, and never a third.
    expect(mostAtOnce(intervals)).toBe(CONCURRENCY);
  });
});
