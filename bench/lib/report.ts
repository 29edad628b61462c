/**
 * Turns the scenarios' raw measurements into the figures `npm run bench` prints (a compact
 * table with the goals beside them) and writes (bench/results/latest.json).
 */
import { requestTotal, writeTotals, type Tally } from './dynamo-counter.js';
import type { OverheadParts } from './critical-path.js';
import type { RunFigures } from './scenarios.js';
import { max, mean, quantile, summarise, type Summary } from './stats.js';
import type { StandinConfig } from '../../services/local/bedrock/standin.types.js';
import type { BadDayFigures } from './bad-day.js';

export interface BenchSettings {
  workers: number;
  workerConcurrency: number;
  bedrock: StandinConfig;
  aloneJobs: number;
  concurrentJobs: number;
  rounds: number;
  subscribersPerJob: number;
  burst: { total: number; concurrency: number };
  /** Share of model calls that misbehave in the bad-day run (0: no such run). */
  badDayRate: number;
  /** Concurrent jobs at each point of the scaling curve. */
  curve: number[];
}

/** One point of the scaling curve: `jobs` submitted at once. */
export interface CurvePoint {
  jobs: number;
  run: RunFigures;
}

export interface BenchResults {
  settings: BenchSettings;
  alone: RunFigures;
  /** One per round, without WebSocket subscribers. */
  concurrent: RunFigures[];
  /** One per round, with subscribers; empty when the push path is not available. */
  pushed: RunFigures[];
  pushNote?: string;
  burst: { latenciesMs: number[]; failures: string[] };
  /** POST /chat one at a time, for reference. */
  oneAtATime: { latenciesMs: number[]; failures: string[] };
  /** Bytes of the final State snapshot of every measured job. */
  finalSnapshots: number[];
  /** The bad-day run, when it ran. */
  badDay?: BadDayFigures;
  /** The scaling curve, in order of load. */
  curve: CurvePoint[];
  problems: string[];
}

export interface Row {
  figure: string;
  value: string;
  goal: string;
  /** undefined: no goal. */
  met?: boolean;
}

const KB = 1024;

