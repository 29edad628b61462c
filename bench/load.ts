/**
 * npm run load: POST /chat and WebSocket subscriptions at rising fixed rates, from a
 * separate process (autocannon, bench/lib/load/load-client.ts), against the whole local
 * stack (startLocalStack, as npm start: API, 2 workers, DynamoDB Local, fauxqs, the
 * gateway, the Bedrock stand-in at its default pace). Prints, per rate: throughput, latency
 * percentiles, errors, the subscribers' figures and the CPU of each process; then the knee
 * (the first rate whose POST /chat p99 passes 100 ms), the busiest process there, and how
 * many of the jobs created ended. See bench/README.md.
 *
 *   COT_LOAD_RATES=10,20,40,80,160,320 (POST /chat per second)  COT_LOAD_SECONDS=10 (per rate)
 */
import os from 'node:os';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTerminal } from '../services/shared/contracts/job.js';
import { getAccessToken } from '../services/local/oidc/token-client.js';
import { REPO_ROOT, startLocalStack } from '../services/local/stack.js';
import { isolatedBaseEnv } from '../test/support/isolation.js';
import { cpuBetween, sampleCpu, type CpuUse } from './lib/cpu.js';
import { statusesOf } from './lib/chaos/evidence.js';
import type { LoadStep, LoadStepResult } from './lib/load/load-client.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const CLIENT = fileURLToPath(new URL('./lib/load/load-client.ts', import.meta.url));
const KNEE_P99_MS = 100;

const log = (line: string): void => void process.stderr.write(`[load] ${line}\n`);

function numbers(value: string | undefined, fallback: number[]): number[] {
  const list = (value ?? '').split(',').map(Number).filter((n) => Number.isFinite(n) && n > 0);
  return list.length ? list : fallback;
}

/** Runs one step in a child process, sampling every process's CPU over its sending time. */
async function runStep(step: LoadStep, pids: () => Record<string, number[]>): Promise<{ result: LoadStepResult; cpu: CpuUse }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, JSON.stringify(step)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const all = () => ({ ...pids(), 'load client': [child.pid ?? -1] });
  const before = sampleCpu(all());
  let cpu: CpuUse | undefined;
  // Sampled when the sending ends, while the client still lives (it lingers for its subscribers).
  const timer = setTimeout(() => (cpu = cpuBetween(before, sampleCpu(all()), os.availableParallelism())), step.durationS * 1000 + 500);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`the load client exited with ${code}`);
  return { result: JSON.parse(out.trim().split('\n').pop() ?? '') as LoadStepResult, cpu: cpu ?? cpuBetween(before, sampleCpu(all()), os.availableParallelism()) };
}

const ms = (n: number | undefined): string => (n === undefined ? '—' : `${Math.round(n)}`);
const cores = (n: number | undefined): string => (n === undefined ? '—' : n.toFixed(2));

