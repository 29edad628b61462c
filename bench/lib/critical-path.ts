/**
 * A job's critical path: the sum over its stages (advise, review, synthesize) of the
 * slowest model call in that stage, each call timed from its arrival at the stand-in to
 * the end of its response. Nothing the system does can make the job faster than this;
 * the rest of its latency is overhead, split here by where it was spent.
 */
import type { StepKind } from '../../services/local/bedrock/standin.types.js';
import type { TimedCall } from './timed-bedrock.js';

const STAGES: readonly StepKind[] = ['advise', 'review', 'synthesize'];

export interface CriticalPath {
  ms: number;
  /** The slowest call of each stage that had calls. */
  byStage: Partial<Record<StepKind, number>>;
}

/** Where a job's overhead went (ms); the four parts and the critical path add up to its latency. */
export interface OverheadParts {
  /** POST /chat sent → first model call: API, queue, lease, first commits. */
  beforeFirstCall: number;
  /** Last call of a stage ended → first call of the next started: commits and scheduling. */
  betweenStages: number;
  /** Within a stage, calls that started after the stage's first one (the slowest call then ends later). */
  stageSkew: number;
  /** Last call ended → terminal transition committed. */
  afterLastCall: number;
}

/** The critical path of a job's calls; undefined if a call has not finished. */
export function criticalPathOf(calls: readonly TimedCall[]): CriticalPath | undefined {
  if (calls.length === 0 || calls.some((c) => c.finishedAt === undefined)) return undefined;
  const byStage: Partial<Record<StepKind, number>> = {};
  for (const call of calls) {
    const ms = (call.finishedAt as number) - call.startedAt;
    byStage[call.kind] = Math.max(byStage[call.kind] ?? 0, ms);
  }
  return { ms: Object.values(byStage).reduce((s, x) => s + x, 0), byStage };
}

/** Splits latency − critical path into where it was spent; undefined if a call has not finished. */
export function overheadParts(calls: readonly TimedCall[], sentAt: number, endedAt: number): OverheadParts | undefined {
  const critical = criticalPathOf(calls);
  if (!critical) return undefined;
  const spans = STAGES.flatMap((kind) => {
    const stage = calls.filter((c) => c.kind === kind);
    if (stage.length === 0) return [];
    return [{ start: Math.min(...stage.map((c) => c.startedAt)), end: Math.max(...stage.map((c) => c.finishedAt as number)) }];
  });
  const first = spans[0];
  const last = spans.at(-1);
  if (!first || !last) return undefined;
  let betweenStages = 0;
  for (let i = 1; i < spans.length; i++) betweenStages += (spans[i]?.start ?? 0) - (spans[i - 1]?.end ?? 0);
  const spanTotal = spans.reduce((s, x) => s + (x.end - x.start), 0);
  return {
    beforeFirstCall: first.start - sentAt,
    betweenStages,
    stageSkew: spanTotal - critical.ms,
    afterLastCall: endedAt - last.end,
  };
}
