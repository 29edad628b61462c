/**
 * The advisory machine: one job of the circle, Step Functions style.
 *
 *   advising (parallel: one Task per advisor)
 *     → reviewing (parallel: one Task per advisor that answered; full mode, 2+ answers)
 *     → synthesizing (the chair's Task)
 *     → succeeded | failed | cancelled
 *
 * Every Task is the same little chart: `running` invokes `runStep`; a failure either goes to
 * `backingOff` (invokes `waitUntil` with the due time kept in context, then `running` again),
 * to the branch's final `failed` (caught), or fails the whole job (uncaught, answers only).
 * Output the worker stored but could not use (a review without a readable ranking, advice
 * without sections) is repaired once: `running` again with a prompt that says what was wrong,
 * never the identical prompt. While the quorum answered, the job succeeds whatever the
 * reviewers and the chair do: a failed review leaves the ranking to the others, a failed
 * chair leaves the answers and the ranking as the advice (guarantee 12).
 *
 * Redrive (advisory.redrive.ts): a failed job's machine starts again from the failed
 * context (`input.redriveOf`). Every Task first checks its step's record, so a step the
 * redrive kept ends at once and is never run again; the stages pass through to the one
 * that has work left.
 *
 * The worker provides `runStep` and `waitUntil` with `machine.provide`. The machine reads no
 * clock and no randomness: time and jitter draws arrive on actor outputs and errors.
 */
import { assign, fromPromise, setup, type SnapshotFrom, type StateValue } from 'xstate';
import {
  MAX_REPAIRS,
  kindOfStepId,
  stepIdOf,
  type AdvisoryContext,
  type AdvisoryEvent,
  type AdvisoryInput,
  type StepFailure,
  type StepId,
  type StepInput,
  type StepOutput,
  type StepStatus,
  type Spent,
  type Stage,
  type WaitInput,
  type WaitOutput,
} from './advisory.types.js';
import { redrivenContext } from './advisory.redrive.js';
import {
  answeredAdvisors,
  checkAdvisors,
  describeError,
  describeUnknown,
  errorOf,
  failedStepErrors,
  initialContext,
  invalidOutputErrorOf,
  outcomeOf,
  paidFor,
  parseStepId,
  problemOf,
  requiredAnswers,
  spentOf,
  stepInputOf,
  stepOf,
  toStepFailure,
  truncate,
  uncaughtReason,
  withStep,
} from './advisory.context.js';
import { aggregateRankings, deanonymise, labelsFor } from './review.js';

const STAGES: readonly Stage[] = ['advising', 'reviewing', 'synthesizing', 'succeeded', 'failed', 'cancelled'];
const UNFINISHED: readonly StepStatus[] = ['pending', 'running', 'retrying'];

type StepParams = { stepId: StepId };
type FailureParams = { stepId: StepId; failure: StepFailure };
type OutputParams = { stepId: StepId; output: StepOutput };

