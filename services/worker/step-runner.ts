/**
 * The real implementation of the machine's `runStep` actor: build the prompt from stored
 * results, stream the model call, store the output once, and report what the machine
 * needs. Errors become StepFailure {error, cause, at, jitter} for the Retry/Catch policy.
 */
import type { StepFailure, StepInput, StepOutput } from '../../machines/advisory.types.js';
import { resultRefOf } from '../../machines/advisory.types.js';
import type { JobItem, ResultItem, ReviewParsed, SynthesisParsed } from '../shared/contracts/job.js';
import { RETENTION_DAYS } from '../shared/contracts/tables.js';
import type { Circle, CircleMember } from '../shared/circle/circle.js';
import { costOf, memberOf } from '../shared/circle/circle.js';
import type { Clock, Ids } from '../shared/ports/clock.js';
import type { ModelClient, ModelRequest, ModelResponse } from '../shared/ports/model-client.js';
import type { ResultStore } from '../shared/ports/result-store.js';
import type { Tracer } from '../shared/ports/tracer.js';
import { ModelCallError } from '../shared/errors.js';
import type { Turn } from './history.js';
import { buildAdvicePrompt, buildReviewPrompt, buildSynthesisPrompt, parseReview, parseSynthesis } from './prompts.js';

export interface StepRunnerDeps {
  results: ResultStore;
  model: ModelClient;
  circle: Circle;
  clock: Clock;
  ids: Ids;
  workerId: string;
  tracer: Tracer;
}

export interface StepContext {
  job: JobItem;
  /** The step was restored from a snapshot: a previous worker may have stored its output already. */
  maybeStored: boolean;
  /** Streamed text of the step, in order (for live push). */
  onDelta(stepId: string, attempt: number, text: string): void;
  /** The conversation's earlier turns (loaded once per run, for advise steps). */
  history(): Promise<Turn[]>;
  /** Storage or other infrastructure failed: the run must stop and be retried elsewhere, not the step. */
  onInfrastructureError(err: unknown): void;
}

/** Runs one step attempt; throws a StepFailure (plain object) when the attempt fails. */
export async function runStep(deps: StepRunnerDeps, ctx: StepContext, input: StepInput, signal: AbortSignal): Promise<StepOutput> {
  const resultRef = resultRefOf(input.stepId, input.attempt);
  try {
    // A worker that died after storing this attempt's output but before committing the
    // transition already paid for it: reuse it instead of calling the model again.
    const existing = ctx.maybeStored ? await deps.results.get(input.jobId, resultRef) : undefined;
    if (existing) return outputOf(existing, deps.clock.now());

    const member = memberOf(deps.circle, input.advisorId);
    if (!member) throw new ModelCallError('States.Runtime', `advisor "${input.advisorId}" is not in the circle`);
    const { prompt, labels } = await promptFor(deps, ctx, member, input);

    const timeout = AbortSignal.timeout(input.timeoutSeconds * 1000);
    const response = await callModel(deps, input, {
      modelId: member.modelId,
      system: prompt.system,
      messages: prompt.messages,
      inference: member.inference,
      requestMetadata: { jobId: input.jobId, step: input.stepId, attempt: String(input.attempt), worker: deps.workerId },
      signal: AbortSignal.any([signal, timeout]),
      onDelta: (text) => ctx.onDelta(input.stepId, input.attempt, text),
    });

    const parsed: ReviewParsed | SynthesisParsed | undefined =
      input.kind === 'review' ? parseReview(response.text, labels) : input.kind === 'synthesize' ? parseSynthesis(response.text) : undefined;

    const now = deps.clock.now();
    const item: ResultItem = {
      jobId: input.jobId,
      stepKey: resultRef,
      stepId: input.stepId,
      attempt: input.attempt,
      advisorId: input.advisorId,
      modelId: member.modelId,
      text: response.text,
      usage: response.usage,
      costUsd: costOf(member, response.usage),
      stopReason: response.stopReason,
      parsed,
      createdAt: new Date(now).toISOString(),
      expiresAt: Math.floor(now / 1000) + RETENTION_DAYS * 86_400,
    };
    if (await deps.results.putOnce(item)) return outputOf(item, now);
    // Another worker stored this attempt first; theirs is the one result of this attempt.
    const winner = await deps.results.get(input.jobId, resultRef);
    return outputOf(winner ?? item, now);
  } catch (err) {
    if (err instanceof ModelCallError) throw failureOf(err, deps);
    ctx.onInfrastructureError(err);
    throw err;
  }
}

