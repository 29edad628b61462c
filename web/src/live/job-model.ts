/**
 * What the job page shows, derived from the stream (pure): one member per advisor plus
 * the chair, each with its step, streamed text, phase, timing and meter; the totals; the
 * quorum. Components render these and hold no protocol logic.
 */
import type { JobStream, JobView, StepView, TransitionRecord } from '../contracts';
import { isTerminal, isUnfinishedStep, stepText } from '../contracts';
import { estimateTokens, stepPhase, totalTokens, type StepPhase } from '../format/format';

export interface Meter {
  /** Tokens in and out of the finished steps (exact, from their usage). */
  exactTokens: number;
  /** Output tokens streamed so far by running steps (an estimate from their text). */
  estimatedTokens: number;
  /** Cost of the finished steps (exact). */
  costUsd: number;
}

export interface Member {
  key: string;
  stepId: string;
  role: 'advisor' | 'chair';
  name: string;
  modelId: string;
  step?: StepView;
  text?: string;
  phase: StepPhase;
  startedAt?: number;
  endedAt?: number;
  meter: Meter;
}

const ENDED = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);

/** When a step first ran and when it last ended, from the transitions seen. */
export function stepTimes(transitions: readonly TransitionRecord[], stepId: string, jobEnd?: number): { startedAt?: number; endedAt?: number } {
  let startedAt: number | undefined;
  let endedAt: number | undefined;
  for (const t of transitions) {
    for (const c of t.changes) {
      if (c.stepId !== stepId) continue;
      if (c.status === 'running' && startedAt === undefined) startedAt = t.at;
      if (ENDED.has(c.status)) endedAt = t.at;
      if (c.status === 'running' || c.status === 'retrying') endedAt = undefined;
    }
  }
  if (startedAt !== undefined && endedAt === undefined && jobEnd !== undefined) endedAt = jobEnd;
  return { startedAt, endedAt };
}

function meterOf(steps: { step?: StepView; text?: string }[]): Meter {
  const meter: Meter = { exactTokens: 0, estimatedTokens: 0, costUsd: 0 };
  for (const { step, text } of steps) {
    if (!step) continue;
    if (step.usage) meter.exactTokens += totalTokens(step.usage);
    else if (step.status === 'running' && text) meter.estimatedTokens += estimateTokens(text);
    meter.costUsd += step.costUsd ?? 0;
  }
  return meter;
}

export function membersOf(stream: JobStream): Member[] {
  const view = stream.view;
  if (!view) return [];
  const last = stream.transitions.at(-1);
  const jobEnd = isTerminal(view.status) && last ? last.at : undefined;
  const member = (key: string, stepId: string, role: Member['role'], name: string, modelId: string, step: StepView | undefined, extra: { step?: StepView; text?: string }[]): Member => {
    const text = stepText(stream, stepId);
    return {
      key,
      stepId,
      role,
      name,
      modelId,
      step,
      text,
      phase: stepPhase(step, text),
      ...stepTimes(stream.transitions, stepId, jobEnd),
      meter: meterOf([{ step, text }, ...extra]),
    };
  };
  const members = view.advisors.map((a) =>
    member(a.id, `advise.${a.id}`, 'advisor', a.name, a.modelId, a.answer, [{ step: a.review, text: stepText(stream, `review.${a.id}`) }]),
  );
  members.push(member('chair', 'synthesize', 'chair', view.chair.name, view.chair.modelId, view.synthesis, []));
  return members;
}

/** The job's meter: exact totals plus an estimate for whatever is streaming. */
export function totalMeter(members: readonly Member[], view: JobView): Meter {
  return {
    exactTokens: totalTokens(view.usage),
    estimatedTokens: members.reduce((n, m) => n + m.meter.estimatedTokens, 0),
    costUsd: view.costUsd,
  };
}

/**
 * The quorum badge once an advisor dropped out: "2 of 3 advisors answered" when the
 * answers are in, "2 of 3 advisors still answering" while they are not; undefined while
 * nobody dropped out.
 */
export function quorumText(view: JobView): string | undefined {
  const total = view.advisors.length;
  const out = view.advisors.filter((a) => ['failed', 'skipped', 'cancelled'].includes(a.answer.status)).length;
  if (out === 0) return undefined;
  const answered = view.advisors.filter((a) => a.answer.status === 'succeeded').length;
  const advising = view.advisors.some((a) => isUnfinishedStep(a.answer.status));
  return advising ? `${total - out} of ${total} advisors still answering` : `${answered} of ${total} advisors answered`;
}
