/**
 * The advisory machine's context and the pure helpers its guards and actions use: the
 * initial context, step records and ids, what a failure leads to, what a step's attempt
 * needs, and errors in words. No xstate here; machines/advisory.machine.ts is the chart.
 */
import {
  kindOfStepId,
  stepIdOf,
  type AdvisoryContext,
  type AdvisoryInput,
  type StepError,
  type StepFailure,
  type StepId,
  type StepInput,
  type StepKind,
  type StepOutput,
  type StepRecord,
  type Spent,
} from './advisory.types.js';
import { AdvisoryInputError } from './errors.js';
import { catches, nextRetry } from './retry.js';

/** Advisor ids: they become state names, step ids and actor ids. */
export const ADVISOR_ID_PATTERN = /^[a-z][a-z0-9-]*$/;

/** Longest cause kept in a snapshot; model errors can be long and the snapshot must stay small. */
const MAX_CAUSE_LENGTH = 500;

/** What a failed attempt leads to under its Task's Retry and Catch lists. */
export type FailureOutcome = { kind: 'retry'; retrierIndex: number; delayMs: number } | { kind: 'caught' } | { kind: 'uncaught' };

/** Coerces what `runStep` rejected with into a StepFailure; anything malformed is a States.Runtime error. */
export function toStepFailure(rejection: unknown): StepFailure {
  if (isRecord(rejection) && typeof rejection.error === 'string' && rejection.error !== '' && isFiniteNumber(rejection.at)) {
    return {
      error: rejection.error,
      cause: truncate(typeof rejection.cause === 'string' ? rejection.cause : ''),
      at: rejection.at,
      // A missing draw means no jitter (the full delay), the safe side for a throttled service.
      jitter: isFiniteNumber(rejection.jitter) ? rejection.jitter : 1,
    };
  }
  return { error: 'States.Runtime', cause: `the step failed without a StepFailure: ${describeUnknown(rejection)}`, at: 0, jitter: 1 };
}

export function initialContext(input: AdvisoryInput): AdvisoryContext {
  const steps: Record<StepId, StepRecord> = {};
  for (const advisorId of input.advisors) steps[stepIdOf('advise', advisorId)] = newStep('pending');
  // Quick mode has no review, but every advisor keeps a review record so views have one shape.
  for (const advisorId of input.advisors) steps[stepIdOf('review', advisorId)] = newStep(input.mode === 'full' ? 'pending' : 'skipped');
  steps[stepIdOf('synthesize')] = newStep('pending');
  return {
    jobId: input.jobId,
    mode: input.mode,
    quorum: input.quorum,
    advisors: input.advisors.slice(),
    chair: input.chair,
    seed: input.seed,
    policies: input.policies,
    steps,
    labels: {},
    rankings: {},
  };
}

function newStep(status: StepRecord['status']): StepRecord {
  return { status, attempt: 0, retries: [] };
}

export function checkAdvisors(advisors: readonly string[]): string[] {
  if (!Array.isArray(advisors) || advisors.length === 0) throw new AdvisoryInputError('a job needs at least one advisor');
  const bad = advisors.filter((id) => typeof id !== 'string' || !ADVISOR_ID_PATTERN.test(id));
  if (bad.length > 0) throw new AdvisoryInputError(`advisor ids must match ${ADVISOR_ID_PATTERN}: ${bad.map((id) => JSON.stringify(id)).join(', ')}`);
  if (new Set(advisors).size !== advisors.length) throw new AdvisoryInputError(`advisor ids must be unique: ${advisors.join(', ')}`);
  return Array.from<string>(advisors);
}

/** The references a step's attempt needs; it is persisted with the snapshot, so nothing large. */
export function stepInputOf(context: AdvisoryContext, stepId: StepId): StepInput {
  const { kind, advisorId } = parseStepId(context, stepId);
  const base: StepInput = {
    jobId: context.jobId,
    stepId,
    kind,
    advisorId,
    attempt: stepOf(context, stepId).attempt,
    timeoutSeconds: context.policies[kind].TimeoutSeconds,
  };
  const repairOf = stepOf(context, stepId).repairOf;
  if (repairOf) base.repair = repairOf;
  if (kind === 'review') {
    const labels = context.labels[advisorId] ?? {};
    const anonymised = Object.keys(labels)
      .sort()
      .map((label) => ({ label, resultRef: answerRef(context, labels[label] as string) }));
    return { ...base, anonymised };
  }
  if (kind === 'synthesize') {
    const answers = answeredAdvisors(context).map((id) => ({ advisorId: id, resultRef: answerRef(context, id) }));
    if (context.mode === 'quick' || context.aggregate === undefined) return { ...base, answers };
    const reviewers = context.advisors.filter((id) => stepOf(context, stepIdOf('review', id)).status === 'succeeded');
    return {
      ...base,
      answers,
      reviews: reviewers.map((id) => ({ reviewerId: id, resultRef: stepOf(context, stepIdOf('review', id)).resultRef ?? '' })),
      labels: Object.fromEntries(reviewers.map((id) => [id, context.labels[id] ?? {}])),
      aggregate: context.aggregate,
    };
  }
  return base;
}

