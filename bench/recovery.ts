/**
 * `npm run bench:recovery`: how long a job sits idle when its worker goes away, at the
 * service's default lease, heartbeat, visibility and poll settings. The whole local stack
 * runs 3 workers; each sample starts a job, then
 *   - SIGKILL: once two advisors have answered and the third hangs, kills the lease holder;
 *     measured from the kill to the job's next commit (by another worker);
 *   - SIGTERM: once the three advisors are streaming, stops the lease holder, which lets them
 *     finish, commits them and hands the job over; measured from the handing-over worker's
 *     last commit to the next worker's first commit (the time the job sat idle between them).
 * A replacement worker is started after each fault. Goals (issue 13): SIGKILL p99 ≤ 15 s,
 * SIGTERM p99 ≤ 5 s. Asserts nothing.
 *
 * Environment: COT_BENCH_RECOVERY_JOBS (samples per fault kind, default 5).
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalStack, type LocalStack, type WorkerProcess } from '../services/local/stack.js';
import { BedrockControl } from '../services/local/bedrock/control-client.js';
import { getAccessToken } from '../services/local/oidc/token-client.js';
import type { StateItem, TransitionRecord } from '../services/shared/contracts/job.js';
import { formatRows, type Row } from './lib/report.js';
import { nowMs, summarise, type Summary } from './lib/stats.js';

const SAMPLES = positiveInt(process.env.COT_BENCH_RECOVERY_JOBS, 5);
const GOAL_MS = { SIGKILL: 15_000, SIGTERM: 5_000 } as const;
type Fault = keyof typeof GOAL_MS;

const log = (line: string): void => void process.stderr.write(`[bench:recovery] ${line}\n`);

async function main(): Promise<void> {
  log('starting the stack (3 workers, default lease, heartbeat, visibility and poll)');
  const stack = await startLocalStack({
    workers: 3,
    persist: false,
    tableSuffix: `recovery${Date.now().toString(36)}`,
    baseEnv: withoutStackVariables(process.env),
    bedrock: { firstTokenDelayMs: 300, tokenDelayMs: 2 },
    env: { COT_RATE_LIMIT_PER_MINUTE: '100000' },
    readyTimeoutMs: 300_000,
  });
  try {
    const control = new BedrockControl(stack.bedrock.controlUrl ?? '');
    const token = await getAccessToken({ issuer: stack.oidc.issuer, user: 'bench', audience: stack.oidc.audience });
    const samples: Record<Fault, number[]> = { SIGKILL: [], SIGTERM: [] };
    for (let i = 0; i < SAMPLES; i++) {
      for (const fault of ['SIGKILL', 'SIGTERM'] as const) {
        const ms = await sample(stack, control, token, fault, i);
        samples[fault].push(ms);
        log(`${fault} ${i + 1}/${SAMPLES}: next commit after ${Math.round(ms)} ms`);
      }
    }
    report(samples);
  } finally {
    await stack.stop();
  }
}

async function sample(stack: LocalStack, control: BedrockControl, token: string, fault: Fault, n: number): Promise<number> {
  if (fault === 'SIGKILL') await control.inject({ match: { step: 'advise.llama' }, type: 'timeout', times: 1 });
  await control.configure({ firstTokenDelayMs: fault === 'SIGTERM' ? 1500 : 300 });
  const posted = await fetch(`${stack.apiUrl}/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ question: `Recovery bench ${n}: should we move the office?`, mode: 'quick' }),
  });
  const { jobId } = (await posted.json()) as { jobId: string };
  const ready =
    fault === 'SIGKILL'
      ? (s: Record<string, { status: string }>) => s['advise.claude']?.status === 'succeeded' && s['advise.mistral']?.status === 'succeeded' && s['advise.llama']?.status === 'running'
      : (s: Record<string, { status: string }>) => ['claude', 'mistral', 'llama'].every((a) => s[`advise.${a}`]?.status === 'running');
  const before = await until(async () => {
    const state = await stateOf(stack, jobId);
    return state?.leaseOwner && ready(stepsOf(state)) ? state : undefined;
  });
  const holder = workerOf(stack, before.leaseOwner!);
  const signalledAt = nowMs();
  holder.kill(fault);
  // Calls made from now on answer at once: the figure is the time without a worker, not model time.
  await control.configure({ firstTokenDelayMs: 10 });
  await holder.exited;
  const replacement = stack.spawnWorker();
  // The first commit of the run that took the job over (a later epoch).
  const taken = await until(async () => {
    const state = await stateOf(stack, jobId);
    return state && state.epoch > before.epoch && state.version > (state.versionAtAcquire ?? 0) ? state : undefined;
  }, 300_000);
  const history = await transitionsOf(stack, jobId);
  const first = history.find((t) => t.seq === (taken.versionAtAcquire ?? 0) + 1)!;
  const last = history.find((t) => t.seq === taken.versionAtAcquire);
  await replacement;
  await until(async () => ((await fetchStatus(stack, token, jobId)) === 'succeeded' ? true : undefined), 300_000);
  return fault === 'SIGKILL' || !last ? first.at - signalledAt : first.at - last.at;
}

function workerOf(stack: LocalStack, owner: string): WorkerProcess {
  const pid = Number(owner.split(':')[1]);
  const worker = stack.workers.find((w) => w.pid === pid && !w.hasExited());
  if (!worker) throw new Error(`no live worker with pid ${pid}`);
  return worker;
}

async function stateOf(stack: LocalStack, jobId: string): Promise<StateItem | undefined> {
  const out = await stack.aws.doc.send(new GetCommand({ TableName: stack.tables.state, Key: { jobId }, ConsistentRead: true }));
  return out.Item as StateItem | undefined;
}

function stepsOf(state: StateItem): Record<string, { status: string }> {
  return state.snapshot ? (JSON.parse(state.snapshot) as { context: { steps: Record<string, { status: string }> } }).context.steps : {};
}

async function transitionsOf(stack: LocalStack, jobId: string): Promise<TransitionRecord[]> {
  const out = await stack.aws.doc.send(
    new QueryCommand({ TableName: stack.tables.transitions, KeyConditionExpression: 'jobId = :j', ExpressionAttributeValues: { ':j': jobId }, ConsistentRead: true }),
  );
  return (out.Items ?? []) as TransitionRecord[];
}

async function fetchStatus(stack: LocalStack, token: string, jobId: string): Promise<string> {
  const res = await fetch(`${stack.apiUrl}/jobs/${jobId}`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { status: string }).status;
}

function report(samples: Record<Fault, number[]>): void {
  const row = (fault: Fault, figure: string, s: Summary): Row => ({
    figure,
    value: `p50 ${fmt(s.p50)} / p99 ${fmt(s.p99)} / max ${fmt(s.max)} ms (${s.n} jobs)`,
    goal: `p99 ≤ ${GOAL_MS[fault]} ms`,
    met: (s.p99 ?? Infinity) <= GOAL_MS[fault],
  });
  const rows = [
    row('SIGKILL', 'SIGKILL → next commit', summarise(samples.SIGKILL)),
    row('SIGTERM', 'SIGTERM hand-over → next commit', summarise(samples.SIGTERM)),
  ];
  process.stdout.write(`\n${formatRows(rows)}\n`);
}

const fmt = (ms: number | undefined): string => (ms === undefined ? '-' : String(Math.round(ms)));

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The shell's environment without the SDK endpoint and COT_* variables, so the bench uses its own stand-ins. */
function withoutStackVariables(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('AWS_ENDPOINT_URL') && !k.startsWith('COT_')));
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:recovery failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
