/**
 * A job's timeline, built purely from its Jobs item, its committed transitions (the truth
 * about commits, stages, retries and back-off) and its run records (what each worker run
 * observed: lease, model calls, commit latency, pushes). The API serves it; the worker
 * derives a finished job's latency, critical path and overhead metrics from the same code.
 */
import { isTerminal, WORK_STAGES, type JobItem, type TransitionRecord } from './contracts/job.js';
import type { JobTimeline, ModelCallRecord, RunRecord, TimelineEntry, TimelineStage, TimelineSummary } from './contracts/timeline.js';

export interface TimelineInput {
  job: Pick<JobItem, 'jobId' | 'status' | 'createdAt'>;
  /** In seq order. */
  transitions: readonly TransitionRecord[];
  runs: readonly RunRecord[];
}

/** The stage a step's kind belongs to (step ids are `advise.<id>`, `review.<id>`, `synthesize`). */
const STAGE_OF_KIND: Record<string, TimelineStage> = { advise: 'advising', review: 'reviewing', synthesize: 'synthesizing' };
/** Same-instant entries read in causal order. */
const ORDER: Record<TimelineEntry['type'], number> = { queued: 0, lease: 1, commit: 2, retry: 3, 'model-call': 4, push: 5, 'run-end': 6 };

export function buildTimeline({ job, transitions, runs }: TimelineInput): JobTimeline {
  const ordered = [...runs].sort((a, b) => a.epoch - b.epoch);
  const entries: TimelineEntry[] = [...runEntries(ordered), ...transitionEntries(transitions, ordered)];
  const summary = summarize(job, transitions, ordered, entries);
  if (summary.queueWaitMs !== undefined) entries.push({ type: 'queued', at: summary.createdAt, ms: summary.queueWaitMs });
  entries.sort((a, b) => a.at - b.at || ORDER[a.type] - ORDER[b.type]);
  const traceId = ordered.find((r) => r.traceId)?.traceId;
  return { jobId: job.jobId, ...(traceId ? { traceId } : {}), summary, entries };
}

function runEntries(runs: readonly RunRecord[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  runs.forEach((run, i) => {
    const sentAt = run.message?.sentAt;
    entries.push({
      type: 'lease',
      at: run.startedAt,
      run: run.epoch,
      resumed: run.fromVersion > 0,
      ...(run.message ? { delivery: run.message.receiveCount } : {}),
      ...(sentAt !== undefined ? { waitedMs: Math.max(0, run.startedAt - sentAt) } : {}),
    });
    for (const { startedAt, ...call } of run.modelCalls) entries.push({ type: 'model-call', at: startedAt, run: run.epoch, ...call });
    for (const push of run.pushes) entries.push({ type: 'push', run: run.epoch, ...push });
    if (run.outcome && run.endedAt !== undefined) entries.push({ type: 'run-end', at: run.endedAt, run: run.epoch, outcome: run.outcome });
    // A run without an end that a later run followed died, or was cut off, without a word.
    else if (i < runs.length - 1) entries.push({ type: 'run-end', at: lastActivity(run), run: run.epoch, outcome: 'lost' });
  });
  return entries;
}

function lastActivity(run: RunRecord): number {
  return Math.max(run.startedAt, ...run.modelCalls.map((c) => c.startedAt + c.ms), ...run.commits.map((c) => c.at), run.leaseLostAt ?? 0);
}

function transitionEntries(transitions: readonly TransitionRecord[], runs: readonly RunRecord[]): TimelineEntry[] {
  const commitOf = new Map<number, { ms: number; run: number }>();
  for (const run of runs) for (const c of run.commits) commitOf.set(c.seq, { ms: c.ms, run: run.epoch });
  const entries: TimelineEntry[] = [];
  for (const t of transitions) {
    const recorded = commitOf.get(t.seq);
    entries.push({ type: 'commit', at: t.at, seq: t.seq, event: t.event, status: t.status, stage: t.stage, ...(recorded ?? {}) });
    for (const change of t.changes) {
      if (change.status !== 'retrying' || change.dueAt === undefined) continue;
      entries.push({
        type: 'retry',
        at: t.at,
        stepId: change.stepId,
        attempt: change.attempt,
        error: change.error?.error ?? 'unknown',
        dueAt: change.dueAt,
        backoffMs: Math.max(0, change.dueAt - t.at),
      });
    }
  }
  return entries;
}

function summarize(job: TimelineInput['job'], transitions: readonly TransitionRecord[], runs: readonly RunRecord[], entries: readonly TimelineEntry[]): TimelineSummary {
  const createdAt = Date.parse(job.createdAt);
  // The job's end is its last transition, when final (a redriven job has an earlier end behind it).
  const last = transitions.at(-1);
  const end = last && isTerminal(last.status) ? last : undefined;
  const firstStart = runs[0]?.startedAt ?? transitions[0]?.at;
  const calls = runs.flatMap((r) => r.modelCalls);
  const retries = entries.filter((e): e is Extract<TimelineEntry, { type: 'retry' }> => e.type === 'retry');
  const summary: TimelineSummary = {
    status: end?.status ?? job.status,
    createdAt,
    stages: stageDurations(transitions),
    runs: runs.length,
    modelCalls: calls.length,
    retries: retries.length,
    costUsd: calls.reduce((micros, c) => micros + Math.round(c.costUsd * 1e6), 0) / 1e6,
  };
  if (firstStart !== undefined) summary.queueWaitMs = Math.max(0, firstStart - createdAt);
  if (end) {
    summary.endedAt = end.at;
    summary.latencyMs = end.at - createdAt;
    if (calls.length > 0) {
      summary.criticalPathMs = criticalPath(calls, retries);
      summary.overheadMs = summary.latencyMs - summary.criticalPathMs;
    }
  }
  return summary;
}

/** Time spent in each stage: from the commit that entered it to the one that left it. */
function stageDurations(transitions: readonly TransitionRecord[]): TimelineSummary['stages'] {
  const stages: TimelineSummary['stages'] = {};
  let current: { stage: string; since: number } | undefined;
  for (const t of transitions) {
    if (current?.stage === t.stage) continue;
    if (current && (WORK_STAGES as readonly string[]).includes(current.stage)) {
      const stage = current.stage as TimelineStage;
      stages[stage] = (stages[stage] ?? 0) + (t.at - current.since);
    }
    current = { stage: t.stage, since: t.at };
  }
  return stages;
}

/**
 * The models' share of the latency: per stage, the slowest step, a step taking the time of
 * its calls plus its back-off waits (the retry policy's, not the system's); summed over stages.
 */
function criticalPath(calls: readonly ModelCallRecord[], retries: readonly { stepId: string; backoffMs: number }[]): number {
  const stepMs = new Map<string, number>();
  for (const c of calls) stepMs.set(c.stepId, (stepMs.get(c.stepId) ?? 0) + c.ms);
  for (const r of retries) stepMs.set(r.stepId, (stepMs.get(r.stepId) ?? 0) + r.backoffMs);
  const slowest = new Map<TimelineStage, number>();
  for (const [stepId, ms] of stepMs) {
    const stage = STAGE_OF_KIND[stepId.split('.')[0] ?? ''];
    if (stage) slowest.set(stage, Math.max(slowest.get(stage) ?? 0, ms));
  }
  return [...slowest.values()].reduce((sum, ms) => sum + ms, 0);
}
