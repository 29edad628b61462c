/**
 * Raw WebSocket clients that subscribe to one job each and note every frame they receive:
 * its size, and for step.delta the characters it carries and when it arrived.
 */
import WebSocket from 'ws';
import type { ServerMessage } from '../../services/shared/contracts/ws.js';
import { FrameDecoder } from '../../services/shared/push/frames.js';
import { nowMs } from './stats.js';

/** A step.delta as one client received it: characters [offset, end) of `<stepId>#<attempt>`. */
export interface DeltaArrival {
  step: string;
  offset: number;
  end: number;
  at: number;
}

export interface SubscriberFigures {
  jobId?: string;
  frames: number;
  bytes: number;
  deltaFrames: number;
  deltas: DeltaArrival[];
  /** Set when the API confirmed the subscription. */
  subscribedAt?: number;
  /** Set when the job's job.done arrived. */
  doneAt?: number;
  errors: string[];
}

/** The WebSocket API refused or dropped the connection. */
export class PushUnavailableError extends Error {
  override name = 'PushUnavailableError';
}

export class Subscriber {
  readonly figures: SubscriberFigures = { frames: 0, bytes: 0, deltaFrames: 0, deltas: [], errors: [] };
  private readonly frames = new FrameDecoder();
  private resolveDone!: () => void;
  /** Resolves when job.done arrived or the socket closed. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => this.onFrame(data));
    socket.on('close', () => this.resolveDone());
  }

  /** Connects with `?token=`; rejects with PushUnavailableError when the upgrade is refused. */
  static open(wsUrl: string, token: string, timeoutMs = 10_000): Promise<Subscriber> {
    const url = new URL(wsUrl);
    url.searchParams.set('token', token);
    const socket = new WebSocket(url, { handshakeTimeout: timeoutMs });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new Subscriber(socket)));
      socket.once('unexpected-response', (_req, res) => {
        reject(new PushUnavailableError(`the WebSocket API answered the upgrade with ${res.statusCode ?? '?'}`));
        socket.terminate();
      });
      socket.once('error', (err) => reject(new PushUnavailableError(`cannot connect to the WebSocket API: ${err.message}`)));
    });
  }

  subscribe(jobId: string): void {
    this.figures.jobId = jobId;
    this.socket.send(JSON.stringify({ action: 'subscribe', jobId, afterSeq: 0 }));
  }

  close(): void {
    this.socket.close();
  }

  private onFrame(data: Buffer): void {
    const at = nowMs();
    this.figures.frames++;
    this.figures.bytes += data.length;
    for (const message of this.frames.decode(data.toString('utf8'))) this.onMessage(message, at);
  }

  private onMessage(message: ServerMessage, at: number): void {
    switch (message.type) {
      case 'step.delta':
        this.figures.deltaFrames++;
        this.figures.deltas.push({ step: `${message.stepId}#${message.attempt}`, offset: message.offset, end: message.offset + message.text.length, at });
        return;
      case 'subscribed':
        this.figures.subscribedAt = at;
        return;
      case 'job.done':
        this.figures.doneAt = at;
        this.resolveDone();
        return;
      case 'error':
        this.figures.errors.push(`${message.code}: ${message.message}`);
        return;
      default:
        return;
    }
  }
}