/** The figures as JSON-friendly data, plus the printable rows. */
export function buildReport(r: BenchResults): { figures: Record<string, unknown>; rows: Row[] } {
  const alone = jobFigures([r.alone]);
  const concurrent = jobFigures(r.concurrent);
  const pushed = jobFigures(r.pushed);
  const throughput = mean(r.concurrent.map((run) => run.jobs.length / (run.wallMs / 60_000) / r.settings.workers));
  const writesAlone = perJob([r.alone]);
  const writesConcurrent = perJob(r.concurrent);
  const writesPushed = perJob(r.pushed);
  const written = [r.alone, ...r.concurrent, ...r.pushed].flatMap((run) => run.tally.snapshotBytes);
  const snapshots = { written: summarise(written), final: summarise(r.finalSnapshots) };
  const post = summarise(r.burst.latenciesMs);
  const postAlone = summarise(r.oneAtATime.latenciesMs);
  const push = pushSummary(r.pushed);
  const n = r.settings.concurrentJobs;

  const rows: Row[] = [
    overheadRow(`latency ÷ critical path, 1 job (${r.settings.aloneJobs} runs)`, alone, 0.1),
    partsRow('  overhead by part (p50), 1 job', alone),
    overheadRow(`latency ÷ critical path, ${n} concurrent (${r.concurrent.length}×)`, concurrent, 0.25),
    partsRow(`  overhead by part (p50), ${n} concurrent`, concurrent),
    { figure: `throughput at ${n} concurrent`, value: `${fmt(throughput, 1)} jobs/min per worker`, goal: '' },
    cpuRow(`CPU at ${n} concurrent`, r.concurrent),
    writesRow('DynamoDB writes per job, 1 job', writesAlone),
    writesRow(`DynamoDB writes per job, ${n} concurrent`, writesConcurrent),
    dynamoLatencyRow(`  DynamoDB Local answer time, ${n} concurrent`, writesConcurrent),
    {
      figure: 'snapshot size (State item)',
      value: `largest ${fmt(snapshots.written.max)} B, mean ${fmt(snapshots.written.mean)} B written; final mean ${fmt(snapshots.final.mean)} B`,
      goal: '< 8 KB',
      met: snapshots.written.max === undefined ? undefined : snapshots.written.max < 8 * KB,
    },
    {
      figure: `POST /chat, burst of ${r.settings.burst.total} (${r.settings.burst.concurrency} at a time)`,
      value: `p50 ${fmt(post.p50, 1)} ms, p99 ${fmt(post.p99, 1)} ms${r.burst.failures.length ? `, ${r.burst.failures.length} failed` : ''}`,
      goal: '',
    },
    { figure: `POST /chat, one at a time (${postAlone.n})`, value: `p50 ${fmt(postAlone.p50, 1)} ms, p99 ${fmt(postAlone.p99, 1)} ms`, goal: '' },
  ];
  rows.push(...pushRows(r, concurrent, pushed, push));
  if (r.badDay) rows.push(...badDayRows(r.badDay));
  rows.push(...curveRows(r.curve, r.settings.workers));

  const figures = {
    alone,
    concurrent: { ...concurrent, throughputJobsPerMinutePerWorker: throughput, wallMs: r.concurrent.map((x) => x.wallMs) },
    dynamodb: { alone: writesAlone, concurrent: writesConcurrent, concurrentWithPush: r.pushed.length ? writesPushed : undefined },
    snapshots,
    postChat: { burst: { ...post, failures: r.burst.failures.length, firstFailures: r.burst.failures.slice(0, 5) }, oneAtATime: postAlone },
    push: r.pushed.length ? { ...push, withPush: pushed, latencyRatioP50: latencyRatio(pushed, concurrent) } : { available: false, note: r.pushNote },
    curve: curveFigures(r.curve),
    cpu: { alone: r.alone.cpu, concurrent: r.concurrent.map((x) => x.cpu), pushed: r.pushed.map((x) => x.cpu) },
    badDay: r.badDay,
    benchLoopDelayP99Ms: {
      alone: r.alone.loopDelayP99Ms,
      concurrent: r.concurrent.map((x) => x.loopDelayP99Ms),
      pushed: r.pushed.map((x) => x.loopDelayP99Ms),
    },
  };
  return { figures, rows };
}

/** Job latency p50 with push ÷ without. */
function latencyRatio(pushed: JobSummary, plain: JobSummary): number | undefined {
  return pushed.latency.p50 !== undefined && plain.latency.p50 !== undefined ? pushed.latency.p50 / plain.latency.p50 : undefined;
}

function pushRows(r: BenchResults, plain: JobSummary, pushed: JobSummary, push: PushSummary): Row[] {
  const n = r.settings.concurrentJobs;
  if (r.pushed.length === 0) return [{ figure: 'push: token → client delay', value: r.pushNote ?? 'push path not available', goal: 'p99 < 100 ms' }];
  const ratio = latencyRatio(pushed, plain);
  return [
    {
      figure: `push: token → client delay (${push.clients} clients)`,
      value: `p50 ${fmt(push.delay.p50, 1)} ms, p99 ${fmt(push.delay.p99, 1)} ms (${fmt(push.coverage * 100)}% of chunks reached their clients)`,
      goal: 'p99 < 100 ms',
      met: push.delay.p99 === undefined ? undefined : push.delay.p99 < 100,
    },
    {
      figure: '  of which stand-in → gateway (worker)',
      value: `p50 ${fmt(push.toGateway.p50, 1)} ms, p99 ${fmt(push.toGateway.p99, 1)} ms; the gateway → client is the rest`,
      goal: '',
    },
    {
      figure: `push: pushed per job (${r.settings.subscribersPerJob} clients)`,
      value: `${fmt(push.framesPerJob)} messages (${fmt(push.deltaFramesPerJob)} step.delta), ${fmt(push.bytesPerJob / KB, 1)} KB`,
      goal: '',
    },
    {
      figure: 'job latency with ÷ without push (p50)',
      value: `${fmt(ratio, 3)} (${fmt(pushed.latency.p50)} vs ${fmt(plain.latency.p50)} ms)`,
      goal: '≤ 1.05',
      met: ratio === undefined ? undefined : ratio <= 1.05,
    },
    writesRow(`DynamoDB writes per job, ${n} concurrent + push`, perJob(r.pushed)),
    cpuRow(`CPU at ${n} concurrent + push`, r.pushed),
  ];
}

