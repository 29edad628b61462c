/** The figures of a chaos run: faults by kind, wasted calls, recovery times, and the verdict, as printable lines. */
import { isTerminal, type TransitionRecord } from '../../../services/shared/contracts/job.js';
import type { JobEvidence, Verdict } from '../../../test/support/chaos/history-checker.js';
import { summarise, type Summary } from '../stats.js';
import type { ModelFault } from './chaos-bedrock.js';
import type { FaultRecord } from './worker-chaos.js';
import type { LeaseTaken } from './strike-proxy.js';

/** Recovery goals (issue 13): fault → the job's next commit, p99. */
export const RECOVERY_GOALS_MS: Readonly<Record<string, number>> = { SIGKILL: 15_000, SIGTERM: 5_000 };

export interface Recovery {
  /** SIGKILL, SIGSTOP, SIGTERM, SIGKILL by moment (`SIGKILL after-return` …) and `SIGTERM hand-over`. */
  group: string;
  summary: Summary;
  /**
   * The samples whose job met no second worker fault before its next commit: the recovery
   * from this fault alone. A job whose next holder is struck too (at 12 faults a minute across
   * 4 workers, one every 20 s per worker) waits for two recoveries; that sample is in
   * `summary` only, counted in `compounded`.
   */
  alone: Summary;
  compounded: number;
  /**
   * Fault → the job resumed: its next lease taken by another worker, or its next commit,
   * whichever came first (the recovery itself, before the model call the resumed run makes).
   */
  resumed: Summary;
  /** Jobs the worker held that never committed again (ended without another transition). */
  noLaterCommit: number;
}

/**
 * From each fault to the next commit of each job its worker held, after the signal: for a
 * SIGTERM that may be the stopping worker's own commit of a call it let finish (the issue's
 * measure: the job moved on). `SIGTERM hand-over` is the stricter part: from the process
 * gone to the job's next commit on another worker. A job that had already ended is no sample.
 */
export function recoveries(faults: readonly FaultRecord[], jobs: readonly JobEvidence[], leases: readonly LeaseTaken[] = []): Recovery[] {
  const history = new Map<string, TransitionRecord[]>(jobs.map((j) => [j.jobId, j.history]));
  const groups = new Map<string, { ms: number[]; alone: number[]; resumed: number[]; compounded: number; none: number }>();
  const add = (group: string, ms: number | undefined, compounded: boolean, resumedMs?: number) => {
    const g = groups.get(group) ?? { ms: [], alone: [], resumed: [], compounded: 0, none: 0 };
    if (resumedMs !== undefined) g.resumed.push(resumedMs);
    if (ms === undefined) g.none++;
    else {
      g.ms.push(ms);
      if (compounded) g.compounded++;
      else g.alone.push(ms);
    }
    groups.set(group, g);
  };
  const nextAfter = (jobId: string, at: number): number | undefined => {
    const next = (history.get(jobId) ?? []).find((t) => t.at > at);
    return next ? next.at - at : undefined;
  };
  const endedBy = (jobId: string, at: number): boolean => {
    const last = history.get(jobId)?.at(-1);
    return last !== undefined && isTerminal(last.status) && last.at <= at;
  };
  /** The job's next lease taken by a worker other than `pid` after `at`, or its next commit, whichever first. */
  const resumedAfter = (jobId: string, pid: number, at: number): number | undefined => {
    const lease = leases.find((l) => l.jobId === jobId && l.pid !== pid && l.at > at);
    const commit = nextAfter(jobId, at);
    const leaseMs = lease ? lease.at - at : undefined;
    return leaseMs === undefined ? commit : commit === undefined ? leaseMs : Math.min(leaseMs, commit);
  };
  /** Another fault struck a worker holding `jobId` after `from` and before `until`. */
  const struckAgain = (fault: FaultRecord, jobId: string, until: number): boolean =>
    faults.some((g) => g !== fault && g.at > fault.at && g.at < until && g.jobs.includes(jobId));
  for (const f of faults) {
    for (const jobId of f.jobs) {
      if (endedBy(jobId, f.at)) continue;
      const ms = nextAfter(jobId, f.at);
      const compounded = ms !== undefined && struckAgain(f, jobId, f.at + ms);
      const resumed = resumedAfter(jobId, f.pid, f.at);
      add(f.kind, ms, compounded, resumed);
      if (f.kind === 'SIGKILL') add(`SIGKILL ${f.moment}`, ms, compounded, resumed);
      if (f.kind === 'SIGTERM' && f.exitedAt !== undefined) {
        const handOver = nextAfter(jobId, f.exitedAt);
        add('SIGTERM hand-over', handOver, handOver !== undefined && struckAgain(f, jobId, f.exitedAt + handOver));
      }
    }
  }
  const order = ['SIGKILL', 'SIGKILL random', 'SIGKILL after-return', 'SIGKILL during-commit', 'SIGSTOP', 'SIGTERM', 'SIGTERM hand-over'];
  return [...groups]
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([group, g]) => ({ group, summary: summarise(g.ms), alone: summarise(g.alone), compounded: g.compounded, resumed: summarise(g.resumed), noLaterCommit: g.none }));
}