export function outcomeOf(context: AdvisoryContext, stepId: StepId, failure: StepFailure): FailureOutcome {
  const policy = context.policies[parseStepId(context, stepId).kind];
  const retry = nextRetry(policy.Retry, stepOf(context, stepId).retries, failure.error, failure.jitter);
  if (retry) return { kind: 'retry', ...retry };
  return catches(policy.Catch, failure.error) ? { kind: 'caught' } : { kind: 'uncaught' };
}

export function uncaughtReason(context: AdvisoryContext, stepId: StepId, error: StepError): string {
  const { kind, advisorId } = parseStepId(context, stepId);
  if (kind === 'advise') return `${advisorId} could not answer: ${describeError(error)}`;
  if (kind === 'review') return `${advisorId} could not review the other answers: ${describeError(error)}`;
  return `The chair could not write the advice: ${describeError(error)}`;
}

export function parseStepId(context: AdvisoryContext, stepId: StepId): { kind: StepKind; advisorId: string } {
  if (stepId === 'synthesize') return { kind: 'synthesize', advisorId: context.chair };
  const dot = stepId.indexOf('.');
  return { kind: stepId.slice(0, dot) as StepKind, advisorId: stepId.slice(dot + 1) };
}

/** The error a step ends with when its output stayed unusable. */
const INVALID_OUTPUT: Record<StepKind, string> = {
  advise: 'Advice.InvalidOutput',
  review: 'Review.InvalidOutput',
  synthesize: 'Synthesis.InvalidOutput',
};

/** The error name of unusable output of this step (what its repair is for, and how it ends if the repair is unusable too). */
export const invalidOutputErrorOf = (stepId: StepId): string => INVALID_OUTPUT[kindOfStepId(stepId)];

/** A non-empty problem string of an output, else undefined (a malformed output counts as usable). */
export function problemOf(output: StepOutput): string | undefined {
  return typeof output?.problem === 'string' && output.problem !== '' ? output.problem : undefined;
}

/** The record with this output's usage and cost added: every call that produced output was paid for. */
export function paidFor(record: StepRecord, output: Pick<StepOutput, 'usage' | 'costUsd'> | undefined): StepRecord {
  const usage = output?.usage ?? { inputTokens: 0, outputTokens: 0 };
  const before = record.usage ?? { inputTokens: 0, outputTokens: 0 };
  return {
    ...record,
    usage: { inputTokens: before.inputTokens + (usage.inputTokens ?? 0), outputTokens: before.outputTokens + (usage.outputTokens ?? 0) },
    costUsd: (Math.round((record.costUsd ?? 0) * 1e6) + Math.round((output?.costUsd ?? 0) * 1e6)) / 1e6,
  };
}

export function stepOf(context: AdvisoryContext, stepId: StepId): StepRecord {
  const record = context.steps[stepId];
  if (!record) throw new Error(`unknown step ${stepId} in job ${context.jobId}`);
  return record;
}

export function withStep(context: AdvisoryContext, stepId: StepId, record: StepRecord): Pick<AdvisoryContext, 'steps'> {
  return { steps: { ...context.steps, [stepId]: record } };
}

/** Advisors whose answer succeeded, in circle order. */
export function answeredAdvisors(context: AdvisoryContext): string[] {
  return context.advisors.filter((id) => stepOf(context, stepIdOf('advise', id)).status === 'succeeded');
}

function answerRef(context: AdvisoryContext, advisorId: string): string {
  return stepOf(context, stepIdOf('advise', advisorId)).resultRef ?? '';
}

/** Answers the job needs: the quorum clamped to [1, number of advisors]. */
export function requiredAnswers(context: AdvisoryContext): number {
  return Math.min(Math.max(context.quorum, 1), context.advisors.length);
}

export function failedStepErrors(context: AdvisoryContext, kind: StepKind): Record<StepId, StepError> {
  const errors: Record<StepId, StepError> = {};
  for (const advisorId of context.advisors) {
    const stepId = stepIdOf(kind, advisorId);
    const record = stepOf(context, stepId);
    if (record.status === 'failed') errors[stepId] = record.error ?? { error: 'States.Runtime', cause: 'no error was recorded' };
  }
  return errors;
}

export function errorOf(failure: StepFailure): StepError {
  return { error: failure.error, cause: failure.cause };
}

/** A step error in words: `<name>: <cause>`, or the name alone when there is no cause. */
export function describeError(error: StepError): string {
  return error.cause ? `${error.error}: ${error.cause}` : error.error;
}

export function describeUnknown(value: unknown): string {
  if (value instanceof Error) return truncate(`${value.name}: ${value.message}`);
  try {
    return truncate(typeof value === 'string' ? value : JSON.stringify(value) ?? String(value));
  } catch {
    return truncate(String(value));
  }
}

export function truncate(text: string): string {
  return text.length <= MAX_CAUSE_LENGTH ? text : `${text.slice(0, MAX_CAUSE_LENGTH - 1)}…`;
}

/** Usage and cost from a job.cancel event, only when well-formed (the event comes from outside). */
export function spentOf(spent: Spent | undefined): Pick<StepOutput, 'usage' | 'costUsd'> | undefined {
  const count = (n: unknown): n is number => isFiniteNumber(n) && n >= 0;
  if (!isRecord(spent) || !isRecord(spent.usage) || !count(spent.usage.inputTokens) || !count(spent.usage.outputTokens) || !count(spent.costUsd)) {
    return undefined;
  }
  return { usage: { inputTokens: spent.usage.inputTokens, outputTokens: spent.usage.outputTokens }, costUsd: spent.costUsd };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
