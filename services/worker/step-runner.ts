/**
 * The real implementation of the machine's `runStep` actor: build the prompt from stored
 * results, call the model (streamed; a tool-use review of a model that cannot stream tool
 * calls goes through Converse), store the output once (the run's next commit writes it),
 * and report what the machine needs, including output it cannot use (the machine then asks
 * for one repair). Failed calls become StepFailure {error, cause, at, jitter} for the
 * Retry/Catch policy.
 */
import type { StepFailure, StepInput, StepOutput } from '../../machines/advisory.types.js';
import { resultRefOf } from '../../machines/advisory.types.js';
import type { JobItem, ResultItem } from '../shared/contracts/job.js';
import { RETENTION_DAYS } from '../shared/contracts/tables.js';
import type { Circle, CircleMember } from '../shared/circle/circle.js';
import { costOf, guardrailOf, memberOf } from '../shared/circle/circle.js';
import type { Clock, Ids } from '../shared/ports/clock.js';
import type { ModelClient, ModelRequest, ModelResponse } from '../shared/ports/model-client.js';
import type { ResultStore } from '../shared/ports/result-store.js';
import type { Tracer } from '../shared/ports/tracer.js';
import { ModelCallError } from '../shared/errors.js';
import type { Turn } from './history.js';
import { interpretResponse } from './step-output.js';
import { promptFor } from './step-prompts.js';

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
    const { prompt, labels } = await promptFor(deps, ctx.job, member, input, ctx.history);

    const timeout = AbortSignal.timeout(input.timeoutSeconds * 1000);
    const guardrail = guardrailOf(member);
    const response = await callModel(deps, input, member, {
      modelId: member.modelId,
      system: prompt.system,
      messages: prompt.messages,
      inference: member.inference,
      requestMetadata: { jobId: input.jobId, step: input.stepId, attempt: String(input.attempt), worker: deps.workerId },
      signal: AbortSignal.any([signal, timeout]),
      onDelta: (text) => ctx.onDelta(input.stepId, input.attempt, text),
      ...(prompt.tool ? { tool: prompt.tool } : {}),
      ...(guardrail ? { guardrail } : {}),
    });
    const read = interpretResponse(input.kind, response, labels);

    const now = deps.clock.now();
    const item: ResultItem = {
      jobId: input.jobId,
      stepKey: resultRef,
      stepId: input.stepId,
      attempt: input.attempt,
      advisorId: input.advisorId,
      modelId: member.modelId,
      text: read.text,
      usage: response.usage,
      costUsd: costOf(member, response.usage),
      stopReason: response.stopReason,
      ...(read.parsed ? { parsed: read.parsed } : {}),
      ...(read.problem ? { problem: read.problem } : {}),
      ...(response.simulated ? { simulated: true } : {}),
      createdAt: new Date(now).toISOString(),
      expiresAt: Math.floor(now / 1000) + RETENTION_DAYS * 86_400,
    };
    if (await deps.results.putOnce(item)) return outputOf(item, now);
    // An output of this attempt is held or stored already; that one is the attempt's result.
    const winner = await deps.results.get(input.jobId, resultRef);
    return outputOf(winner ?? item, now);
  } catch (err) {
    if (err instanceof ModelCallError) throw failureOf(err, deps);
    ctx.onInfrastructureError(err);
    throw err;
  }
}

/**
 * The model call in its own trace subsegment, annotated with what it was and how it ended.
 * Streamed, except a tool call of a model that cannot stream one (the circle file says).
 */
function callModel(deps: StepRunnerDeps, input: StepInput, member: CircleMember, request: ModelRequest): Promise<ModelResponse> {
  return deps.tracer.subsegment('model-call', async (span) => {
    span.annotate({ jobId: input.jobId, step: input.stepId, attempt: input.attempt, modelId: request.modelId });
    try {
      const whole = request.tool !== undefined && member.toolUse?.streaming === false;
      const response = whole ? await deps.model.converse(request) : await deps.model.converseStream(request);
      span.annotate({ outcome: 'ok', stopReason: response.stopReason ?? 'none' });
      return response;
    } catch (err) {
      span.annotate({ outcome: err instanceof ModelCallError ? err.errorName : 'error' });
      throw err;
    }
  });
}

/** What the machine needs of a stored result: usable or not, and why not. */
function outputOf(item: ResultItem, now: number): StepOutput {
  const parsed = item.parsed;
  return {
    resultRef: item.stepKey,
    usage: item.usage,
    costUsd: item.costUsd,
    finishedAt: now,
    ...(parsed?.kind === 'review' ? { ranking: parsed.ranking } : {}),
    ...(parsed?.kind === 'synthesis' ? { confidence: parsed.confidence } : {}),
    ...(item.problem ? { problem: item.problem } : {}),
    ...(item.text.trim() === '' ? { empty: true } : {}),
  };
}

/** A failed model call as the machine's StepFailure (time and jitter drawn here, not in the machine). */
export function failureOf(err: ModelCallError, deps: Pick<StepRunnerDeps, 'clock' | 'ids'>): StepFailure {
  return { error: err.errorName, cause: err.message, at: deps.clock.now(), jitter: deps.ids.random() };
}
