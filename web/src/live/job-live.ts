/**
 * One job, live: a browser WebSocket around the shared protocol reducer (contracts
 * ws-client). It subscribes, folds every message into the JobStream, resubscribes with its
 * last seq after a gap or a lost connection (back-off, and at once when the browser is
 * back online), and fetches the whole view (GET /jobs/{id}) when the reducer says what only
 * a view carries may have changed: a new stage, a failed step, the end. Components read its
 * store, published at most once per animation frame.
 */
import {
  FrameDecoder,
  applyMessage,
  createJobStream,
  gapAfter,
  isComplete,
  needsRefetch,
  reconnectDelayMs,
  subscribeMessage,
  type ClientMessage,
  type JobStream,
  type JobView,
  type ServerMessage,
} from '../contracts';
import { createStore, nextFrame, type Scheduler, type Store } from '../app/store';

/** The part of the browser's WebSocket this uses (a test passes a fake). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
}

export type Connection =
  /** Opening the first connection. */
  | 'connecting'
  | 'live'
  /** Lost: trying again (or waiting for the network). */
  | 'reconnecting'
  /** The job is over and everything was received. */
  | 'ended'
  /** The server refused (not this user's job, or the session ran out). */
  | 'refused';

export interface LiveState {
  stream: JobStream;
  connection: Connection;
  /** Epoch ms of the last message from the server. */
  lastEventAt?: number;
  /** Why the job cannot be shown, in words. */
  problem?: string;
}

export interface JobLiveOptions {
  jobId: string;
  wsUrl: string;
  token: () => string | undefined;
  fetchView: (jobId: string) => Promise<JobView>;
  openSocket?: (url: string) => SocketLike;
  /** Called with each published state and the one before it (for announcements). */
  onPublish?: (prev: LiveState, next: LiveState) => void;
  now?: () => number;
  schedule?: Scheduler;
  /** How long a gap in seq may stay open before resubscribing. */
  gapTimeoutMs?: number;
  /** A ping goes out this often; no answer for two periods means the socket is dead. */
  heartbeatMs?: number;
  /** A window-like object for online/offline/visibility events. */
  events?: Pick<Window, 'addEventListener' | 'removeEventListener'>;
  isOnline?: () => boolean;
}

const OPEN = 1;
const REFUSALS: Record<string, string> = {
  not_found: 'No such job among yours. It may belong to someone else, or the link is wrong.',
  forbidden: 'This job is not yours to see.',
  unauthorized: 'Your session has expired. Sign in again to continue.',
};

export class JobLive {
  readonly store: Store<LiveState>;
  private state: LiveState;
  private readonly decoder = new FrameDecoder();
  private socket?: SocketLike;
  private attempts = 0;
  private stopped = false;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private gapTimer?: ReturnType<typeof setTimeout>;
  private heartbeat?: ReturnType<typeof setInterval>;
  private lastFrameAt = 0;
  private fetching = false;
  private fetchAgain = false;
  private readonly now: () => number;
  private readonly listeners: [string, () => void][];

  constructor(private readonly options: JobLiveOptions) {
    this.now = options.now ?? Date.now;
    this.state = { stream: createJobStream(options.jobId), connection: 'connecting' };
    this.store = createStore(this.state, options.schedule ?? nextFrame);
    let published = this.state;
    this.store.subscribe(() => {
      const next = this.store.get();
      options.onPublish?.(published, next);
      published = next;
    });
    this.listeners = [
      ['online', () => this.reconnectNow()],
      ['offline', () => this.lost()],
      ['visibilitychange', () => this.ping()],
    ];
  }

  /** Fetches the view and opens the socket. */
  start(): void {
    this.stopped = false;
    const events = this.events();
    for (const [name, fn] of this.listeners) events?.addEventListener(name, fn);
    void this.refetch();
    if (this.online()) this.connect();
    else this.update({ connection: 'reconnecting' });
  }

