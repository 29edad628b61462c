/**
 * `npm run bench`: the whole local stack with simulated advisors at a fixed latency, measured
 * from the outside. Prints figures next to their goals and writes bench/results/latest.json;
 * it asserts nothing (see bench/README.md for what each figure means). The web app's figures
 * are `npm run bench:web` (bench/web.ts).
 *
 * Environment: COT_BENCH_JOBS (concurrent jobs, default 50), COT_BENCH_ROUNDS (rounds of the
 * concurrent runs, default 2), COT_BENCH_BAD_DAY_RATE (share of model calls that misbehave in
 * the bad-day run, default 0.25; 0 skips it), COT_BENCH_CURVE (the scaling curve's loads, default
 * 1,10,20,50,100), COT_BENCH_DYNAMO (DynamoDB Local modes, default memory,disk: everything runs
 * on the first, the curve again on the others), COT_BENCH_VERBOSE=1 (relay every service log line).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchStack, type BenchStack, type DynamoMode } from './lib/bench-stack.js';
import { benchQuestions } from './lib/jobs.js';
import { runBadDay } from './lib/bad-day.js';
import { buildReport, curveFigures, curveRows, formatRows, type BenchResults, type BenchSettings, type CurvePoint } from './lib/report.js';
import { finalSnapshotBytes, openSubscribers, postBurst, runAlone, runConcurrent, type RunFigures } from './lib/scenarios.js';
import { PushUnavailableError } from './lib/subscribers.js';
import { positiveInt, runBench } from './lib/cli.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const settings: BenchSettings = {
  workers: 2,
  // 100 jobs of the curve fit on the 2 workers at once.
  workerConcurrency: 50,
  bedrock: { firstTokenDelayMs: 300, tokenDelayMs: 5, badDay: null },
  aloneJobs: 5,
  concurrentJobs: positiveInt(process.env.COT_BENCH_JOBS, 50),
  rounds: positiveInt(process.env.COT_BENCH_ROUNDS, 2),
  subscribersPerJob: 2,
  burst: { total: 200, concurrency: 20 },
  badDayRate: rate(process.env.COT_BENCH_BAD_DAY_RATE, 0.25),
  curve: intList(process.env.COT_BENCH_CURVE, [1, 10, 20, 50, 100]),
};
const dynamoModes = modeList(process.env.COT_BENCH_DYNAMO);

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

const startStack = (dynamo: DynamoMode): Promise<BenchStack> => {
  log(`starting the stack (DynamoDB Local ${dynamoLabel(dynamo)}): ${settings.workers} workers × concurrency ${settings.workerConcurrency}, first token ${settings.bedrock.firstTokenDelayMs} ms, ${settings.bedrock.tokenDelayMs} ms per token`);
  return startBenchStack({
    workers: settings.workers,
    workerConcurrency: settings.workerConcurrency,
    rateLimitPerMinute: 1_000_000,
    bedrock: settings.bedrock,
    user: 'bench',
    log,
    verbose: process.env.COT_BENCH_VERBOSE === '1',
    dynamo,
  });
};

async function main(): Promise<void> {
  const started = Date.now();
  const [firstMode, ...otherModes] = dynamoModes as [DynamoMode, ...DynamoMode[]];
  const bench = await startStack(firstMode);
  let results: BenchResults;
  try {
    results = await measure(bench);
  } finally {
    log('stopping the stack');
    await bench.stop();
  }
  // The curve again with DynamoDB Local otherwise: what its storage costs that DynamoDB in AWS would not.
  const otherCurves: { mode: DynamoMode; curve: CurvePoint[]; error?: string }[] = [];
  for (const mode of otherModes) {
    const other = await startStack(mode);
    const curve: CurvePoint[] = [];
    try {
      log('warming up (8 jobs)');
      await runConcurrent(other, benchQuestions(8));
      await scalingCurve(other, curve);
      otherCurves.push({ mode, curve });
    } catch (err) {
      // A load this mode cannot finish in time is a finding, not a reason to lose the rest.
      log(`the curve with DynamoDB Local ${dynamoLabel(mode)} stopped: ${(err as Error).message}`);
      otherCurves.push({ mode, curve, error: (err as Error).message });
    } finally {
      log('stopping the stack');
      await other.stop();
    }
  }

  const { figures, rows } = buildReport(results);
  const atShutdown = bench.problems.slice(results.problems.length);
  const { bedrock: b } = settings;
  process.stdout.write(
    `\nsimulated advisors: first token ${b.firstTokenDelayMs} ms, ${b.tokenDelayMs} ms per token; ${settings.workers} workers × concurrency ${settings.workerConcurrency}; ${os.availableParallelism()} cores\n\n`,
  );
  process.stdout.write(`DynamoDB Local ${dynamoLabel(firstMode)}:\n${formatRows(rows)}\n\n`);
  for (const { mode, curve, error } of otherCurves) {
    const stopped = error ? `stopped: ${error}\n` : '';
    process.stdout.write(`the scaling curve again, DynamoDB Local ${dynamoLabel(mode)}:\n${formatRows(curveRows(curve, settings.workers))}\n${stopped}\n`);
  }
  if (results.problems.length || atShutdown.length) {
    process.stdout.write(`service warnings/errors: ${results.problems.length} while measuring, ${atShutdown.length} while stopping (see latest.json)\n`);
  }
  const file = writeResults({
    at: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: { cores: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: process.platform },
    settings,
    dynamoModes,
    figures,
    otherCurves: otherCurves.map(({ mode, curve, error }) => ({ mode, error, curve: curveFigures(curve) })),
    rows,
    problems: { measuring: results.problems.slice(0, 50), stopping: atShutdown.slice(0, 50) },
  });
  process.stdout.write(`written to ${file} (${Math.round((Date.now() - started) / 1000)} s)\n`);
  process.stdout.write('the web app in Chromium (first-load size, time to a usable page, token → DOM delay): npm run bench:web\n');
}

/** Writes bench/results/latest.json (the directory is created here and kept out of git). */
function writeResults(data: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'latest.json');
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Runs every scenario in order; the POST /chat figures come last because their jobs are left running. */
async function measure(bench: BenchStack): Promise<BenchResults> {
  const questions = benchQuestions(settings.concurrentJobs);
  let pushNote = await pushAvailability(bench);
  if (pushNote) log(pushNote);

  // JIT, connection pools and the push path warm up before anything is measured.
  log('warming up (8 jobs)');
  await runConcurrent(bench, benchQuestions(8), pushNote ? 0 : settings.subscribersPerJob);

  log(`${settings.aloneJobs} jobs, one at a time`);
  const alone = await runAlone(bench, questions.slice(0, settings.aloneJobs));

  const concurrent: RunFigures[] = [];
  const pushed: RunFigures[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    log(`round ${round}/${settings.rounds}: ${settings.concurrentJobs} jobs at once`);
    concurrent.push(await runConcurrent(bench, questions));
    if (!pushNote) {
      log(`round ${round}/${settings.rounds}: ${settings.concurrentJobs} jobs at once, ${settings.subscribersPerJob} WebSocket clients each`);
      try {
        pushed.push(await runConcurrent(bench, questions, settings.subscribersPerJob));
      } catch (err) {
        if (!(err instanceof PushUnavailableError)) throw err;
        pushNote = `push path not available (${err.message})`;
        log(pushNote);
      }
    }
  }
  const curve: CurvePoint[] = [];
  try {
    await scalingCurve(bench, curve);
  } catch (err) {
    // The loads the machine could not finish in time are a finding: keep what was measured.
    log(`scaling curve stopped: ${(err as Error).message}`);
  }
  const measuredJobs = [alone, ...concurrent, ...pushed].flatMap((run) => run.jobs.map((j) => j.jobId));
  const finalSnapshots = await finalSnapshotBytes(bench, measuredJobs);

  let badDay;
  if (settings.badDayRate > 0) {
    log(`bad day: ${settings.concurrentJobs} jobs at once, ${Math.round(settings.badDayRate * 100)} % of model calls misbehave`);
    badDay = await runBadDay(bench, benchQuestions(settings.concurrentJobs).map((q) => `${q} (a bad day)`), settings.badDayRate);
  }

  log('POST /chat one at a time, then in a burst');
  const oneAtATime = await postBurst(bench, 20, 1);
  const burst = await postBurst(bench, settings.burst.total, settings.burst.concurrency);
  return { settings, alone, concurrent, pushed, pushNote, burst, oneAtATime, finalSnapshots, badDay, curve, problems: [...bench.problems] };
}

