/**
 * A WebSocket client that follows one job the way a flaky phone would: it subscribes, drops
 * the connection at random moments, reconnects and resubscribes with the last seq it holds
 * without a gap (`afterSeq`), until `job.done`. As docs/websocket.md asks of a client, a gap
 * still open at `job.done` (a transition whose worker died between its commit and its push)
 * is filled by subscribing again from that seq. It keeps every `job.transition` it received,
 * duplicates included, for the history checker.
 */
import WebSocket from 'ws';
import type { JobStatus, TransitionRecord } from '../../../services/shared/contracts/job.js';
import type { ServerMessage } from '../../../services/shared/contracts/ws.js';
import { FrameDecoder } from '../../../services/shared/push/frames.js';
import type { ClientTranscript } from '../../../test/support/chaos/history-checker.js';
import type { Rng } from './rng.js';

export interface FollowerOptions {
  wsUrl: string;
  token: string;
  jobId: string;
  client: string;
  rng: Rng;
  /** Mean time a connection stays up before the client drops it. */
  meanDropMs: number;
}

export class Follower {
  readonly transcript: ClientTranscript;
  /** Connections dropped on purpose. */
  drops = 0;
  /** Subscriptions made again because job.done came with a transition missing. */
  gapFills = 0;
  private socket?: WebSocket;
  private dropTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private finished = false;
  private readonly seqs = new Set<number>();
  private resolveEnded!: () => void;
  /** Resolves on job.done, or when the driver gives up on the client. */
  readonly ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));

  constructor(private readonly opts: FollowerOptions) {
    this.transcript = { client: opts.client, jobId: opts.jobId, subscriptions: 0, received: [] };
  }

  start(): void {
    this.connect();
  }

  /** Stops following (the job ended long ago and no job.done came, or the run is over). */
  stop(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.dropTimer);
    clearTimeout(this.retryTimer);
    this.socket?.terminate();
    this.resolveEnded();
  }

  /** The highest seq held with every seq before it. */
  private afterSeq(): number {
    let n = 0;
    while (this.seqs.has(n + 1)) n++;
    return n;
  }

  private connect(): void {
    if (this.finished) return;
    const url = new URL(this.opts.wsUrl);
    url.searchParams.set('token', this.opts.token);
    const socket = new WebSocket(url, { handshakeTimeout: 10_000 });
    this.socket = socket;
    const frames = new FrameDecoder();
    socket.on('open', () => {
      this.transcript.subscriptions++;
      socket.send(JSON.stringify({ action: 'subscribe', jobId: this.opts.jobId, afterSeq: this.afterSeq() }));
      this.dropTimer = setTimeout(() => this.drop(socket), this.opts.rng.exponential(this.opts.meanDropMs));
    });
    socket.on('message', (data: Buffer) => {
      for (const message of frames.decode(data.toString('utf8'))) this.onMessage(message);
    });
    // Refused (e.g. the API is busy), dropped by us or by the gateway: come back shortly.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(this.dropTimer);
      if (this.socket === socket && !this.finished) this.retryTimer = setTimeout(() => this.connect(), this.opts.rng.between(0, 300));
    });
  }

  private drop(socket: WebSocket): void {
    if (this.finished || this.socket !== socket) return;
    this.drops++;
    socket.terminate();
  }

  private onMessage(message: ServerMessage): void {
    if (message.type === 'job.transition' && message.jobId === this.opts.jobId) {
      this.transcript.received.push(message.transition as TransitionRecord);
      this.seqs.add(message.transition.seq);
    } else if (message.type === 'job.done' && message.jobId === this.opts.jobId) {
      if (this.afterSeq() < message.seq && this.socket) {
        this.gapFills++;
        // The close handler reconnects and subscribes with afterSeq: the backlog fills the gap.
        this.socket.terminate();
        return;
      }
      this.transcript.done = message.status as JobStatus;
      this.stop();
    }
  }
}
