/**
 * `npm run bench:cancel`: how long a cancel takes, measured from the outside. The whole local
 * stack (2 workers, the heartbeat set to 10 s) runs jobs whose advisors stall
 * mid-answer (the stand-in's `stall` fault) so every cancel meets calls in flight; each job
 * is cancelled once all three advisors are streaming. Prints, from the 202 of the cancel:
 * until the stand-in saw the last in-flight call go away (abort), and until the worker
 * committed the job cancelled (the job's `updatedAt`). Goal: both within 2 s. Asserts nothing.
 *
 * Environment: COT_BENCH_CANCEL_JOBS (default 20), COT_BENCH_CANCEL_AT_ONCE (default 4).
 */
import { startLocalStack, type LocalStack } from '../services/local/stack.js';
import { BedrockControl } from '../services/local/bedrock/control-client.js';
import { getAccessToken } from '../services/local/oidc/token-client.js';
import { isTerminal, type JobView } from '../services/shared/contracts/job.js';
import { sleep } from '../services/shared/sleep.js';
import { formatRows, type Row } from './lib/report.js';
import { nowMs, summarise, type Summary } from './lib/stats.js';
import { positiveInt, runBench } from './lib/cli.js';

const JOBS = positiveInt(process.env.COT_BENCH_CANCEL_JOBS, 20);
const AT_ONCE = positiveInt(process.env.COT_BENCH_CANCEL_AT_ONCE, 4);
const GOAL_MS = 2000;

const log = (line: string): void => void process.stderr.write(`[bench:cancel] ${line}\n`);

interface Sample {
  abortMs: number;
  cancelledMs: number;
}

async function main(): Promise<void> {
  log('starting the stack (2 workers, heartbeat 10 s)');
  const stack = await startLocalStack({
    workers: 2,
    persist: false,
    tableSuffix: `cancel${Date.now().toString(36)}`,
    baseEnv: withoutStackVariables(process.env),
    bedrock: { firstTokenDelayMs: 300, tokenDelayMs: 5 },
    // A slow heartbeat (and a lease and visibility it fits), so the cancel watch is what is measured.
    env: { COT_RATE_LIMIT_PER_MINUTE: '100000', COT_HEARTBEAT_SECONDS: '10', COT_LEASE_SECONDS: '30', COT_VISIBILITY_SECONDS: '30' },
    readyTimeoutMs: 300_000,
  });
  try {
    const control = new BedrockControl(stack.bedrock.controlUrl ?? '');
    await control.inject({ match: { kind: 'advise' }, type: 'stall', times: -1 });
    const token = await getAccessToken({ issuer: stack.oidc.issuer, user: 'bench', audience: stack.oidc.audience });
    const samples: Sample[] = [];
    for (let i = 0; i < JOBS; i += AT_ONCE) {
      const batch = Array.from({ length: Math.min(AT_ONCE, JOBS - i) }, (_, n) => cancelOne(stack, control, token, i + n));
      samples.push(...(await Promise.all(batch)));
      log(`${samples.length}/${JOBS} jobs cancelled`);
    }
    report(samples);
  } finally {
    await stack.stop();
  }
}

/** Submits a job, cancels it once its three advisors are streaming, and times what follows. */
async function cancelOne(stack: LocalStack, control: BedrockControl, token: string, n: number): Promise<Sample> {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.apiUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  const posted = await api('/chat', { method: 'POST', body: JSON.stringify({ question: `Cancel bench ${n}: should we pause the project?` }) });
  const { jobId } = (await posted.json()) as { jobId: string };
  await until(async () => (await control.calls({ jobId, kind: 'advise' })).filter((c) => c.outcome === 'pending').length === 3);
  const res = await api(`/jobs/${jobId}/cancel`, { method: 'POST' });
  const acceptedAt = nowMs();
  if (res.status !== 202) throw new Error(`cancel of ${jobId} answered ${res.status}`);
  let view: JobView | undefined;
  await until(async () => {
    view = (await (await api(`/jobs/${jobId}`)).json()) as JobView;
    return isTerminal(view.status);
  });
  if (view?.status !== 'cancelled') throw new Error(`job ${jobId} ended ${view?.status}, not cancelled`);
  const calls = await control.calls({ jobId });
  const lastAbort = Math.max(...calls.map((c) => c.endedAt ?? Number.NaN));
  return { abortMs: lastAbort - acceptedAt, cancelledMs: Date.parse(view.updatedAt) - acceptedAt };
}

function report(samples: Sample[]): void {
  const row = (figure: string, s: Summary): Row => ({
    figure,
    value: `p50 ${fmt(s.p50)} / p99 ${fmt(s.p99)} / max ${fmt(s.max)} ms (${s.n} jobs)`,
    goal: `≤ ${GOAL_MS} ms`,
    met: (s.max ?? Infinity) <= GOAL_MS,
  });
  const rows = [
    row('202 → last in-flight call aborted', summarise(samples.map((s) => s.abortMs))),
    row('202 → job committed cancelled', summarise(samples.map((s) => s.cancelledMs))),
  ];
  process.stdout.write(`\n${formatRows(rows)}\n`);
}

const fmt = (ms: number | undefined): string => (ms === undefined ? '-' : String(Math.round(ms)));

async function until(probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

/** The shell's environment without the SDK endpoint and COT_* variables, so the bench uses its own stand-ins. */
function withoutStackVariables(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('AWS_ENDPOINT_URL') && !k.startsWith('COT_')));
}

runBench('bench:cancel', main);
