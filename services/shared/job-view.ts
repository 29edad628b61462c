/**
 * The job view: what GET /jobs/{id} answers and the WebSocket `job.view` message carries.
 * Built purely from the Jobs item, the State item (persisted XState snapshot) and the
 * Results items the snapshot references, so the API and the push gateway show the same thing.
 */
import type { AdvisoryContext, StepError, StepRecord, Usage } from '../../machines/advisory.types.js';
import { stepIdOf } from '../../machines/advisory.types.js';
import { redrivenContext } from '../../machines/advisory.redrive.js';
import { describeError } from '../../machines/advisory.context.js';
import type {
  AdviceQuality,
  AdvisorView,
  JobItem,
  JobStage,
  JobStatus,
  JobSummary,
  JobView,
  ModelCalls,
  ResultItem,
  StateItem,
  StepView,
} from './contracts/job.js';
import { isTerminal, isUnfinishedStep, jobStageOf, statusOfStage } from './contracts/job.js';
import type * as Contract from './contracts/job.js';
import type * as Machine from '../../machines/advisory.types.js';
import type { Circle } from './circle/circle.js';
import { memberOf } from './circle/circle.js';
import { readSnapshot, type PersistedAdvisory } from './snapshot-reader.js';

/** The machine's types must fit the contracts clients read (contracts import no machine code). */
type Fits<A extends B, B> = [A, B];
export type MachineFitsContracts = [
  Fits<Machine.Mode, Contract.Mode>,
  Fits<Machine.StepStatus, Contract.StepStatus>,
  Fits<Machine.StepError, Contract.StepError>,
  Fits<Machine.Usage, Contract.Usage>,
  Fits<Machine.Aggregate, Contract.Aggregate>,
  Fits<NonNullable<Machine.AdvisoryContext['confidence']>, Contract.Confidence>,
  // Both ways: the machine's top-level states are exactly the contracts' machine stages.
  Fits<Machine.Stage, Contract.MachineStage>,
  Fits<Contract.MachineStage, Machine.Stage>,
];

export interface JobViewInput {
  job: JobItem;
  state?: StateItem;
  /** The Results items the snapshot references (see resultRefsOf); others are ignored. */
  results: ResultItem[];
  circle: Circle;
}

const MAX_CAUSE_CHARS = 200;
/** Stop reasons after which a model's text is kept but cut short. */
const TRUNCATING_STOP_REASONS: readonly string[] = ['max_tokens', 'model_context_window_exceeded'];

/** The Results keys (`<step>#<attempt>`) the view needs, read from the State item's snapshot. */
export function resultRefsOf(state: StateItem | undefined): string[] {
  const snapshot = readSnapshot(state);
  if (!snapshot) return [];
  return Object.values(snapshot.context.steps)
    .map((step) => step?.resultRef)
    .filter((ref): ref is string => typeof ref === 'string' && ref.length > 0);
}

/** The GET /jobs listing entry of a job. */
export function summaryOf(job: JobItem): JobSummary {
  return {
    jobId: job.jobId,
    status: job.status,
    stage: job.stage,
    mode: job.mode,
    questionPreview: job.questionPreview,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
  };
}

