/**
 * npm run chaos: many jobs through the whole local stack while workers are SIGKILLed,
 * SIGSTOPped and SIGTERMed at random moments (and right after a model answered, and during
 * a commit), the Bedrock stand-in throttles, fails, cuts streams and starts slowly, and
 * clients drop and resubscribe; then the history checker's verdict and the recovery times.
 * Exits 1 when a guarantee was broken. See bench/README.md.
 *
 *   COT_CHAOS_JOBS=1000 (default)  COT_CHAOS_SEED=<n> (replay)  COT_CHAOS_VERBOSE=1
 *   any COT_* service setting (e.g. COT_LEASE_SECONDS=10) is passed to the services
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatReport } from './lib/chaos/report.js';
import { seedFrom } from './lib/chaos/rng.js';
import { DEFAULT_CHAOS_SETTINGS, runChaos } from './lib/chaos/run-chaos.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/** COT_* variables of the shell meant for the services (not the driver's own). */
function serviceEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('COT_') && !e[0].startsWith('COT_CHAOS_') && e[1] !== undefined),
  );
}

async function main(): Promise<void> {
  const jobs = Number(process.env.COT_CHAOS_JOBS ?? 1000);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`COT_CHAOS_JOBS must be a positive integer, not "${process.env.COT_CHAOS_JOBS}"`);
  const seed = seedFrom(process.env.COT_CHAOS_SEED);
  const verbose = process.env.COT_CHAOS_VERBOSE === '1';
  process.stderr.write(`[chaos] seed ${seed}\n`);
  const serviceLog = join(RESULTS_DIR, 'chaos-services.log');
  const { report, evidence } = await runChaos({ ...DEFAULT_CHAOS_SETTINGS, jobs, seed, serviceEnv: serviceEnv(), serviceLog }, (line) => {
    if (verbose || !line.startsWith('fault: ')) process.stderr.write(`[chaos] ${line}\n`);
  });
  process.stdout.write(`\n${formatReport(report)}\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'chaos-latest.json');
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), report, faults: evidence.faults }, null, 2)}\n`);
  process.stdout.write(`written to ${file}\n`);
  process.exitCode = report.verdict.ok ? 0 : 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
