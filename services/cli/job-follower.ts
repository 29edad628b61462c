/**
 * Follows one job over the WebSocket API: subscribes, applies transitions once and in
 * order (dropping duplicates by seq, healing gaps by resubscribing), joins chunked
 * frames, keeps streamed text per step, and reconnects with its last seq when the socket
 * drops. Resolves when the job is done and every transition up to its end was applied.
 * The protocol itself is contracts/ws-client.ts (shared with the web app); this class is
 * the socket around it and turns what changed into FollowEvents.
 */
import WebSocket from 'ws';
import type { JobStatus, JobView, TransitionRecord } from '../shared/contracts/job.js';
import type { ClientMessage, ServerMessage } from '../shared/contracts/ws.js';
import type { JobStream } from '../shared/contracts/ws-client.js';
import { FrameDecoder, applyMessage, createJobStream, gapAfter, isComplete, reconnectDelayMs, streamKey, subscribeMessage } from '../shared/contracts/ws-client.js';

export type FollowEvent =
  | { type: 'view'; view: JobView }
  | { type: 'transition'; transition: TransitionRecord }
  | { type: 'delta'; stepId: string; attempt: number; text: string; full: string }
  | { type: 'reconnecting'; attempt: number; afterSeq: number }
  | { type: 'error'; code: string; message: string };

export interface FollowOptions {
  wsUrl: string;
  jobId: string;
  /** Called before every (re)connect, so an expiring token can be refreshed. */
  token: () => Promise<string>;
  onEvent?: (event: FollowEvent) => void;
  /** How long a gap in seq may stay open before the follower resubscribes. */
  gapTimeoutMs?: number;
  maxReconnects?: number;
}

export interface FollowResult {
  status: JobStatus;
  reason?: string;
  /** Every transition applied, in seq order, without duplicates. */
  transitions: TransitionRecord[];
  /** Streamed text per `<stepId>#<attempt>`. */
  texts: Map<string, string>;
  reconnects: number;
}

/** Refusals that no reconnect can fix. */
const FATAL_CODES = new Set(['not_found', 'forbidden', 'unauthorized']);

export class JobFollower {
  private stream: JobStream;
  private readonly frames = new FrameDecoder();
  private socket?: WebSocket;
  private reconnects = 0;
  private gapTimer?: NodeJS.Timeout;
  private closedByUs = false;
  private settle!: { resolve: (r: FollowResult) => void; reject: (e: Error) => void };

  constructor(private readonly options: FollowOptions) {
    this.stream = createJobStream(options.jobId);
  }

  /** Follows the job to its end. */
  follow(): Promise<FollowResult> {
    const result = new Promise<FollowResult>((resolve, reject) => (this.settle = { resolve, reject }));
    void this.connect();
    return result;
  }

  /** Closes the socket (the job goes on). */
  close(): void {
    this.closedByUs = true;
    clearTimeout(this.gapTimer);
    this.socket?.close();
  }

  /** Drops the connection as a network failure would (for tests and `--chaos`). */
  dropConnection(): void {
    this.socket?.terminate();
  }

  get lastSeq(): number {
    return this.stream.seq;
  }

  private async connect(): Promise<void> {
    let token: string;
    try {
      token = await this.options.token();
    } catch (err) {
      return this.fail(new Error(`could not get a token: ${(err as Error).message}`));
    }
    const url = new URL(this.options.wsUrl);
    url.searchParams.set('token', token);
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.on('open', () => this.send(subscribeMessage(this.stream)));
    socket.on('message', (data) => this.onFrame(String(data)));
    socket.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      if (status === 401 || status === 403) this.fail(new Error(`the WebSocket API refused the connection (${status}): sign in again`));
      socket.terminate();
    });
    socket.on('error', () => {
      /* followed by close */
    });
    socket.on('close', () => {
      if (this.socket !== socket || this.closedByUs || isComplete(this.stream)) return;
      void this.reconnect();
    });
  }

  private async reconnect(): Promise<void> {
    const max = this.options.maxReconnects ?? 20;
    if (this.reconnects >= max) return this.fail(new Error(`lost the connection ${max} times; giving up`));
    this.reconnects++;
    this.options.onEvent?.({ type: 'reconnecting', attempt: this.reconnects, afterSeq: this.stream.seq });
    await new Promise((r) => setTimeout(r, reconnectDelayMs(this.reconnects)));
    if (!this.closedByUs) await this.connect();
  }

  private send(message: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private onFrame(raw: string): void {
    for (const message of this.frames.decode(raw)) this.onMessage(message);
  }

  private onMessage(message: ServerMessage): void {
    if ('jobId' in message && message.jobId && message.jobId !== this.options.jobId) return;
    const prev = this.stream;
    const next = applyMessage(prev, message);
    this.stream = next;
    const emit = this.options.onEvent;
    if (message.type === 'job.view') emit?.({ type: 'view', view: message.view });
    for (const transition of next.transitions.slice(prev.transitions.length)) emit?.({ type: 'transition', transition });
    if (message.type === 'step.delta') {
      const key = streamKey(message.stepId, message.attempt);
      const before = prev.texts[key] ?? '';
      const full = next.texts[key] ?? '';
      // Only new text is reported: a resend after a reconnect adds nothing twice.
      if (full !== before) emit?.({ type: 'delta', stepId: message.stepId, attempt: message.attempt, text: full.startsWith(before) ? full.slice(before.length) : full, full });
    }
    if (message.type === 'error') {
      emit?.({ type: 'error', code: message.code, message: message.message });
      if (FATAL_CODES.has(message.code)) this.fail(new Error(message.message));
      return;
    }
    this.watchGap();
    this.finishIfComplete();
  }

  /** A gap is normally filled within milliseconds; if not, resubscribe from our seq. */
  private watchGap(): void {
    if (gapAfter(this.stream) === undefined) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
      return;
    }
    this.gapTimer ??= setTimeout(() => {
      this.gapTimer = undefined;
      if (gapAfter(this.stream) !== undefined) this.send(subscribeMessage(this.stream));
    }, this.options.gapTimeoutMs ?? 2000);
  }

  private finishIfComplete(): void {
    const end = this.stream.end;
    if (!end || !isComplete(this.stream)) return;
    this.close();
    this.settle.resolve({
      status: end.status,
      reason: end.reason,
      transitions: [...this.stream.transitions],
      texts: new Map(Object.entries(this.stream.texts)),
      reconnects: this.reconnects,
    });
  }

  private fail(err: Error): void {
    this.close();
    this.settle.reject(err);
  }
}
