/**
 * Step Functions Retry / Catch semantics as pure functions over the policy data of a Task.
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
 */
import type { Catcher, Retrier, TaskPolicy } from './advisory.types.js';

/** The wildcard error name; it must stand alone in the last retrier or catcher. */
export const STATES_ALL = 'States.ALL';

/** Terminal errors that `States.ALL` does not match (as in Step Functions): a bug, not bad luck. */
export const UNCATCHABLE_ERRORS: readonly string[] = ['States.Runtime', 'States.DataLimitExceeded'];

const DEFAULT_INTERVAL_SECONDS = 1;
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_BACKOFF_RATE = 2;

/** The retrier chosen for an error and the delay before the next attempt. */
export interface RetryDecision {
  retrierIndex: number;
  delayMs: number;
}

/** True when an ErrorEquals list names the error, exactly or through `States.ALL`. */
export function errorMatches(errorEquals: readonly string[], errorName: string): boolean {
  if (errorEquals.includes(errorName)) return true;
  return errorEquals.includes(STATES_ALL) && !UNCATCHABLE_ERRORS.includes(errorName);
}

/**
 * The retry to schedule for an error, or null when the Catch list must decide.
 * Only the first retrier whose ErrorEquals matches counts; when its own counter has reached
 * MaxAttempts the step is not retried, even if a later retrier would also match.
 * `jitter` is a uniform draw in [0, 1) used by JitterStrategy FULL.
 */
export function nextRetry(
  retriers: readonly Retrier[],
  retriesSoFar: readonly number[],
  errorName: string,
  jitter: number,
): RetryDecision | null {
  const retrierIndex = retriers.findIndex((r) => errorMatches(r.ErrorEquals, errorName));
  const retrier = retriers[retrierIndex];
  if (!retrier) return null;
  const used = retriesSoFar[retrierIndex] ?? 0;
  if (used >= (retrier.MaxAttempts ?? DEFAULT_MAX_ATTEMPTS)) return null;
  return { retrierIndex, delayMs: retryDelayMs(retrier, used, jitter) };
}

/** Delay before retry number `used + 1` of one retrier, in whole milliseconds. */
export function retryDelayMs(retrier: Retrier, used: number, jitter: number): number {
  const interval = retrier.IntervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
  const rate = retrier.BackoffRate ?? DEFAULT_BACKOFF_RATE;
  let seconds = interval * rate ** used;
  if (retrier.MaxDelaySeconds !== undefined) seconds = Math.min(seconds, retrier.MaxDelaySeconds);
  if (retrier.JitterStrategy === 'FULL') seconds *= clampUnit(jitter);
  return Math.round(seconds * 1000);
}

/** True when a catcher of the list handles the error (the step is then marked failed). */
export function catches(catchers: readonly Catcher[], errorName: string): boolean {
  return catchers.some((c) => errorMatches(c.ErrorEquals, errorName));
}

/**
 * Problems Step Functions would reject a Task's policy for (empty when valid), e.g.
 * `States.ALL` not alone or not in the last retrier/catcher. For loaders of policy data.
 */
export function policyProblems(policy: TaskPolicy): string[] {
  const problems: string[] = [];
  const checkWildcard = (lists: readonly { ErrorEquals: string[] }[], what: string): void => {
    lists.forEach((entry, i) => {
      if (!entry.ErrorEquals.includes(STATES_ALL)) return;
      if (entry.ErrorEquals.length > 1) problems.push(`${what}[${i}]: ${STATES_ALL} must appear alone in ErrorEquals`);
      if (i !== lists.length - 1) problems.push(`${what}[${i}]: ${STATES_ALL} must be in the last ${what.toLowerCase()}`);
    });
  };
  checkWildcard(policy.Retry, 'Retrier');
  checkWildcard(policy.Catch, 'Catcher');
  policy.Retry.forEach((r, i) => {
    if (r.ErrorEquals.length === 0) problems.push(`Retrier[${i}]: ErrorEquals is empty`);
    if ((r.IntervalSeconds ?? 1) < 0) problems.push(`Retrier[${i}]: IntervalSeconds must not be negative`);
    if ((r.MaxAttempts ?? 0) < 0 || !Number.isInteger(r.MaxAttempts ?? 0)) problems.push(`Retrier[${i}]: MaxAttempts must be a whole number >= 0`);
    if ((r.BackoffRate ?? 1) < 1) problems.push(`Retrier[${i}]: BackoffRate must be >= 1`);
    if ((r.MaxDelaySeconds ?? 1) <= 0) problems.push(`Retrier[${i}]: MaxDelaySeconds must be positive`);
  });
  policy.Catch.forEach((c, i) => {
    if (c.ErrorEquals.length === 0) problems.push(`Catcher[${i}]: ErrorEquals is empty`);
  });
  if (!(policy.TimeoutSeconds > 0)) problems.push('TimeoutSeconds must be positive');
  return problems;
}

/** A jitter draw forced into [0, 1]: a bad draw must not produce a negative or huge delay. */
function clampUnit(value: number): number {
  if (!Number.isFinite(value)) return 1;
  return Math.min(1, Math.max(0, value));
}