async function main(): Promise<void> {
  const rates = numbers(process.env.COT_LOAD_RATES, [10, 20, 40, 80, 160, 320]);
  const durationS = numbers(process.env.COT_LOAD_SECONDS, [10])[0]!;
  const started = Date.now();
  log('starting the stack (2 workers, the Bedrock stand-in at its default pace)');
  const stack = await startLocalStack({
    workers: 2,
    persist: false,
    tableSuffix: `load${Date.now().toString(36)}`,
    baseEnv: isolatedBaseEnv(),
    env: { COT_RATE_LIMIT_PER_MINUTE: '100000000', COT_WS_MAX_CONNECTIONS_PER_USER: '100000', COT_LOG_LEVEL: 'info', COT_SHUTDOWN_GRACE_SECONDS: '5' },
    log: (line) => log(`stack: ${line}`),
  });
  const rows: { result: LoadStepResult; cpu: CpuUse }[] = [];
  const jobIds: string[] = [];
  let completion: { created: number; ended: number; waitedS: number } | undefined;
  try {
    const token = await getAccessToken({ issuer: stack.oidc.issuer, audience: stack.oidc.audience, user: 'load' });
    const pids = (): Record<string, number[]> => {
      const p = stack.pids();
      // The driver hosts the stand-ins (Bedrock, fauxqs, the gateway, the OpenID provider), as npm start's launcher does.
      return { api: [p.api], workers: p.workers, dynamodb: p.dynamodb ? [p.dynamodb] : [], 'stand-ins': [process.pid] };
    };
    log('warming up: 5 s at 5/s, not counted (JIT, token keys, connection pools)');
    const warm = await runStep({ apiUrl: stack.apiUrl, wsUrl: stack.wsUrl, token, rate: 5, durationS: 5, connections: 10, subscribeEvery: 5 }, pids);
    jobIds.push(...warm.result.jobIds);
    let knee: number | undefined;
    for (const rate of rates) {
      log(`POST /chat at ${rate}/s for ${durationS} s, a subscriber for every 5th job`);
      const row = await runStep({ apiUrl: stack.apiUrl, wsUrl: stack.wsUrl, token, rate, durationS, connections: Math.max(10, Math.min(200, rate)), subscribeEvery: 5 }, pids);
      rows.push(row);
      jobIds.push(...row.result.jobIds);
      if (knee === undefined && row.result.latencyMs.p99 > KNEE_P99_MS) knee = rate;
      // One step past the knee shows the slope; beyond that only the queue grows.
      if (knee !== undefined && rate > knee) break;
    }
    log(`waiting (at most 120 s) for the ${jobIds.length} jobs created to end`);
    const waitStart = Date.now();
    let ended = 0;
    while (Date.now() - waitStart < 120_000) {
      ended = [...(await statusesOf(stack.aws.doc, stack.tables, jobIds)).values()].filter(isTerminal).length;
      if (ended === jobIds.length) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    completion = { created: jobIds.length, ended, waitedS: (Date.now() - waitStart) / 1000 };
  } finally {
    log('stopping the stack');
    await stack.stop();
  }

  const header = ['rate/s', 'sent', '202', 'non-2xx', 'errors', 'timeouts', 'answered/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'ws subscribed p50/p99 ms', 'CPU api', 'workers', 'dynamodb', 'stand-ins', 'load client', 'machine busy'];
  const lines = rows.map(({ result: r, cpu }) => [
    r.rate,
    r.sent,
    r.accepted,
    r.non2xx,
    r.errors,
    r.timeouts,
    r.throughput.toFixed(1),
    ms(r.latencyMs.p50),
    ms(r.latencyMs.p90),
    ms(r.latencyMs.p99),
    ms(r.latencyMs.max),
    `${ms(r.ws.subscribedMsP50)}/${ms(r.ws.subscribedMsP99)} (${r.ws.opened} clients, ${r.ws.refused} refused)`,
    cores(cpu.coresByProcess.api),
    cores(cpu.coresByProcess.workers),
    cores(cpu.coresByProcess.dynamodb),
    cores(cpu.coresByProcess['stand-ins']),
    cores(cpu.coresByProcess['load client']),
    cpu.machineBusy === undefined ? '—' : `${Math.round(cpu.machineBusy * 100)} %`,
  ]);
  process.stdout.write(`\n${[header, ...lines].map((l) => `| ${l.join(' | ')} |`).join('\n')}\n\n`);
  const kneeRow = rows.find((r) => r.result.latencyMs.p99 > KNEE_P99_MS);
  if (kneeRow) {
    const [busiest, used] = Object.entries(kneeRow.cpu.coresByProcess).sort((a, b) => b[1] - a[1])[0] ?? ['?', 0];
    const below = rows[rows.indexOf(kneeRow) - 1];
    process.stdout.write(
      `knee: POST /chat p99 passes ${KNEE_P99_MS} ms at ${kneeRow.result.rate}/s (${ms(kneeRow.result.latencyMs.p99)} ms)${below ? `; ${ms(below.result.latencyMs.p99)} ms at ${below.result.rate}/s` : ''}\n`,
    );
    process.stdout.write(
      `busiest there: ${busiest} at ${cores(used)} cores of ${os.availableParallelism()}, machine ${kneeRow.cpu.machineBusy === undefined ? '?' : `${Math.round(kneeRow.cpu.machineBusy * 100)} %`} busy\n`,
    );
  } else {
    process.stdout.write(`no knee: POST /chat p99 stayed under ${KNEE_P99_MS} ms up to ${rows[rows.length - 1]?.result.rate}/s\n`);
  }
  if (completion) process.stdout.write(`jobs: ${completion.ended} of ${completion.created} created ended (waited ${completion.waitedS.toFixed(0)} s after the last step)\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'load-latest.json');
  writeFileSync(file, `${JSON.stringify({ at: new Date(started).toISOString(), cores: os.availableParallelism(), rows: rows.map((r) => ({ ...r, result: { ...r.result, jobIds: r.result.jobIds.length } })), completion }, null, 2)}\n`);
  process.stdout.write(`written to ${file} (${Math.round((Date.now() - started) / 1000)} s)\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`load failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
