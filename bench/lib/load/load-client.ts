/**
 * The load generator of `npm run load`, in a process of its own so its CPU is not the
 * stack's: autocannon sends POST /chat at a fixed rate (latencies corrected for coordinated
 * omission) while WebSocket clients subscribe to a share of the jobs it creates and follow
 * them until job.done. One step per run; the result is one JSON line on stdout.
 *
 *   node --import tsx bench/lib/load/load-client.ts '<LoadStep as JSON>'
 */
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { FrameDecoder } from '../../../services/shared/push/frames.js';
import type { ServerMessage } from '../../../services/shared/contracts/ws.js';

export interface LoadStep {
  apiUrl: string;
  wsUrl: string;
  token: string;
  /** POST /chat per second. */
  rate: number;
  durationS: number;
  connections: number;
  /** Every n-th job created gets a WebSocket subscriber. */
  subscribeEvery: number;
}

export interface LoadStepResult {
  rate: number;
  sent: number;
  accepted: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Requests answered per second. */
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  jobIds: string[];
  ws: { opened: number; refused: number; subscribedMsP50?: number; subscribedMsP99?: number; messages: number; done: number };
}

const quantile = (xs: number[], q: number): number | undefined => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};

async function run(step: LoadStep): Promise<LoadStepResult> {
  const jobIds: string[] = [];
  const ws: LoadStepResult['ws'] = { opened: 0, refused: 0, messages: 0, done: 0 };
  const subscribeMs: number[] = [];
  const sockets = new Set<WebSocket>();

  const follow = (jobId: string): void => {
    const url = new URL(step.wsUrl);
    url.searchParams.set('token', step.token);
    const socket = new WebSocket(url, { handshakeTimeout: 10_000 });
    sockets.add(socket);
    const frames = new FrameDecoder();
    let sentAt = 0;
    socket.on('open', () => {
      ws.opened++;
      sentAt = performance.now();
      socket.send(JSON.stringify({ action: 'subscribe', jobId, afterSeq: 0 }));
    });
    socket.on('error', () => undefined);
    socket.on('unexpected-response', () => void ws.refused++);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', (data: Buffer) => {
      for (const m of frames.decode(data.toString('utf8')) as ServerMessage[]) {
        ws.messages++;
        if (m.type === 'job.view' && sentAt) {
          subscribeMs.push(performance.now() - sentAt);
          sentAt = 0;
        }
        if (m.type === 'job.done') {
          ws.done++;
          socket.close();
        }
      }
    });
  };

  let created = 0;
  const result = await autocannon({
    url: step.apiUrl,
    connections: step.connections,
    overallRate: step.rate,
    duration: step.durationS,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/chat',
        headers: { authorization: `Bearer ${step.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'Should a team of six move from weekly to daily releases?', mode: 'quick' }),
        onResponse: (status: number, body: string) => {
          if (status !== 202) return;
          const { jobId } = JSON.parse(body) as { jobId: string };
          jobIds.push(jobId);
          if (created++ % step.subscribeEvery === 0) follow(jobId);
        },
      },
    ],
  });
  // Followers get a moment to hear their jobs end; the driver waits for the rest itself.
  await new Promise((r) => setTimeout(r, 2000));
  for (const s of sockets) s.terminate();
  return {
    rate: step.rate,
    sent: result.requests.sent,
    accepted: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    throughput: result.requests.average,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    jobIds,
    ws: { ...ws, subscribedMsP50: quantile(subscribeMs, 0.5), subscribedMsP99: quantile(subscribeMs, 0.99) },
  };
}

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: load-client.ts <LoadStep as JSON>\n');
  process.exit(2);
}
run(JSON.parse(arg) as LoadStep).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`load client failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
