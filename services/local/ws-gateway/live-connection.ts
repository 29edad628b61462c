/**
 * One accepted WebSocket connection: its AWS-visible facts (id, times, identity), its
 * timers, and a queue that keeps its route requests in order.
 */
import { isUtf8 } from 'node:buffer';
import { WebSocket } from 'ws';

export interface CloseIntent {
  code: number;
  reason: string;
}

/** A token bucket: `perSecond` tokens refill continuously up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(private readonly perSecond: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.refilledAt = now;
  }

  /** Takes one token if one is available. */
  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface LiveConnectionOptions {
  id: string;
  socket: WebSocket;
  sourceIp: string;
  userAgent: string;
  idleTimeoutMs: number;
  maxAgeMs: number;
  maxFrameBytes: number;
  postBucket?: TokenBucket;
}

export class LiveConnection {
  readonly id: string;
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly connectedAt = new Date();
  lastActiveAt = this.connectedAt;
  readonly postBucket: TokenBucket | undefined;
  /** Set when the gateway (not the client) starts the close, so $disconnect reports our code. */
  closeIntent: CloseIntent | undefined;

  private readonly socket: WebSocket;
  private readonly maxFrameBytes: number;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly ageTimer: NodeJS.Timeout;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: LiveConnectionOptions) {
    this.id = options.id;
    this.socket = options.socket;
    this.sourceIp = options.sourceIp;
    this.userAgent = options.userAgent;
    this.maxFrameBytes = options.maxFrameBytes;
    this.postBucket = options.postBucket;
    // AWS closes both idle and over-age connections with 1001 "Going away".
    this.idleTimer = setTimeout(() => this.close(1001, 'Going away'), options.idleTimeoutMs);
    this.ageTimer = setTimeout(() => this.close(1001, 'Going away'), options.maxAgeMs);
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Records a data message in either direction. AWS's idle timeout counts data messages
   * both ways; ping/pong control frames do not keep a connection alive.
   */
  touch(): void {
    this.lastActiveAt = new Date();
    this.idleTimer.refresh();
  }

  /**
   * Sends one message, as text when it is valid UTF-8 (what PostToConnection does with JSON),
   * split into frames of at most maxFrameBytes like API Gateway.
   */
  send(data: Buffer): void {
    if (!this.isOpen) return;
    this.touch();
    const binary = !isUtf8(data);
    if (data.length <= this.maxFrameBytes) {
      this.socket.send(data, { binary });
      return;
    }
    for (let offset = 0; offset < data.length; offset += this.maxFrameBytes) {
      const end = offset + this.maxFrameBytes;
      this.socket.send(data.subarray(offset, end), { binary, fin: end >= data.length });
    }
  }

  /** Starts the closing handshake; the first reason given wins. */
  close(code: number, reason: string): void {
    this.closeIntent ??= { code, reason };
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }

  /** Drops the socket without a handshake (a client that never answers our close frame). */
  terminate(): void {
    this.socket.terminate();
  }

  /**
   * Runs `task` after every earlier task of this connection, so the backend sees its route
   * requests in order. Tasks handle their own errors; one failing never stalls the queue.
   */
  enqueue(task: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(task).catch(() => undefined);
    return this.queue;
  }

  /** Stops the timers once the socket is closed. */
  dispose(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.ageTimer);
  }
}