/** The whole view of one job: status, stage, each advisor's answer and review, the synthesis, usage and cost. */
export function buildJobView({ job, state, results, circle }: JobViewInput): JobView {
  const read = readSnapshot(state);
  // A redrive no run has taken up yet shows as it will run: queued (the Jobs item says so),
  // the steps that failed pending again, the ones that succeeded as they were.
  const redriving = read?.stage === 'failed' && state?.redriveVersion === state?.version && !isTerminal(job.status);
  const snapshot = redriving ? undefined : read;
  const context = redriving ? redrivenContext(read.context) : read?.context;
  const status = statusOf(job, snapshot);
  const finished = isTerminal(status);
  const byRef = new Map(results.map((r) => [r.stepKey, r]));
  const steps = context?.steps ?? {};

  const stepView = (stepId: string, skippedWhenMissing = false): StepView =>
    toStepView(steps[stepId], byRef, finished || skippedWhenMissing);

  const advisors: AdvisorView[] = job.advisors.map((advisorId) => {
    const member = memberOf(circle, advisorId);
    const answerId = stepIdOf('advise', advisorId);
    const reviewId = stepIdOf('review', advisorId);
    const answer = stepView(answerId);
    const review: AdvisorView['review'] = stepView(reviewId, job.mode === 'quick');
    const ranking = context?.rankings?.[advisorId];
    if (ranking) review.ranking = [...ranking];
    const critiques = critiquesOf(steps[reviewId], byRef, context?.labels?.[advisorId]);
    if (critiques) review.critiques = critiques;
    return {
      id: advisorId,
      name: member?.name ?? advisorId,
      modelId: member?.modelId ?? resultOf(steps[answerId], byRef)?.modelId ?? '',
      answer,
      review,
    };
  });

  const view: JobView = {
    jobId: job.jobId,
    status,
    stage: stageOf(job, snapshot, status),
    mode: job.mode,
    question: job.question,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    seq: state?.version ?? 0,
    advisors,
    chair: { id: circle.chair.id, name: circle.chair.name, modelId: circle.chair.modelId },
    synthesis: synthesisOf(steps.synthesize, byRef, finished),
    usage: totalUsage(Object.values(steps)),
    costUsd: totalCost(Object.values(steps)),
    notes: [...notesOf(job, context, circle, status, state), ...outputNotes(job, context, byRef, circle, status)],
  };
  if (job.conversationId) view.conversationId = job.conversationId;
  if (context?.aggregate) {
    view.ranking = context.aggregate.ranking;
    view.agreement = context.aggregate.agreement;
  }
  const reason = reasonOf(job, context, state, status);
  if (reason) view.reason = reason;
  if (status === 'succeeded' && context) view.adviceQuality = adviceQualityOf(job, context);
  if (results.some((r) => r.simulated)) view.simulated = true;
  if (context) view.modelCalls = modelCallsOf(context);
  return view;
}

/**
 * How complete the advice of a succeeded job is: the chair could not write (the answers
 * and the ranking are the advice), its text could not be read into sections, no review
 * could be used (no ranking), or complete.
 */
export function adviceQualityOf(job: Pick<JobItem, 'mode'>, context: AdvisoryContext): AdviceQuality {
  const synthesis = context.steps.synthesize;
  if (synthesis?.status !== 'succeeded') return 'unsynthesized';
  if (synthesis.unusable) return 'unstructured';
  const answered = context.advisors.filter((id) => context.steps[stepIdOf('advise', id)]?.status === 'succeeded');
  if (job.mode === 'full' && answered.length >= 2 && !context.aggregate?.ranking.length) return 'unranked';
  return 'complete';
}

/**
 * The model calls a job has started, by cause, from its step records: each attempt is one
 * call; a repair attempt is counted by `repairs`, a retry after an error by `retries`.
 */
export function modelCallsOf(context: Pick<AdvisoryContext, 'steps'>): ModelCalls {
  const calls: ModelCalls = { total: 0, first: 0, retries: 0, repairs: 0 };
  for (const step of Object.values(context.steps)) {
    if (!step || step.attempt <= 0) continue;
    const repairs = step.repairs ?? 0;
    const retries = (step.retries ?? []).reduce((sum, n) => sum + (n ?? 0), 0);
    calls.total += step.attempt;
    calls.repairs += repairs;
    calls.retries += retries;
    calls.first += Math.max(0, step.attempt - repairs - retries);
  }
  return calls;
}

/**
 * A terminal Jobs item wins (the API and the poison path finish jobs without a snapshot);
 * otherwise the snapshot says how far the machine got.
 */
function statusOf(job: JobItem, snapshot: PersistedAdvisory | undefined): JobStatus {
  if (isTerminal(job.status) || !snapshot) return job.status;
  return statusOfStage(snapshot.stage);
}

function stageOf(job: JobItem, snapshot: PersistedAdvisory | undefined, status: JobStatus): JobStage {
  if (isTerminal(status)) return 'done';
  return snapshot ? jobStageOf(snapshot.stage) : job.stage;
}

function resultOf(step: StepRecord | undefined, byRef: Map<string, ResultItem>): ResultItem | undefined {
  return step?.resultRef ? byRef.get(step.resultRef) : undefined;
}

/**
 * One step as a reader sees it. A step the machine never reached, or one left unfinished
 * by a job that has ended (cancelled, failed), shows as skipped rather than forever pending.
 */
