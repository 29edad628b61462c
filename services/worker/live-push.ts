/**
 * Live push from the worker to subscribed WebSocket connections through the management
 * endpoint (PostToConnection). It never slows or fails a job: sends are queued per
 * connection, GoneException removes the connection, throttling is retried with back-off,
 * and a connection that falls too far behind is dropped (its client resubscribes with
 * its last seq and catches up from the Transitions table).
 */
import type { TransitionRecord } from '../shared/contracts/job.js';
import type { ServerMessage } from '../shared/contracts/ws.js';
import type { ConnectionStore, Subscriber } from '../shared/ports/connection-store.js';
import type { PushGateway } from '../shared/ports/push-gateway.js';
import type { Logger } from '../shared/logging.js';
import { GoneError } from '../shared/errors.js';
import { PushThrottledError } from '../shared/adapters/aws/apigw-push-gateway.js';
import { encodeFrames } from '../shared/push/frames.js';
import type { JobEvents } from './job-run.js';

export interface LivePushOptions {
  /** Streamed tokens are gathered for this long before one step.delta goes out. */
  batchMs: number;
  /** How long a subscriber list may be reused for deltas (transitions always look it up afresh). */
  subscriberTtlMs?: number;
  /** Messages queued for one connection before it is dropped as too slow. */
  maxQueuedPerConnection?: number;
  /** Attempts for a throttled post. */
  maxAttempts?: number;
}

interface PendingDelta {
  jobId: string;
  stepId: string;
  attempt: number;
  offset: number;
  text: string;
}

interface Outbox {
  chain: Promise<void>;
  queued: number;
  dead: boolean;
}

/** Counters for benchmarks and logs. */
export interface PushStats {
  messages: number;
  bytes: number;
  gone: number;
  throttled: number;
  dropped: number;
}

export class LivePush implements JobEvents {
  readonly stats: PushStats = { messages: 0, bytes: 0, gone: 0, throttled: 0, dropped: 0 };
  private readonly pending = new Map<string, PendingDelta>();
  private readonly sentChars = new Map<string, number>();
  private readonly jobChains = new Map<string, Promise<void>>();
  private readonly subscriberCache = new Map<string, { at: number; list: Promise<Subscriber[]> }>();
  private readonly outboxes = new Map<string, Outbox>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly connections: ConnectionStore,
    private readonly gateway: PushGateway,
    private readonly logger: Logger,
    private readonly options: LivePushOptions,
  ) {}

  transition(record: TransitionRecord): void {
    // Tokens streamed before this transition go out before it.
    this.flushJob(record.jobId);
    this.onJob(record.jobId, true, (subs) => {
      this.broadcast(subs, { type: 'job.transition', jobId: record.jobId, seq: record.seq, transition: record });
      if (record.status !== 'running') {
        this.broadcast(subs, { type: 'job.done', jobId: record.jobId, seq: record.seq, status: record.status, reason: record.reason });
        this.forget(record.jobId);
      }
    });
  }

  delta(jobId: string, stepId: string, attempt: number, text: string): void {
    const key = `${jobId}|${stepId}|${attempt}`;
    const entry = this.pending.get(key);
    if (entry) entry.text += text;
    else this.pending.set(key, { jobId, stepId, attempt, offset: this.sentChars.get(key) ?? 0, text });
    this.sentChars.set(key, (this.sentChars.get(key) ?? 0) + text.length);
    this.timer ??= setTimeout(() => this.flushAll(), this.options.batchMs);
  }

  /** Resolves when everything queued so far has been sent (or given up). */
  async idle(): Promise<void> {
    this.flushAll();
    await Promise.all([...this.jobChains.values()]);
    await Promise.all([...this.outboxes.values()].map((o) => o.chain));
  }

  private flushAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const jobId of new Set([...this.pending.values()].map((d) => d.jobId))) this.flushJob(jobId);
  }

  private flushJob(jobId: string): void {
    const deltas = [...this.pending.entries()].filter(([, d]) => d.jobId === jobId);
    if (deltas.length === 0) return;
    for (const [key] of deltas) this.pending.delete(key);
    this.onJob(jobId, false, (subs) => {
      for (const [, d] of deltas) {
        this.broadcast(subs, { type: 'step.delta', jobId, stepId: d.stepId, attempt: d.attempt, offset: d.offset, text: d.text });
      }
    });
  }

  /** Runs `fn` with the job's subscribers, in the order calls were made for that job. */
  private onJob(jobId: string, fresh: boolean, fn: (subs: Subscriber[]) => void): void {
    const previous = this.jobChains.get(jobId) ?? Promise.resolve();
    const next = previous
      .then(() => this.subscribers(jobId, fresh))
      .then(fn)
      .catch((err) => this.logger.warn({ jobId, err }, 'push skipped: subscriber lookup failed'));
    this.jobChains.set(jobId, next);
    void next.then(() => {
      if (this.jobChains.get(jobId) === next) this.jobChains.delete(jobId);
    });
  }

  private subscribers(jobId: string, fresh: boolean): Promise<Subscriber[]> {
    const cached = this.subscriberCache.get(jobId);
    const ttl = this.options.subscriberTtlMs ?? 1000;
    if (!fresh && cached && Date.now() - cached.at < ttl) return cached.list;
    const list = this.connections.subscribers(jobId);
    this.subscriberCache.set(jobId, { at: Date.now(), list });
    list.catch(() => this.subscriberCache.delete(jobId));
    return list;
  }

  private forget(jobId: string): void {
    this.subscriberCache.delete(jobId);
    for (const key of this.sentChars.keys()) if (key.startsWith(`${jobId}|`)) this.sentChars.delete(key);
  }

  private broadcast(subs: Subscriber[], message: ServerMessage): void {
    if (subs.length === 0) return;
    const frames = encodeFrames(message);
    for (const sub of subs) for (const frame of frames) this.enqueue(sub.connectionId, frame);
  }

  private enqueue(connectionId: string, data: string): void {
    let box = this.outboxes.get(connectionId);
    if (!box) {
      box = { chain: Promise.resolve(), queued: 0, dead: false };
      this.outboxes.set(connectionId, box);
    }
    if (box.dead) return;
    if (box.queued >= (this.options.maxQueuedPerConnection ?? 1000)) {
      box.dead = true;
      this.stats.dropped++;
      this.logger.warn({ connectionId }, 'connection too slow; dropping it');
      void this.gateway.disconnect(connectionId).catch(() => {});
      return;
    }
    const current = box;
    current.queued++;
    current.chain = current.chain.then(() => this.post(connectionId, data, current)).finally(() => {
      current.queued--;
      if (current.queued === 0 && this.outboxes.get(connectionId) === current) this.outboxes.delete(connectionId);
    });
  }

  private async post(connectionId: string, data: string, box: Outbox): Promise<void> {
    if (box.dead) return;
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.gateway.post(connectionId, data);
        this.stats.messages++;
        this.stats.bytes += Buffer.byteLength(data, 'utf8');
        return;
      } catch (err) {
        if (err instanceof GoneError) {
          box.dead = true;
          this.stats.gone++;
          await this.connections.remove(connectionId).catch((e) => this.logger.warn({ connectionId, err: e }, 'could not remove gone connection'));
          return;
        }
        if (err instanceof PushThrottledError && attempt < maxAttempts) {
          this.stats.throttled++;
          await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt * (0.5 + Math.random()))));
          continue;
        }
        this.logger.warn({ connectionId, err }, 'push failed; message dropped');
        return;
      }
    }
  }
}