const advisorySetup = setup({
  types: {
    context: {} as AdvisoryContext,
    input: {} as AdvisoryInput,
    events: {} as AdvisoryEvent,
  },
  actors: {
    /** Runs one attempt of a step; rejects with a StepFailure. Provided by the worker. */
    runStep: fromPromise<StepOutput, StepInput>(async () => {
      throw new Error('runStep is not provided: bind it with machine.provide({ actors: { runStep } })');
    }),
    /** Resolves at or after `until` (epoch ms). Provided by the worker. */
    waitUntil: fromPromise<WaitOutput, WaitInput>(async () => {
      throw new Error('waitUntil is not provided: bind it with machine.provide({ actors: { waitUntil } })');
    }),
  },
  guards: {
    willRetry: ({ context }, { stepId, failure }: FailureParams) => outcomeOf(context, stepId, failure).kind === 'retry',
    isCaught: ({ context }, { stepId, failure }: FailureParams) => outcomeOf(context, stepId, failure).kind === 'caught',
    outputUsable: (_, { output }: OutputParams) => !problemOf(output),
    mayRepair: ({ context }, { stepId }: OutputParams) =>
      parseStepId(context, stepId).kind !== 'advise' && (stepOf(context, stepId).repairs ?? 0) < MAX_REPAIRS,
    // The chair's text is still advice when it cannot be read into sections; an empty one is not.
    keepsUnusableOutput: ({ context }, { stepId, output }: OutputParams) =>
      parseStepId(context, stepId).kind === 'synthesize' && output.empty !== true,
    belowQuorum: ({ context }) => answeredAdvisors(context).length < requiredAnswers(context),
    reviewsWanted: ({ context }) => context.mode === 'full' && answeredAdvisors(context).length >= 2,
    hasAnswered: ({ context }, { advisorId }: { advisorId: string }) => stepOf(context, stepIdOf('advise', advisorId)).status === 'succeeded',
    /** A redriven job keeps the steps that ended: they are never run again. */
    stepEnded: ({ context }, { stepId, status }: StepParams & { status: 'succeeded' | 'failed' }) => stepOf(context, stepId).status === status,
  },
  actions: {
    startAttempt: assign(({ context }, { stepId }: StepParams) => {
      const { dueAt: _dueAt, error: _error, ...record } = stepOf(context, stepId);
      return withStep(context, stepId, { ...record, status: 'running', attempt: record.attempt + 1 });
    }),
    recordSuccess: assign(({ context }, { stepId, output }: OutputParams) => {
      const record = stepOf(context, stepId);
      const next: Partial<AdvisoryContext> = withStep(context, stepId, {
        ...paidFor(record, output),
        status: 'succeeded',
        resultRef: output.resultRef,
        finishedAt: output.finishedAt,
      });
      const { kind, advisorId } = parseStepId(context, stepId);
      if (kind === 'review') {
        const ranking = deanonymise(Array.isArray(output.ranking) ? output.ranking : [], context.labels[advisorId] ?? {});
        next.rankings = { ...context.rankings, [advisorId]: ranking };
      }
      if (kind === 'synthesize') next.confidence = output.confidence ?? 'unstated';
      return next;
    }),
    scheduleRepair: assign(({ context }, { stepId, output }: OutputParams) => {
      const record = stepOf(context, stepId);
      return withStep(context, stepId, {
        ...paidFor(record, output),
        repairs: (record.repairs ?? 0) + 1,
        repairOf: { resultRef: output.resultRef, problem: truncate(problemOf(output) ?? '') },
      });
    }),
    /** The chair's text stays the advice, as written: no sections, no stated confidence. */
    keepUnusableOutput: assign(({ context }, { stepId, output }: OutputParams) => ({
      ...withStep(context, stepId, {
        ...paidFor(stepOf(context, stepId), output),
        status: 'succeeded',
        resultRef: output.resultRef,
        finishedAt: output.finishedAt,
        unusable: truncate(problemOf(output) ?? ''),
      }),
      confidence: 'unstated' as const,
    })),
    recordUnusable: assign(({ context }, { stepId, output }: OutputParams) => {
      const problem = truncate(problemOf(output) ?? '');
      return withStep(context, stepId, {
        ...paidFor(stepOf(context, stepId), output),
        status: 'failed',
        resultRef: output.resultRef,
        finishedAt: output.finishedAt,
        unusable: problem,
        error: { error: invalidOutputErrorOf(stepId), cause: problem },
      });
    }),
    scheduleRetry: assign(({ context }, { stepId, failure }: FailureParams) => {
      const outcome = outcomeOf(context, stepId, failure);
      if (outcome.kind !== 'retry') return {};
      const record = stepOf(context, stepId);
      const retries = record.retries.slice();
      for (let i = retries.length; i < outcome.retrierIndex; i++) retries[i] = 0;
      retries[outcome.retrierIndex] = (retries[outcome.retrierIndex] ?? 0) + 1;
      return withStep(context, stepId, {
        ...record,
        status: 'retrying',
        retries,
        dueAt: failure.at + outcome.delayMs,
        error: errorOf(failure),
      });
    }),
    recordCaught: assign(({ context }, { stepId, failure }: FailureParams) =>
      withStep(context, stepId, { ...stepOf(context, stepId), status: 'failed', error: errorOf(failure), finishedAt: failure.at }),
    ),
    failOnUncaught: assign(({ context }, { stepId, failure }: FailureParams) => {
      const error = errorOf(failure);
      return {
        ...withStep(context, stepId, { ...stepOf(context, stepId), status: 'failed', error }),
        failure: { reason: uncaughtReason(context, stepId, error), errors: { [stepId]: error } },
      };
    }),
    failOnBrokenWait: assign((_, { stepId, error }: StepParams & { error: unknown }) => ({
      failure: {
        reason: `The retry timer of step ${stepId} failed: ${describeUnknown(error)}`,
        errors: { [stepId]: { error: 'States.Runtime', cause: describeUnknown(error) } },
      },
    })),
    failBelowQuorum: assign(({ context }) => {
      const errors = failedStepErrors(context, 'advise');
      const answered = answeredAdvisors(context).length;
      const total = context.advisors.length;
      const head = answered === 0 ? `None of the ${total} advisors answered` : `Only ${answered} of ${total} advisors answered`;
      const details = Object.entries(errors)
        .map(([stepId, error]) => `${parseStepId(context, stepId).advisorId} failed with ${describeError(error)}`)
        .join('; ');
      return { failure: { reason: `${head} (quorum is ${requiredAnswers(context)}): ${details}`, errors } };
    }),
    skipStep: assign(({ context }, { stepId }: StepParams) => withStep(context, stepId, { ...stepOf(context, stepId), status: 'skipped' })),
    skipReviews: assign(({ context }) => {
      const steps = { ...context.steps };
      for (const advisorId of context.advisors) {
        const stepId = stepIdOf('review', advisorId);
        steps[stepId] = { ...stepOf(context, stepId), status: 'skipped' };
      }
      return { steps };
    }),
    assignLabels: assign(({ context }) => {
      const answered = answeredAdvisors(context);
      return { labels: Object.fromEntries(answered.map((reviewerId) => [reviewerId, labelsFor(context.seed, reviewerId, answered)])) };
    }),
    // No usable review leaves no ranking: the chair then weighs the answers alone, and says so.
    aggregateReviews: assign(({ context }) => ({
      aggregate: Object.keys(context.rankings).length > 0 ? aggregateRankings(context.advisors, context.rankings) : undefined,
    })),
    /**
     * Every step that had not finished becomes `cancelled`, adding what its stopped attempt
     * spent to what it had spent already (a step cancelled during its repair keeps both).
     */
    recordCancellation: assign(({ context }, { reason, spent }: { reason: string; spent?: Record<StepId, Spent> }) => {
      const steps = { ...context.steps };
      for (const [stepId, record] of Object.entries(steps)) {
        if (!UNFINISHED.includes(record.status)) continue;
        const { dueAt: _dueAt, ...rest } = record;
        const used = spentOf(spent?.[stepId]);
        steps[stepId] = { ...(used ? paidFor(rest, used) : rest), status: 'cancelled' };
      }
      return { steps, cancellation: { reason } };
    }),
    recordFailReason: assign((_, { reason }: { reason: string }) => ({ failure: { reason, errors: {} } })),
  },
});