function toStepView(step: StepRecord | undefined, byRef: Map<string, ResultItem>, skipUnfinished: boolean): StepView {
  if (!step) return { status: skipUnfinished ? 'skipped' : 'pending', attempt: 0 };
  const status: Contract.StepStatus = skipUnfinished && isUnfinishedStep(step.status) ? 'skipped' : step.status;
  const view: StepView = { status, attempt: step.attempt };
  const result = resultOf(step, byRef);
  const text = result?.text;
  if (text !== undefined) view.text = text;
  if (result && TRUNCATING_STOP_REASONS.includes(result.stopReason ?? '')) view.truncated = true;
  if (step.error) view.error = { error: step.error.error, cause: step.error.cause };
  if (step.usage) view.usage = { inputTokens: step.usage.inputTokens, outputTokens: step.usage.outputTokens };
  if (step.costUsd !== undefined) view.costUsd = step.costUsd;
  if (step.dueAt !== undefined && status === 'retrying') view.dueAt = step.dueAt;
  return view;
}

/** A reviewer's critiques re-keyed from its private labels to the advisors they stand for. */
function critiquesOf(
  step: StepRecord | undefined,
  byRef: Map<string, ResultItem>,
  labels: Record<string, string> | undefined,
): Record<string, string> | undefined {
  const parsed = resultOf(step, byRef)?.parsed;
  if (!parsed || parsed.kind !== 'review' || !labels) return undefined;
  const critiques: Record<string, string> = {};
  for (const [label, text] of Object.entries(parsed.critiques)) {
    const advisorId = labels[label];
    if (advisorId) critiques[advisorId] = text;
  }
  return critiques;
}

function synthesisOf(step: StepRecord | undefined, byRef: Map<string, ResultItem>, finished: boolean): JobView['synthesis'] {
  const view: NonNullable<JobView['synthesis']> = toStepView(step, byRef, finished);
  const parsed = resultOf(step, byRef)?.parsed;
  if (parsed?.kind === 'synthesis') {
    view.recommendation = parsed.recommendation;
    view.agreement = parsed.agreement;
    view.dissent = parsed.dissent;
    view.confidence = parsed.confidence;
  } else if (step?.status === 'succeeded' && step.unusable) {
    // The chair's text as written: shown whole, with no sections and no stated confidence.
    view.confidence = 'unstated';
  }
  return view;
}

function totalUsage(steps: (StepRecord | undefined)[]): Usage {
  return steps.reduce<Usage>(
    (sum, step) => ({
      inputTokens: sum.inputTokens + (step?.usage?.inputTokens ?? 0),
      outputTokens: sum.outputTokens + (step?.usage?.outputTokens ?? 0),
    }),
    { inputTokens: 0, outputTokens: 0 },
  );
}

/** Summed in micro-dollars so that many small prices do not drift in floating point. */
function totalCost(steps: (StepRecord | undefined)[]): number {
  const micros = steps.reduce((sum, step) => sum + Math.round((step?.costUsd ?? 0) * 1e6), 0);
  return micros / 1e6;
}

function reasonOf(
  job: JobItem,
  context: AdvisoryContext | undefined,
  state: StateItem | undefined,
  status: JobStatus,
): string | undefined {
  if (status !== 'failed' && status !== 'cancelled') return undefined;
  return context?.failure?.reason ?? context?.cancellation?.reason ?? job.reason ?? state?.cancelReason;
}

/**
 * An error in words for a note: the cause alone for the circle's own errors (a blocked or
 * unusable answer, whose cause is already a sentence), else the machine's description of
 * the AWS error name and its cause, shortened.
 */
const describeForReader = (error: StepError | undefined): string => {
  if (!error) return 'unknown error';
  // Model errors read "<modelId>: <Name>: <message>": the name is said once, the model id not at all.
  const named = error.cause.indexOf(`${error.error}: `);
  const bare = named >= 0 ? error.cause.slice(named + error.error.length + 2) : error.cause;
  const cause = bare.length > MAX_CAUSE_CHARS ? `${bare.slice(0, MAX_CAUSE_CHARS - 1)}…` : bare;
  if (cause && (error.error.startsWith('Model.') || error.error.endsWith('.InvalidOutput'))) return cause;
  return describeError({ error: error.error, cause });
};

