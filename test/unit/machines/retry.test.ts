import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Retrier, TaskPolicy } from '../../../machines/advisory.types.js';
import { catches, errorMatches, nextRetry, policyProblems, retryDelayMs } from '../../../machines/retry.js';

const throttling: Retrier = { ErrorEquals: ['ThrottlingException'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 };
const anyError: Retrier = { ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 1 };

describe('nextRetry', () => {
  it('uses the first retrier whose ErrorEquals names the error', () => {
    expect(nextRetry([throttling, anyError], [], 'ThrottlingException', 0)).toEqual({ retrierIndex: 0, delayMs: 2000 });
    expect(nextRetry([throttling, anyError], [], 'InternalServerException', 0)).toEqual({ retrierIndex: 1, delayMs: 1000 });
  });

  it('returns null when no retrier matches', () => {
    expect(nextRetry([throttling], [], 'AccessDeniedException', 0)).toBeNull();
    expect(nextRetry([], [], 'ThrottlingException', 0)).toBeNull();
  });

  it('backs off by BackoffRate per retry already used by that retrier', () => {
    const delays = [0, 1, 2].map((used) => nextRetry([throttling], [used], 'ThrottlingException', 0)?.delayMs);
    expect(delays).toEqual([2000, 4000, 8000]);
  });

  it('stops once that retrier has used MaxAttempts retries', () => {
    expect(nextRetry([throttling], [3], 'ThrottlingException', 0)).toBeNull();
  });

  it('does not fall through to a later retrier when the matching one is exhausted', () => {
    expect(nextRetry([throttling, anyError], [3, 0], 'ThrottlingException', 0)).toBeNull();
  });

  it('counts each retrier separately', () => {
    // The throttling retrier is exhausted, but a timeout is handled by the second one, unused so far.
    const timeouts: Retrier = { ErrorEquals: ['States.Timeout'], IntervalSeconds: 1, MaxAttempts: 2 };
    expect(nextRetry([throttling, timeouts], [3, 0], 'States.Timeout', 0)).toEqual({ retrierIndex: 1, delayMs: 1000 });
    expect(nextRetry([throttling, timeouts], [0, 2], 'States.Timeout', 0)).toBeNull();
  });

  it('never retries with MaxAttempts 0', () => {
    expect(nextRetry([{ ErrorEquals: ['States.ALL'], MaxAttempts: 0 }], [], 'ThrottlingException', 0)).toBeNull();
  });

  it('applies Step Functions defaults: 1 s interval, rate 2, 3 retries', () => {
    const bare: Retrier = { ErrorEquals: ['States.ALL'] };
    expect([0, 1, 2, 3].map((used) => nextRetry([bare], [used], 'X', 0)?.delayMs ?? null)).toEqual([1000, 2000, 4000, null]);
  });

  it('caps one delay at MaxDelaySeconds', () => {
    const capped: Retrier = { ...throttling, MaxAttempts: 10, MaxDelaySeconds: 5 };
    expect(nextRetry([capped], [4], 'ThrottlingException', 0)?.delayMs).toBe(5000);
  });

  it('scales the delay by the jitter draw with JitterStrategy FULL, after the cap', () => {
    const jittered: Retrier = { ...throttling, MaxAttempts: 10, MaxDelaySeconds: 5, JitterStrategy: 'FULL' };
    expect(nextRetry([jittered], [0], 'ThrottlingException', 0.25)?.delayMs).toBe(500);
    expect(nextRetry([jittered], [6], 'ThrottlingException', 0.5)?.delayMs).toBe(2500);
    expect(nextRetry([throttling], [0], 'ThrottlingException', 0.25)?.delayMs).toBe(2000);
  });

  it('keeps a full-jitter delay within [0, computed delay] for any draw', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: false }), fc.integer({ min: 0, max: 5 }), (jitter, used) => {
        const delay = retryDelayMs({ ...throttling, JitterStrategy: 'FULL' }, used, jitter);
        return delay >= 0 && delay <= 2000 * 2 ** used;
      }),
    );
  });

  it('supports fractional intervals', () => {
    expect(nextRetry([{ ErrorEquals: ['States.ALL'], IntervalSeconds: 0.05 }], [1], 'X', 0)?.delayMs).toBe(100);
  });
});

describe('errorMatches', () => {
  it('matches exact names and States.ALL', () => {
    expect(errorMatches(['ThrottlingException'], 'ThrottlingException')).toBe(true);
    expect(errorMatches(['ThrottlingException'], 'throttlingexception')).toBe(false);
    expect(errorMatches(['States.ALL'], 'AnythingAtAll')).toBe(true);
  });

  it('does not let States.ALL match terminal runtime errors, as in Step Functions', () => {
    expect(errorMatches(['States.ALL'], 'States.Runtime')).toBe(false);
    expect(errorMatches(['States.ALL'], 'States.DataLimitExceeded')).toBe(false);
    expect(errorMatches(['States.Runtime'], 'States.Runtime')).toBe(true);
  });
});

describe('catches', () => {
  it('catches an error named by any catcher', () => {
    expect(catches([{ ErrorEquals: ['A'] }, { ErrorEquals: ['B', 'C'] }], 'C')).toBe(true);
    expect(catches([{ ErrorEquals: ['A'] }], 'B')).toBe(false);
    expect(catches([], 'A')).toBe(false);
  });

  it('catches everything but terminal errors with States.ALL', () => {
    expect(catches([{ ErrorEquals: ['States.ALL'] }], 'ModelStreamErrorException')).toBe(true);
    expect(catches([{ ErrorEquals: ['States.ALL'] }], 'States.Runtime')).toBe(false);
  });
});

describe('policyProblems', () => {
  const valid: TaskPolicy = { TimeoutSeconds: 60, Retry: [throttling, anyError], Catch: [{ ErrorEquals: ['States.ALL'] }] };

  it('accepts a valid policy', () => {
    expect(policyProblems(valid)).toEqual([]);
  });

  it('reports States.ALL that is not alone or not last', () => {
    const problems = policyProblems({
      ...valid,
      Retry: [{ ErrorEquals: ['States.ALL', 'X'] }, throttling],
      Catch: [{ ErrorEquals: ['States.ALL'] }, { ErrorEquals: ['X'] }],
    });
    expect(problems).toEqual([
      'Retrier[0]: States.ALL must appear alone in ErrorEquals',
      'Retrier[0]: States.ALL must be in the last retrier',
      'Catcher[0]: States.ALL must be in the last catcher',
    ]);
  });

  it('reports impossible numbers', () => {
    const problems = policyProblems({ TimeoutSeconds: 0, Retry: [{ ErrorEquals: ['X'], MaxAttempts: -1, BackoffRate: 0.5 }], Catch: [] });
    expect(problems).toEqual([
      'Retrier[0]: MaxAttempts must be a whole number >= 0',
      'Retrier[0]: BackoffRate must be >= 1',
      'TimeoutSeconds must be positive',
    ]);
  });
});
