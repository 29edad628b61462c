/**
 * A timing proxy in front of the WebSocket gateway's management endpoint (PostToConnection).
 * It notes when each post reached the gateway and which streamed characters it carried, so
 * the token → client delay splits into stand-in → gateway (the worker: stream, batching,
 * subscriber lookup, its post queue) and gateway → client. Its target is set once the stack
 * has started its gateway (the services are told the proxy's URL before that).
 */
import { forwardTo, listenOnLoopback } from './loopback-server.js';
import http from 'node:http';
import { FrameDecoder } from '../../services/shared/push/frames.js';
import type { DeltaArrival } from './subscribers.js';
import { nowMs } from './stats.js';

export interface PushProbe {
  /** For COT_WS_MANAGEMENT_ENDPOINT. */
  url: string;
  /** Where posts go from now on (the gateway's management endpoint). */
  target(url: string): void;
  /** step.delta messages that reached the gateway, by job and connection. */
  deltasOf(jobId: string): Map<string, DeltaArrival[]>;
  /** Posts that reached the gateway, and how long the gateway took to answer them (ms). */
  posts(): { count: number; answerMs: number[] };
  close(): Promise<void>;
}

export async function startPushProbe(): Promise<PushProbe> {
  let upstream: URL | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const byJob = new Map<string, Map<string, DeltaArrival[]>>();
  const answerMs: number[] = [];
  let count = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = nowMs();
      const body = Buffer.concat(chunks);
      if (req.method === 'POST') note(req.url ?? '', body, at);
      if (!upstream) return void res.writeHead(503).end();
      forwardTo(upstream, agent, req, body, res, () => void answerMs.push(nowMs() - at), `${upstream.pathname.replace(/\/$/, '')}${req.url ?? ''}`);
    });
  });

  const note = (path: string, body: Buffer, at: number): void => {
    count++;
    const connectionId = decodeURIComponent(path.split('/@connections/')[1] ?? '');
    // One decoder per post: a post carries whole messages (chunked ones are not step.delta).
    for (const message of new FrameDecoder().decode(body.toString('utf8'))) {
      if (message.type !== 'step.delta') continue;
      const job = byJob.get(message.jobId) ?? new Map<string, DeltaArrival[]>();
      byJob.set(message.jobId, job);
      const list = job.get(connectionId) ?? [];
      job.set(connectionId, list);
      list.push({ step: `${message.stepId}#${message.attempt}`, offset: message.offset, end: message.offset + message.text.length, at });
    }
  };

  const loopback = await listenOnLoopback(server, agent);
  return {
    url: loopback.url,
    target: (url) => void (upstream = new URL(url)),
    deltasOf: (jobId) => byJob.get(jobId) ?? new Map(),
    posts: () => ({ count, answerMs: [...answerMs] }),
    close: () => loopback.close(),
  };
}