/** The model call in its own trace subsegment, annotated with what it was and how it ended. */
function callModel(deps: StepRunnerDeps, input: StepInput, request: ModelRequest): Promise<ModelResponse> {
  return deps.tracer.subsegment('model-call', async (span) => {
    span.annotate({ jobId: input.jobId, step: input.stepId, attempt: input.attempt, modelId: request.modelId });
    try {
      const response = await deps.model.converseStream(request);
      span.annotate({ outcome: 'ok' });
      return response;
    } catch (err) {
      span.annotate({ outcome: err instanceof ModelCallError ? err.errorName : 'error' });
      throw err;
    }
  });
}

function outputOf(item: ResultItem, now: number): StepOutput {
  const parsed = item.parsed;
  return {
    resultRef: item.stepKey,
    usage: item.usage,
    costUsd: item.costUsd,
    finishedAt: now,
    ...(parsed?.kind === 'review' ? { ranking: parsed.ranking } : {}),
    ...(parsed?.kind === 'synthesis' ? { confidence: parsed.confidence } : {}),
  };
}

async function promptFor(deps: StepRunnerDeps, ctx: StepContext, member: CircleMember, input: StepInput) {
  const job = ctx.job;
  const question = job.question;
  switch (input.kind) {
    case 'advise':
      return { prompt: buildAdvicePrompt({ persona: member.persona, question, history: await ctx.history() }), labels: [] };
    case 'review': {
      const anonymised = input.anonymised ?? [];
      const texts = await textsOf(deps, input.jobId, anonymised.map((a) => a.resultRef));
      const answers = anonymised.map((a, i) => ({ label: a.label, text: texts[i] ?? '' }));
      return { prompt: buildReviewPrompt({ persona: member.persona, question, answers }), labels: answers.map((a) => a.label) };
    }
    case 'synthesize': {
      const nameOf = (id: string) => memberOf(deps.circle, id)?.name ?? id;
      const answersIn = input.answers ?? [];
      const reviewsIn = input.reviews ?? [];
      const [answerItems, reviewItems] = await Promise.all([
        deps.results.getMany(input.jobId, answersIn.map((a) => a.resultRef)),
        deps.results.getMany(input.jobId, reviewsIn.map((r) => r.resultRef)),
      ]);
      const answers = answersIn.map((a, i) => ({ advisorName: nameOf(a.advisorId), text: answerItems[i]?.text ?? '' }));
      const reviews = reviewsIn.flatMap((r, i) => {
        const parsed = reviewItems[i]?.parsed;
        return parsed?.kind === 'review' ? [{ reviewerName: nameOf(r.reviewerId), ranking: parsed.ranking, critiques: parsed.critiques }] : [];
      });
      const labelMap = Object.fromEntries(
        Object.entries(input.labels ?? {}).map(([reviewer, map]) => [
          nameOf(reviewer),
          Object.fromEntries(Object.entries(map).map(([label, advisorId]) => [label, nameOf(advisorId)])),
        ]),
      );
      const aggregate = input.aggregate?.ranking.map((r) => ({ advisorName: nameOf(r.advisorId), meanPosition: r.meanPosition, votes: r.votes }));
      const notes = job.advisors
        .filter((id) => !answersIn.some((a) => a.advisorId === id))
        .map((id) => `${nameOf(id)} could not answer and is not part of this advice.`);
      return {
        prompt: buildSynthesisPrompt({
          chairPersona: member.persona,
          question,
          answers,
          reviews,
          labelMap,
          aggregate,
          mode: job.mode,
          notes,
        }),
        labels: [],
      };
    }
  }
}

async function textsOf(deps: StepRunnerDeps, jobId: string, refs: string[]): Promise<string[]> {
  const items = await deps.results.getMany(jobId, refs);
  return items.map((i) => i?.text ?? '');
}

/** A failed model call as the machine's StepFailure (time and jitter drawn here, not in the machine). */
export function failureOf(err: ModelCallError, deps: Pick<StepRunnerDeps, 'clock' | 'ids'>): StepFailure {
  return { error: err.errorName, cause: err.message, at: deps.clock.now(), jitter: deps.ids.random() };
}