/** Plain sentences about what went wrong or is going on, naming advisors as the circle does. */
function notesOf(
  job: JobItem,
  context: AdvisoryContext | undefined,
  circle: Circle,
  status: JobStatus,
  state: StateItem | undefined,
): string[] {
  const notes: string[] = [];
  const steps = context?.steps ?? {};
  const nameOf = (id: string) => memberOf(circle, id)?.name ?? id;
  const failedAdvisors = job.advisors.filter((id) => steps[stepIdOf('advise', id)]?.status === 'failed');
  const answering = job.advisors.length - failedAdvisors.length;

  for (const id of failedAdvisors) {
    const error = describeForReader(steps[stepIdOf('advise', id)]?.error);
    notes.push(
      status === 'failed'
        ? `${nameOf(id)} could not answer (${error}).`
        : `${nameOf(id)} could not answer (${error}); the advice is based on ${answering} of ${job.advisors.length} advisors.`,
    );
  }
  const failedReviews = job.advisors.filter((id) => steps[stepIdOf('review', id)]?.status === 'failed');
  const usableReviews = job.advisors.filter((id) => steps[stepIdOf('review', id)]?.status === 'succeeded');
  for (const id of failedReviews) {
    const review = steps[stepIdOf('review', id)];
    const rest = usableReviews.length > 0 ? 'the ranking uses the other reviews' : 'it is not part of the ranking';
    notes.push(`${nameOf(id)}'s review could not be used (${describeForReader(review?.error)}); ${rest}.`);
  }
  if (failedReviews.length > 0 && usableReviews.length === 0 && steps.synthesize?.status !== 'pending') {
    notes.push('None of the reviews could be used, so the answers are not ranked: the chair weighed them without a ranking.');
  }
  const synthesis = steps.synthesize;
  if (synthesis?.status === 'failed' && status === 'succeeded') {
    const fallback = context?.aggregate?.ranking.length ? 'the advisors’ answers and their ranking are the advice' : 'the advisors’ answers are the advice';
    notes.push(`${circle.chair.name} could not write the advice (${describeForReader(synthesis.error)}); ${fallback}.`);
  } else if (synthesis?.status === 'failed' && status === 'failed') {
    // A job of an earlier machine version could still fail on its chair.
    notes.push(`${circle.chair.name} could not write the advice (${describeForReader(synthesis.error)}).`);
  }
  if (synthesis?.status === 'succeeded' && synthesis.unusable) {
    notes.push(
      `${circle.chair.name}'s advice could not be read into its sections (${synthesis.unusable}), so it is shown as written; its confidence is not stated.`,
    );
  }
  if (!isTerminal(status)) {
    for (const [stepId, step] of Object.entries(steps)) {
      if (step?.status === 'retrying') notes.push(`${stepLabel(stepId, nameOf)} failed on attempt ${step.attempt} (${describeForReader(step.error)}) and will be retried.`);
    }
    if (state?.cancelRequested || job.cancelRequested) notes.push('Cancellation requested; the circle is stopping.');
  }
  return notes;
}

function stepLabel(stepId: string, nameOf: (id: string) => string, chairName?: string): string {
  if (stepId === 'synthesize') return chairName ? `${chairName}'s advice` : 'The synthesis';
  const [kind, advisorId = ''] = stepId.split('.', 2);
  return kind === 'review' ? `${nameOf(advisorId)}'s review` : `${nameOf(advisorId)}'s answer`;
}

/**
 * Notes on the outputs themselves: a repaired step, an answer cut at its token limit, a
 * chair that stated no confidence. Read from the Results items the view already has.
 */
function outputNotes(
  job: JobItem,
  context: AdvisoryContext | undefined,
  byRef: Map<string, ResultItem>,
  circle: Circle,
  status: JobStatus,
): string[] {
  if (!context) return [];
  const notes: string[] = [];
  const nameOf = (id: string) => memberOf(circle, id)?.name ?? id;
  const stepIds = [
    ...job.advisors.map((id) => stepIdOf('advise', id)),
    ...job.advisors.map((id) => stepIdOf('review', id)),
    'synthesize',
  ];
  for (const stepId of stepIds) {
    const step = context.steps[stepId];
    if (!step) continue;
    const label = stepLabel(stepId, nameOf, circle.chair.name);
    if (step.repairOf && step.status === 'succeeded' && !step.unusable) {
      notes.push(`${label} could not be read at first (${step.repairOf.problem}); it was asked for once more, saying what was wrong.`);
    } else if (step.repairOf && !isTerminal(status) && step.status === 'running') {
      notes.push(`${label} could not be read (${step.repairOf.problem}); asking once more, saying what was wrong.`);
    }
    const result = resultOf(step, byRef);
    if (step.status === 'succeeded' && result && TRUNCATING_STOP_REASONS.includes(result.stopReason ?? '')) {
      notes.push(`${label} was cut short at its length limit.`);
    }
  }
  const parsed = resultOf(context.steps.synthesize, byRef)?.parsed;
  if (parsed?.kind === 'synthesis' && parsed.confidence === 'unstated') notes.push(`${circle.chair.name} did not say how confident it is.`);
  return notes;
}
