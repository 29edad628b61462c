/**
 * Follows one job over the WebSocket API: subscribes, applies transitions once and in
 * order (dropping duplicates by seq, healing gaps by resubscribing), joins chunked
 * frames, keeps streamed text per step, and reconnects with its last seq when the socket
 * drops. Resolves when the job is done and every transition up to its end was applied.
 */
import WebSocket from 'ws';
import type { JobStatus, JobView, TransitionRecord } from '../shared/contracts/job.js';
import type { ClientMessage, ServerMessage } from '../shared/contracts/ws.js';
import { FrameDecoder } from '../shared/push/frames.js';

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
  private seq = 0;
  private readonly buffered = new Map<number, TransitionRecord>();
  private readonly transitions: TransitionRecord[] = [];
  private readonly texts = new Map<string, string>();
  private readonly frames = new FrameDecoder();
  private done?: { status: JobStatus; reason?: string; seq: number };
  private socket?: WebSocket;
  private reconnects = 0;
  private gapTimer?: NodeJS.Timeout;
  private closedByUs = false;
  private settle!: { resolve: (r: FollowResult) => void; reject: (e: Error) => void };

  constructor(private readonly options: FollowOptions) {}

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
    return this.seq;
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
    socket.on('open', () => this.send({ action: 'subscribe', jobId: this.options.jobId, afterSeq: this.seq }));
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
      if (this.socket !== socket || this.closedByUs || this.done?.seq === this.seq) return;
      void this.reconnect();
    });
  }

  private async reconnect(): Promise<void> {
    const max = this.options.maxReconnects ?? 20;
    if (this.reconnects >= max) return this.fail(new Error(`lost the connection ${max} times; giving up`));
    this.reconnects++;
    this.options.onEvent?.({ type: 'reconnecting', attempt: this.reconnects, afterSeq: this.seq });
    await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(this.reconnects, 6))));
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
    switch (message.type) {
      case 'job.view':
        this.options.onEvent?.({ type: 'view', view: message.view });
        return;
      case 'job.transition':
        this.onTransition(message.transition);
        return;
      case 'step.delta':
        this.onDelta(message.stepId, message.attempt, message.offset, message.text);
        return;
      case 'job.done':
        this.done = { status: message.status, reason: message.reason, seq: message.seq };
        this.finishIfComplete();
        return;
      case 'error':
        this.options.onEvent?.({ type: 'error', code: message.code, message: message.message });
        if (FATAL_CODES.has(message.code)) this.fail(new Error(message.message));
        return;
      default:
        return;
    }
  }

  private onTransition(t: TransitionRecord): void {
    if (t.seq <= this.seq) return; // duplicate
    this.buffered.set(t.seq, t);
    let next: TransitionRecord | undefined;
    while ((next = this.buffered.get(this.seq + 1))) {
      this.buffered.delete(next.seq);
      this.seq = next.seq;
      this.transitions.push(next);
      this.options.onEvent?.({ type: 'transition', transition: next });
      // The terminal transition is the end, even if its job.done frame was missed.
      if (next.status !== 'running') this.done ??= { status: next.status, reason: next.reason, seq: next.seq };
    }
    clearTimeout(this.gapTimer);
    if (this.buffered.size > 0) {
      // A gap: normally filled within milliseconds; if not, resubscribe from our seq.
      this.gapTimer = setTimeout(() => this.send({ action: 'subscribe', jobId: this.options.jobId, afterSeq: this.seq }), this.options.gapTimeoutMs ?? 2000);
    }
    this.finishIfComplete();
  }

  private onDelta(stepId: string, attempt: number, offset: number, text: string): void {
    const key = `${stepId}#${attempt}`;
    const current = this.texts.get(key) ?? '';
    // Overlapping resends are cut at their offset; a late joiner starts mid-text.
    const full = offset <= current.length ? current.slice(0, offset) + text : current + text;
    this.texts.set(key, full);
    this.options.onEvent?.({ type: 'delta', stepId, attempt, text, full });
  }

  private finishIfComplete(): void {
    if (!this.done || this.seq < this.done.seq) return;
    this.close();
    this.settle.resolve({
      status: this.done.status,
      reason: this.done.reason,
      transitions: this.transitions,
      texts: this.texts,
      reconnects: this.reconnects,
    });
  }

  private fail(err: Error): void {
    this.close();
    this.settle.reject(err);
  }
}