  /** Closes everything (the job goes on). */
  stop(): void {
    this.stopped = true;
    const events = this.events();
    for (const [name, fn] of this.listeners) events?.removeEventListener(name, fn);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.gapTimer);
    clearInterval(this.heartbeat);
    this.closeSocket();
  }

  /** Fetches the whole view again (after a cancel, say). */
  refresh(): Promise<void> {
    return this.refetch();
  }

  /**
   * Follows the job again after it was reopened (a redrive of a job that had ended): fetches
   * the view, which says it is queued again, and resubscribes after the last seq.
   */
  reopen(): void {
    if (this.stopped || this.state.connection === 'refused') return;
    this.attempts = 0;
    this.update({ connection: 'connecting' });
    void this.refetch();
    if (!this.socket) this.connect();
  }

  private events() {
    return this.options.events ?? (typeof window === 'undefined' ? undefined : window);
  }

  private online(): boolean {
    return (this.options.isOnline ?? (() => (typeof navigator === 'undefined' ? true : navigator.onLine)))();
  }

  private connect(): void {
    if (this.stopped || this.state.connection === 'ended' || this.state.connection === 'refused') return;
    const token = this.options.token();
    if (!token) return this.refuse(REFUSALS.unauthorized!);
    const url = new URL(this.options.wsUrl);
    url.searchParams.set('token', token);
    const socket = (this.options.openSocket ?? ((u) => new WebSocket(u)))(url.toString());
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.lastFrameAt = this.now();
      this.send(subscribeMessage(this.state.stream));
      this.startHeartbeat();
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket || typeof ev.data !== 'string') return;
      this.onFrame(ev.data);
    };
    socket.onerror = () => {
      /* a close event follows */
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.lost();
    };
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    clearInterval(this.heartbeat);
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close();
      } catch {
        /* already closed */
      }
    }
  }

  /** The connection is gone (closed, offline, silent): show it and try again. */
  private lost(): void {
    this.closeSocket();
    if (this.stopped || this.state.connection === 'ended' || this.state.connection === 'refused') return;
    this.update({ connection: 'reconnecting' });
    clearTimeout(this.reconnectTimer);
    if (!this.online()) return; // the `online` event reconnects
    this.attempts++;
    this.reconnectTimer = setTimeout(() => this.connect(), reconnectDelayMs(this.attempts));
  }

  private reconnectNow(): void {
    if (this.stopped || this.socket || this.state.connection === 'ended' || this.state.connection === 'refused') return;
    clearTimeout(this.reconnectTimer);
    this.connect();
  }

  private startHeartbeat(): void {
    clearInterval(this.heartbeat);
    const period = this.options.heartbeatMs ?? 30_000;
    this.heartbeat = setInterval(() => {
      if (this.now() - this.lastFrameAt > 2 * period) this.lost();
      else this.send({ action: 'ping' });
    }, period);
  }

  /** Coming back to the tab (or a lid opened): make sure the socket still answers. */
  private ping(): void {
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
    this.send({ action: 'ping' });
  }

  private send(message: ClientMessage): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(message));
  }

  private onFrame(raw: string): void {
    this.lastFrameAt = this.now();
    const messages = this.decoder.decode(raw);
    if (messages.length === 0) return;
    const before = this.state.stream;
    let stream = before;
    for (const message of messages) {
      const refusal = this.refusalOf(message);
      if (refusal) return this.refuse(refusal);
      stream = applyMessage(stream, message);
    }
    // Heard from the server with something in it: the back-off starts over.
    this.attempts = 0;
    this.update({ stream, connection: 'live', lastEventAt: this.now() });
    this.afterChange(before, stream);
  }

  private refusalOf(message: ServerMessage): string | undefined {
    if (message.type !== 'error') return undefined;
    if (message.jobId !== undefined && message.jobId !== this.options.jobId) return undefined;
    return REFUSALS[message.code];
  }

  private afterChange(before: JobStream, stream: JobStream): void {
    this.watchGap();
    if (needsRefetch(before, stream)) void this.refetch();
    if (isComplete(stream)) {
      this.update({ connection: 'ended' });
      clearTimeout(this.gapTimer);
      this.closeSocket();
    }
  }

  /** A gap normally closes within milliseconds; if not, ask again from our seq. */
  private watchGap(): void {
    if (gapAfter(this.state.stream) === undefined) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
      return;
    }
    this.gapTimer ??= setTimeout(() => {
      this.gapTimer = undefined;
      if (gapAfter(this.state.stream) !== undefined) this.send(subscribeMessage(this.state.stream));
    }, this.options.gapTimeoutMs ?? 2000);
  }

  private async refetch(): Promise<void> {
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    this.fetching = true;
    try {
      do {
        this.fetchAgain = false;
        const view = await this.options.fetchView(this.options.jobId);
        if (this.stopped) return;
        const before = this.state.stream;
        const stream = applyMessage(before, { type: 'job.view', jobId: this.options.jobId, seq: view.seq, view });
        this.update({ stream });
        this.afterChange(before, stream);
      } while (this.fetchAgain && !this.stopped);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404) this.refuse(REFUSALS.not_found!);
      else if (status === 401) this.refuse(REFUSALS.unauthorized!);
      // Anything else: the socket still brings the view; the next trigger fetches again.
    } finally {
      this.fetching = false;
    }
  }

  private refuse(problem: string): void {
    this.update({ connection: 'refused', problem });
    this.closeSocket();
    clearTimeout(this.reconnectTimer);
  }

  private update(patch: Partial<LiveState>): void {
    this.state = { ...this.state, ...patch };
    this.store.set(this.state);
  }
}