/** 1, 10, 20, 50, 100 … jobs at once (no WebSocket clients), one load after the other. */
async function scalingCurve(bench: BenchStack, curve: CurvePoint[] = []): Promise<CurvePoint[]> {
  for (const jobs of settings.curve) {
    log(`scaling curve: ${jobs} jobs at once`);
    curve.push({ jobs, run: await runConcurrent(bench, benchQuestions(jobs)) });
  }
  return curve;
}

/** undefined when a client can connect to the WebSocket API; otherwise why not. */
async function pushAvailability(bench: BenchStack): Promise<string | undefined> {
  try {
    const [client] = await openSubscribers(bench, 1);
    client?.close();
    return undefined;
  } catch (err) {
    return `push path not available (${(err as Error).message}); skipping the push figures`;
  }
}

function rate(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : fallback;
}

function intList(value: string | undefined, fallback: number[]): number[] {
  const list = (value ?? '').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  return list.length ? list : fallback;
}

function modeList(value: string | undefined): DynamoMode[] {
  const list = (value ?? '').split(',').filter((m): m is DynamoMode => m === 'disk' || m === 'memory');
  return list.length ? list : ['memory', 'disk'];
}

const dynamoLabel = (mode: DynamoMode): string => (mode === 'disk' ? 'on disk (-dbPath, as npm start)' : 'in memory (-inMemory)');

runBench('bench', main);