function badDayRows(b: BadDayFigures): Row[] {
  const pct = Math.round(b.rate * 100);
  const qualities = Object.entries(b.byQuality)
    .map(([q, n]) => `${n} ${q}`)
    .join(', ');
  return [
    {
      figure: `bad day (${pct} % of calls misbehave), ${b.jobs} jobs`,
      value: `${b.complete} complete / ${b.degraded} degraded / ${b.failed} failed (${b.failedWithQuorum} with the quorum answered); adviceQuality: ${qualities}`,
      goal: '0 failed while the quorum answers',
      met: b.failedWithQuorum === 0,
    },
    { figure: '  model calls per job, bad day', value: `mean ${fmt(b.callsPerJob.mean, 2)}, max ${fmt(b.callsPerJob.max)} (7 on a good day)`, goal: '' },
    {
      figure: '  wasted calls per job, bad day',
      value: `mean ${fmt(b.wastedPerJob.mean, 2)}, max ${fmt(b.wastedPerJob.max)}; ${fmt(b.wastedPerUnusableStep, 2)} per unusable step (${b.unusableSteps} steps)`,
      goal: '≤ 1 per unusable step',
      met: b.wastedPerUnusableStep === undefined ? undefined : b.wastedPerUnusableStep <= 1,
    },
  ];
}

/** The table, ready to print. */
export function formatRows(rows: readonly Row[]): string {
  return formatTable(
    ['figure', 'value', 'goal', ''],
    rows.map((row) => [row.figure, row.value, row.goal, row.met === undefined ? '' : row.met ? 'met' : 'MISSED']),
  );
}

interface JobSummary {
  jobs: number;
  failed: number;
  latency: Summary;
  critical: Summary;
  overhead: Summary;
  /** POST sent → job.started committed: queueing, lease and first commit. */
  start: Summary;
  /** Each part of the overhead (ms). */
  parts: Record<keyof OverheadParts, Summary>;
}

function jobFigures(runs: readonly RunFigures[]): JobSummary {
  const jobs = runs.flatMap((run) => run.jobs);
  const ok = jobs.filter((j) => j.status === 'succeeded');
  return {
    jobs: jobs.length,
    failed: jobs.length - ok.length,
    latency: summarise(ok.map((j) => j.latencyMs)),
    critical: summarise(ok.flatMap((j) => (j.criticalMs === undefined ? [] : [j.criticalMs]))),
    overhead: summarise(ok.flatMap((j) => (j.overhead === undefined ? [] : [j.overhead]))),
    start: summarise(ok.map((j) => j.startMs)),
    parts: Object.fromEntries(
      OVERHEAD_PARTS.map((part) => [part, summarise(ok.flatMap((j) => (j.parts ? [j.parts[part]] : [])))]),
    ) as Record<keyof OverheadParts, Summary>,
  };
}

const OVERHEAD_PARTS = ['beforeFirstCall', 'betweenStages', 'stageSkew', 'afterLastCall'] as const satisfies readonly (keyof OverheadParts)[];

function partsRow(figure: string, s: JobSummary): Row {
  const labels: Record<keyof OverheadParts, string> = {
    beforeFirstCall: 'before 1st call',
    betweenStages: 'between stages',
    stageSkew: 'stage start skew',
    afterLastCall: 'after last call',
  };
  return { figure, value: OVERHEAD_PARTS.map((p) => `${labels[p]} ${fmt(s.parts[p].p50)}`).join(', ') + ' ms', goal: '' };
}