/**
 * One Task: `running` → `succeeded` | `backingOff` → `running` | `failed` (caught), or the job
 * fails (uncaught). Actor ids are the step id (and `<stepId>.wait`), stable across restores.
 */
function taskStates(stepId: StepId) {
  const failureParams = ({ event }: { event: { error: unknown } }): FailureParams => ({ stepId, failure: toStepFailure(event.error) });
  const outputParams = ({ event }: { event: { output: StepOutput } }): OutputParams => ({ stepId, output: event.output });
  // Only an advisor's answer can fail the job on an uncaught error; a review or the chair
  // failing for any reason degrades the advice instead (guarantee 12).
  const uncaught =
    kindOfStepId(stepId) === 'advise'
      ? { target: '#advisory.failed', actions: { type: 'failOnUncaught' as const, params: failureParams } }
      : { target: 'failed', actions: { type: 'recordCaught' as const, params: failureParams } };
  return {
    running: advisorySetup.createStateConfig({
      entry: { type: 'startAttempt', params: { stepId } },
      invoke: {
        id: stepId,
        src: 'runStep',
        input: ({ context }) => stepInputOf(context, stepId),
        onDone: [
          { guard: { type: 'outputUsable', params: outputParams }, target: 'succeeded', actions: { type: 'recordSuccess', params: outputParams } },
          { guard: { type: 'mayRepair', params: outputParams }, target: 'running', reenter: true, actions: { type: 'scheduleRepair', params: outputParams } },
          { guard: { type: 'keepsUnusableOutput', params: outputParams }, target: 'succeeded', actions: { type: 'keepUnusableOutput', params: outputParams } },
          { target: 'failed', actions: { type: 'recordUnusable', params: outputParams } },
        ],
        onError: [
          { guard: { type: 'willRetry', params: failureParams }, target: 'backingOff', actions: { type: 'scheduleRetry', params: failureParams } },
          { guard: { type: 'isCaught', params: failureParams }, target: 'failed', actions: { type: 'recordCaught', params: failureParams } },
          uncaught,
        ],
      },
    }),
    backingOff: advisorySetup.createStateConfig({
      invoke: {
        id: `${stepId}.wait`,
        src: 'waitUntil',
        input: ({ context }) => ({ until: stepOf(context, stepId).dueAt ?? 0 }),
        onDone: { target: 'running' },
        onError: {
          target: '#advisory.failed',
          actions: { type: 'failOnBrokenWait', params: ({ event }) => ({ stepId, error: event.error }) },
        },
      },
    }),
    succeeded: { type: 'final' as const },
    failed: { type: 'final' as const },
  };
}

