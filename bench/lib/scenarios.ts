/**
 * The bench's scenarios against a running BenchStack: jobs one at a time, jobs all at
 * once (optionally watched by WebSocket subscribers), and a burst of POST /chat.
 */
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { JobStatus } from '../../services/shared/contracts/job.js';
import type { BenchStack } from './bench-stack.js';
import { cpuBetween, sampleCpu, type CpuUse } from './cpu.js';
import { criticalPathOf, overheadParts, type OverheadParts } from './critical-path.js';
import { tallySince, writeTotals, type Tally } from './dynamo-counter.js';
import { submitJob, transitionsOf, waitForTerminal, type Submitted } from './jobs.js';
import { tokenDelays } from './push-delay.js';
import { nowMs } from './stats.js';
import { Subscriber } from './subscribers.js';

export interface JobFigure {
  jobId: string;
  status: JobStatus;
  /** POST /chat sent → terminal transition committed. */
  latencyMs: number;
  criticalMs?: number;
  /** latency / critical path − 1. */
  overhead?: number;
  /** latency − critical path, by where it was spent. */
  parts?: OverheadParts;
  /** POST /chat sent → first transition (job.started) committed. */
  startMs: number;
  /** Model calls made for the job. */
  calls: number;
}

export interface PushFigures {
  clients: number;
  /** One per streamed chunk received by one client. */
  delaysMs: number[];
  /** One per streamed chunk posted to one client's connection: stand-in wrote it → the post reached the gateway. */
  toGatewayMs: number[];
  frames: number;
  bytes: number;
  deltaFrames: number;
  /** Streamed chunks of the clients' jobs: `delaysMs` has one entry for each that reached its client by step.delta. */
  chunksEmitted: number;
  /** Clients that never saw job.done, and error messages they received. */
  problems: string[];
}

export interface RunFigures {
  jobs: JobFigure[];
  /** First POST sent → last terminal transition. */
  wallMs: number;
  /** DynamoDB requests the services made during the run. */
  tally: Tally;
  /** Event-loop delay p99 of the bench process (it hosts the Bedrock stand-in, the gateway and the clients). */
  loopDelayP99Ms: number;
  /** CPU used by each part of the stack, and how busy the machine was, from submit to the last job's end. */
  cpu: CpuUse;
  push?: PushFigures;
}

const JOB_TIMEOUT_MS = 120_000;

/** Runs jobs one at a time, each after the previous one ended. */
export async function runAlone(bench: BenchStack, questions: readonly string[]): Promise<RunFigures> {
  return measured(bench, async () => {
    const submitted: Submitted[] = [];
    for (const question of questions) {
      const job = await submitJob(bench.stack.apiUrl, bench.token, { question });
      await waitForTerminal(bench.direct, bench.tables, [job.jobId], JOB_TIMEOUT_MS, 20);
      submitted.push(job);
    }
    return { submitted };
  });
}

/** Submits every question at once; with `subscribersPerJob` > 0 each job is watched over the WebSocket API. */
export async function runConcurrent(bench: BenchStack, questions: readonly string[], subscribersPerJob = 0): Promise<RunFigures> {
  return measured(bench, async () => {
    const clients = await openSubscribers(bench, questions.length * subscribersPerJob);
    const submitted = await Promise.all(
      questions.map(async (question, i) => {
        const job = await submitJob(bench.stack.apiUrl, bench.token, { question });
        for (const client of clients.slice(i * subscribersPerJob, (i + 1) * subscribersPerJob)) client.subscribe(job.jobId);
        return job;
      }),
    );
    return { submitted, clients };
  });
}

/** Opens `n` WebSocket clients; if any cannot connect, closes the others and rethrows. */
export async function openSubscribers(bench: BenchStack, n: number): Promise<Subscriber[]> {
  const opened = await Promise.allSettled(Array.from({ length: n }, () => Subscriber.open(bench.stack.wsUrl, bench.token)));
  const clients = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const client of clients) client.close();
    throw failed.reason;
  }
  return clients;
}