function overheadRow(figure: string, s: JobSummary, goal: number): Row {
  const failed = s.failed ? `; ${s.failed} of ${s.jobs} jobs did not succeed` : '';
  return {
    figure,
    value: `overhead p50 ${pct(s.overhead.p50)}, max ${pct(s.overhead.max)} (latency p50 ${fmt(s.latency.p50)} ms, critical path p50 ${fmt(s.critical.p50)} ms)${failed}`,
    goal: `≤ +${goal * 100}%`,
    met: s.overhead.p50 === undefined ? undefined : s.overhead.p50 <= goal && s.failed === 0,
  };
}

interface PerJob {
  jobs: number;
  writeRequests: number;
  itemsWritten: number;
  bytesWritten: number;
  requests: number;
  byOperation: Record<string, number>;
  itemsByTable: Record<string, number>;
  /** DynamoDB Local's answer time by operation (ms). */
  latencyMs: Record<string, Summary>;
}

function perJob(runs: readonly RunFigures[]): PerJob {
  const jobs = runs.reduce((n, run) => n + run.jobs.length, 0) || 1;
  const per = (x: number): number => x / jobs;
  const tallies: Tally[] = runs.map((run) => run.tally);
  const totals = tallies.map(writeTotals).reduce((a, b) => ({ requests: a.requests + b.requests, items: a.items + b.items, bytes: a.bytes + b.bytes }), { requests: 0, items: 0, bytes: 0 });
  const byOperation: Record<string, number> = {};
  const itemsByTable: Record<string, number> = {};
  for (const t of tallies) {
    for (const [op, o] of Object.entries(t.operations)) byOperation[op] = (byOperation[op] ?? 0) + per(o.requests);
    for (const [table, items] of Object.entries(t.itemsByTable)) itemsByTable[table] = (itemsByTable[table] ?? 0) + per(items);
  }
  const latencies: Record<string, number[]> = {};
  for (const t of tallies) for (const [op, list] of Object.entries(t.latencyMs)) (latencies[op] ??= []).push(...list);
  return {
    jobs,
    latencyMs: Object.fromEntries(Object.entries(latencies).filter(([, l]) => l.length > 0).map(([op, l]) => [op, summarise(l)])),
    writeRequests: per(totals.requests),
    itemsWritten: per(totals.items),
    bytesWritten: per(totals.bytes),
    requests: per(tallies.reduce((n, t) => n + requestTotal(t), 0)),
    byOperation,
    itemsByTable,
  };
}

/** DynamoDB Local's answer times for the busiest operations. */
function dynamoLatencyRow(figure: string, w: PerJob): Row {
  const busiest = Object.entries(w.latencyMs)
    .sort((a, b) => b[1].n - a[1].n)
    .slice(0, 4)
    .map(([op, s]) => `${op} ${fmt(s.p50, 1)}/${fmt(s.p99)}`);
  return { figure, value: `p50/p99 ms: ${busiest.join(', ')}`, goal: '' };
}

function writesRow(figure: string, w: PerJob): Row {
  return {
    figure,
    value: `${fmt(w.writeRequests, 1)} write requests, ${fmt(w.itemsWritten, 1)} items, ${fmt(w.bytesWritten / KB, 1)} KB sent (${fmt(w.requests, 1)} requests in all)`,
    goal: '',
  };
}

interface PushSummary {
  clients: number;
  delay: Summary;
  /** The same, to the gateway's management endpoint (the worker's part). */
  toGateway: Summary;
  /** Share of streamed chunks that reached a subscribed client as a step.delta. */
  coverage: number;
  framesPerJob: number;
  deltaFramesPerJob: number;
  bytesPerJob: number;
  problems: string[];
}

function pushSummary(runs: readonly RunFigures[]): PushSummary {
  const jobs = runs.reduce((n, run) => n + run.jobs.length, 0) || 1;
  const pushes = runs.flatMap((run) => (run.push ? [run.push] : []));
  const sum = (f: (p: (typeof pushes)[number]) => number): number => pushes.reduce((n, p) => n + f(p), 0);
  return {
    clients: max(pushes.map((p) => p.clients)) ?? 0,
    delay: summarise(pushes.flatMap((p) => p.delaysMs)),
    toGateway: summarise(pushes.flatMap((p) => p.toGatewayMs)),
    coverage: sum((p) => p.delaysMs.length) / (sum((p) => p.chunksEmitted) || 1),
    framesPerJob: sum((p) => p.frames) / jobs,
    deltaFramesPerJob: sum((p) => p.deltaFrames) / jobs,
    bytesPerJob: sum((p) => p.bytes) / jobs,
    problems: pushes.flatMap((p) => p.problems).slice(0, 20),
  };
}