/** A step a redrive kept ends its Task at once; any other starts. */
function checking(stepId: StepId) {
  return {
    always: [
      { guard: { type: 'stepEnded' as const, params: { stepId, status: 'succeeded' as const } }, target: 'succeeded' },
      { guard: { type: 'stepEnded' as const, params: { stepId, status: 'failed' as const } }, target: 'failed' },
      { target: 'running' },
    ],
  };
}

/** An advisor's answer: starts at once (unless a redrive kept it). */
function adviseBranch(advisorId: string) {
  const stepId = stepIdOf('advise', advisorId);
  return advisorySetup.createStateConfig({ initial: 'checking', states: { checking: checking(stepId), ...taskStates(stepId) } });
}

/** An advisor's review of the others: skipped when its own answer failed. */
function reviewBranch(advisorId: string) {
  const stepId = stepIdOf('review', advisorId);
  return advisorySetup.createStateConfig({
    initial: 'checking',
    states: {
      checking: {
        always: [
          ...checking(stepId).always.slice(0, 2),
          { guard: { type: 'hasAnswered', params: { advisorId } }, target: 'running' },
          { target: 'skipped', actions: { type: 'skipStep', params: { stepId } } },
        ],
      },
      ...taskStates(stepId),
      skipped: { type: 'final' },
    },
  });
}

/**
 * Cancel and fail (poison) are accepted in every working stage. They sit on the stages, not the
 * root, so that a final snapshot ignores them even under pure `transition()`.
 */
const jobEvents = {
  'job.cancel': {
    target: '#advisory.cancelled',
    actions: {
      type: 'recordCancellation',
      params: ({ event }: { event: { reason: string; spent?: Record<StepId, Spent> } }) => ({ reason: event.reason, spent: event.spent }),
    },
  },
  'job.fail': {
    target: '#advisory.failed',
    actions: { type: 'recordFailReason', params: ({ event }: { event: { reason: string } }) => ({ reason: event.reason }) },
  },
} as const;

/** Builds the machine for one job's circle: one parallel branch per advisor in each stage. */
export function createAdvisoryMachine(input: Pick<AdvisoryInput, 'advisors'>) {
  const advisors = checkAdvisors(input.advisors);
  const perAdvisor = <T>(branch: (advisorId: string) => T): Record<string, T> =>
    Object.fromEntries(advisors.map((advisorId) => [advisorId, branch(advisorId)]));

  return advisorySetup.createMachine({
    id: 'advisory',
    context: ({ input }) => (input.redriveOf ? redrivenContext(input.redriveOf) : initialContext(input)),
    initial: 'advising',
    states: {
      advising: {
        type: 'parallel',
        on: jobEvents,
        states: perAdvisor(adviseBranch),
        onDone: [
          { guard: 'belowQuorum', target: 'failed', actions: 'failBelowQuorum' },
          { guard: 'reviewsWanted', target: 'reviewing' },
          { target: 'synthesizing', actions: 'skipReviews' },
        ],
      },
      reviewing: {
        type: 'parallel',
        on: jobEvents,
        entry: 'assignLabels',
        states: perAdvisor(reviewBranch),
        onDone: { target: 'synthesizing', actions: 'aggregateReviews' },
      },
      // The quorum answered: whatever the chair did, the job has advice (at worst the answers).
      synthesizing: {
        on: jobEvents,
        initial: 'checking',
        states: { checking: checking('synthesize'), ...taskStates('synthesize') },
        onDone: { target: 'succeeded' },
      },
      succeeded: { type: 'final' },
      failed: { type: 'final' },
      cancelled: { type: 'final' },
    },
  });
}

export type AdvisoryMachine = ReturnType<typeof createAdvisoryMachine>;
export type AdvisorySnapshot = SnapshotFrom<AdvisoryMachine>;

/** The stage (top-level state) of a snapshot's value. */
export function stageOf(value: StateValue): Stage {
  const stage = typeof value === 'string' ? value : Object.keys(value)[0];
  if (!STAGES.includes(stage as Stage)) throw new Error(`not an advisory state value: ${JSON.stringify(value)}`);
  return stage as Stage;
}

/** True for the final stages. */
export function isFinalStage(stage: Stage): boolean {
  return stage === 'succeeded' || stage === 'failed' || stage === 'cancelled';
}