/** POST /chat answered → the job's first commit, per job (a message lost in a dead worker's poll shows here). */
export function firstCommitWaits(jobs: readonly JobEvidence[], submittedAt: ReadonlyMap<string, number>): Summary {
  const waits: number[] = [];
  for (const j of jobs) {
    const sent = submittedAt.get(j.jobId);
    const first = j.history[0];
    if (sent !== undefined && first) waits.push(first.at - sent);
  }
  return summarise(waits);
}

export interface ChaosReport {
  seed: number;
  jobs: { total: number; poisoned: number; byStatus: Record<string, number> };
  durationS: number;
  workerFaults: Record<string, number>;
  modelFaults: Record<ModelFault, number>;
  clients: { followers: number; drops: number; subscriptions: number; gapFills: number };
  respawned: number;
  wasted: Verdict['wasted'];
  repeatsByReason: Record<string, number>;
  recoveries: Recovery[];
  firstCommit: Summary;
  deadLetters: number;
  verdict: { ok: boolean; violations: Verdict['violations'] };
}

const s = (ms: number | undefined): string => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** The report as lines for a terminal. */
export function formatReport(r: ChaosReport): string {
  const lines: string[] = [];
  const count = (o: Record<string, number>) => Object.entries(o).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  lines.push(`seed ${r.seed} (COT_CHAOS_SEED=${r.seed} replays the same choices), ${r.durationS.toFixed(0)} s`);
  lines.push(`jobs           ${r.jobs.total} (${r.jobs.poisoned} poisoned on purpose): ${count(r.jobs.byStatus)}`);
  lines.push(`worker faults  ${count(r.workerFaults)}; ${r.respawned} workers respawned`);
  lines.push(`model faults   ${count(r.modelFaults)}`);
  lines.push(`clients        ${r.clients.followers} followers, ${r.clients.drops} drops, ${r.clients.subscriptions} subscriptions, ${r.clients.gapFills} gaps filled at job.done`);
  lines.push(`wasted calls   ${r.wasted.returned + r.wasted.cutOff}: ${r.wasted.returned} answered but lost, ${r.wasted.cutOff} cut off`);
  lines.push(`repeats        ${count(r.repeatsByReason)} (a step asked again after a crash between its answer and its commit)`);
  lines.push(`dead letters   ${r.deadLetters} (goal: only the ${r.jobs.poisoned} poisoned)`);
  lines.push(`first commit   after POST /chat: p50 ${s(r.firstCommit.p50)}, p99 ${s(r.firstCommit.p99)}, max ${s(r.firstCommit.max)}`);
  lines.push("recovery       fault → the job's next commit: all samples, then alone (no second fault struck the job first)");
  for (const rec of r.recoveries) {
    const goal = RECOVERY_GOALS_MS[rec.group];
    const p99 = rec.alone.p99;
    const met = goal === undefined || p99 === undefined ? '' : `  (goal p99 ≤ ${s(goal)} alone: ${p99 <= goal ? 'met' : 'MISSED'})`;
    const figures = (x: Summary) => `n ${String(x.n).padStart(4)}  p50 ${s(x.p50).padStart(7)}  p99 ${s(x.p99).padStart(7)}  max ${s(x.max).padStart(7)}`;
    lines.push(`  ${rec.group.padEnd(22)} ${figures(rec.summary)}${rec.noLaterCommit ? `  (${rec.noLaterCommit} never committed again)` : ''}`);
    lines.push(`  ${''.padEnd(16)}alone  ${figures(rec.alone)}  (${rec.compounded} struck again first)${met}`);
    if (rec.resumed.n > 0) lines.push(`  ${''.padEnd(14)}resumed  ${figures(rec.resumed)}  (next lease on another worker, or next commit)`);
  }
  lines.push(`verdict        ${r.verdict.ok ? 'every guarantee held' : `${r.verdict.violations.length} violations`}`);
  for (const v of r.verdict.violations.slice(0, 30)) lines.push(`  ${v.rule}${v.jobId ? ` [${v.jobId}]` : ''}: ${v.detail}`);
  return lines.join('\n');
}