/** Mean cores used per part of the stack over the runs, and how busy the machine was. */
function cpuRow(figure: string, runs: readonly RunFigures[]): Row {
  const names = [...new Set(runs.flatMap((run) => Object.keys(run.cpu.coresByProcess)))];
  const parts = names
    .map((name) => [name, mean(runs.map((run) => run.cpu.coresByProcess[name] ?? 0)) ?? 0] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([name, cores]) => `${name} ${fmt(cores, 2)}`);
  const busy = mean(runs.flatMap((run) => (run.cpu.machineBusy === undefined ? [] : [run.cpu.machineBusy])));
  const cores = runs[0]?.cpu.cores ?? 0;
  return { figure, value: `machine ${busy === undefined ? '–' : `${Math.round(busy * 100)}%`} busy of ${cores} cores; cores used: ${parts.join(', ')}`, goal: '' };
}

/** A figure with `digits` decimals, or n/a. */
export function fmt(x: number | undefined, digits = 0): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

function pct(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
}

/** Left-aligned columns separated by two spaces, with a rule under the header. */
function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A point of the curve as data: latency ÷ critical path (p50, p90), jobs per minute, CPU seconds per job by part. */
export interface CurveFigure {
  jobs: number;
  failed: number;
  ratioP50?: number;
  ratioP90?: number;
  jobsPerMinute: number;
  cpuSecondsPerJob: number;
  cpuSecondsPerJobByProcess: Record<string, number>;
  machineBusy?: number;
}

export function curveFigures(curve: readonly CurvePoint[]): CurveFigure[] {
  return curve.map(({ jobs, run }) => {
    const ok = run.jobs.filter((j) => j.status === 'succeeded' && j.overhead !== undefined);
    const ratios = ok.map((j) => 1 + (j.overhead as number));
    const byProcess = Object.fromEntries(Object.entries(run.cpu.secondsByProcess).map(([name, s]) => [name, s / jobs]));
    return {
      jobs,
      failed: run.jobs.length - ok.length,
      ratioP50: quantile(ratios, 0.5),
      ratioP90: quantile(ratios, 0.9),
      jobsPerMinute: jobs / (run.wallMs / 60_000),
      cpuSecondsPerJob: Object.values(byProcess).reduce((a, b) => a + b, 0),
      cpuSecondsPerJobByProcess: byProcess,
      machineBusy: run.cpu.machineBusy,
    };
  });
}

/** One row per point of the scaling curve. */
export function curveRows(curve: readonly CurvePoint[], workers: number, label = ''): Row[] {
  const goals: Record<number, number> = { 1: 1.02, 20: 1.15, 50: 1.25 };
  return curveFigures(curve).map((p) => {
    const goal = goals[p.jobs];
    const parts = Object.entries(p.cpuSecondsPerJobByProcess)
      .map(([name, s]) => `${name} ${fmt(s, 3)}`)
      .join(', ');
    return {
      figure: `curve${label}: ${p.jobs} at once on ${workers} workers`,
      value:
        `latency ÷ critical path p50 ${fmt(p.ratioP50, 3)}, p90 ${fmt(p.ratioP90, 3)}; ${fmt(p.jobsPerMinute, 1)} jobs/min; ` +
        `CPU ${fmt(p.cpuSecondsPerJob, 3)} s/job (${parts}); machine ${p.machineBusy === undefined ? '–' : `${Math.round(p.machineBusy * 100)}%`} busy` +
        (p.failed ? `; ${p.failed} not succeeded` : ''),
      goal: goal ? `p50 ≤ ${goal}` : '',
      met: goal === undefined || p.ratioP50 === undefined ? undefined : p.ratioP50 <= goal && p.failed === 0,
    };
  });
}