/** POSTs `total` questions, `concurrency` at a time; the latency of each (ms) and the failures. */
export async function postBurst(bench: BenchStack, total: number, concurrency: number): Promise<{ latenciesMs: number[]; failures: string[] }> {
  const latenciesMs: number[] = [];
  const failures: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      try {
        const job = await submitJob(bench.stack.apiUrl, bench.token, { question: `Burst question ${i}: is a quick answer enough here?`, mode: 'quick' });
        latenciesMs.push(job.answeredAt - job.sentAt);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { latenciesMs, failures };
}

/** Bytes of each job's final snapshot in the State table. */
export async function finalSnapshotBytes(bench: BenchStack, jobIds: readonly string[]): Promise<number[]> {
  const sizes: number[] = [];
  for (let i = 0; i < jobIds.length; i += 100) {
    const keys = jobIds.slice(i, i + 100).map((jobId) => ({ jobId }));
    const out = await bench.direct.send(
      new BatchGetCommand({ RequestItems: { [bench.tables.state]: { Keys: keys, ProjectionExpression: '#s', ExpressionAttributeNames: { '#s': 'snapshot' } } } }),
    );
    for (const item of out.Responses?.[bench.tables.state] ?? []) {
      if (typeof item.snapshot === 'string') sizes.push(Buffer.byteLength(item.snapshot));
    }
  }
  return sizes;
}

/** Runs `submit`, waits for every job (and subscriber) to finish and for DynamoDB writes to settle, then measures. */
async function measured(bench: BenchStack, submit: () => Promise<{ submitted: Submitted[]; clients?: Subscriber[] }>): Promise<RunFigures> {
  const before = bench.dynamo.read();
  const cpuBefore = sampleCpu(bench.pids());
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const { submitted, clients } = await submit();
  const statuses = await waitForTerminal(bench.direct, bench.tables, submitted.map((s) => s.jobId), JOB_TIMEOUT_MS);
  const cpu = cpuBetween(cpuBefore, sampleCpu(bench.pids()), availableParallelism());
  if (clients) await Promise.race([Promise.all(clients.map((c) => c.done)), new Promise((r) => setTimeout(r, 10_000))]);
  loop.disable();
  for (const client of clients ?? []) client.close();
  await writesSettled(bench);
  const tally = tallySince(before, bench.dynamo.read());

  const jobs = await Promise.all(submitted.map((s) => jobFigure(bench, s, statuses.get(s.jobId) ?? 'failed')));
  const firstSent = Math.min(...submitted.map((s) => s.sentAt));
  const lastEnd = Math.max(...jobs.map((j, i) => (submitted[i] as Submitted).sentAt + j.latencyMs));
  return {
    jobs,
    wallMs: lastEnd - firstSent,
    tally,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    cpu,
    push: clients ? pushFigures(bench, clients) : undefined,
  };
}

async function jobFigure(bench: BenchStack, submitted: Submitted, status: JobStatus): Promise<JobFigure> {
  const history = await transitionsOf(bench.direct, bench.tables, submitted.jobId);
  const calls = bench.bedrock.callsOf(submitted.jobId);
  const critical = criticalPathOf(calls);
  const endedAt = history.at(-1)?.at ?? NaN;
  const latencyMs = endedAt - submitted.sentAt;
  return {
    jobId: submitted.jobId,
    status,
    latencyMs,
    criticalMs: critical?.ms,
    overhead: critical ? latencyMs / critical.ms - 1 : undefined,
    parts: overheadParts(calls, submitted.sentAt, endedAt),
    startMs: (history[0]?.at ?? NaN) - submitted.sentAt,
    calls: calls.length,
  };
}

function pushFigures(bench: BenchStack, clients: readonly Subscriber[]): PushFigures {
  const figures: PushFigures = { clients: clients.length, delaysMs: [], toGatewayMs: [], frames: 0, bytes: 0, deltaFrames: 0, chunksEmitted: 0, problems: [] };
  for (const { figures: f } of clients) {
    figures.frames += f.frames;
    figures.bytes += f.bytes;
    figures.deltaFrames += f.deltaFrames;
    if (f.doneAt === undefined) figures.problems.push(`a client of job ${f.jobId ?? '?'} never received job.done`);
    figures.problems.push(...f.errors);
    if (!f.jobId) continue;
    const calls = bench.bedrock.callsOf(f.jobId);
    figures.delaysMs.push(...tokenDelays(calls, f.deltas));
    figures.chunksEmitted += calls.reduce((n, c) => n + c.emissions.length, 0);
  }
  // The same chunks as they reached the gateway, per connection (each job has several).
  for (const jobId of new Set(clients.flatMap((c) => (c.figures.jobId ? [c.figures.jobId] : [])))) {
    const calls = bench.bedrock.callsOf(jobId);
    for (const posted of bench.push.deltasOf(jobId).values()) figures.toGatewayMs.push(...tokenDelays(calls, posted));
  }
  return figures;
}

/** Waits until no DynamoDB write has been counted for a while (lease releases follow the terminal commit). */
async function writesSettled(bench: BenchStack, quietMs = 500, maxMs = 5_000): Promise<void> {
  const deadline = nowMs() + maxMs;
  let last = writeTotals(bench.dynamo.read()).requests;
  while (nowMs() < deadline) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = writeTotals(bench.dynamo.read()).requests;
    if (now === last) return;
    last = now;
  }
}
