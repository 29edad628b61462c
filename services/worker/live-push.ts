/**
 * Live push from the worker to subscribed WebSocket connections through the management
 * endpoint (PostToConnection). It never slows or fails a job: sends are queued per
 * connection, GoneException removes the connection, throttling is retried with back-off,
 * and a connection that falls too far behind is dropped (its client resubscribes with
 * its last seq and catches up from the Transitions table).
 *
 * Two things keep streaming text complete and timely:
 * - catch-up: the text each running step has streamed so far is kept, and a connection
 *   seen for the first time receives it (offset 0) before any later delta;
 * - batching: while a post is in flight, what is queued for that connection waits and then
 *   goes out packed into as few frames as fit (JSON arrays), with further deltas of the
 *   same step merged into one message; a slow round trip means bigger posts, not a
 *   growing queue. Posts per connection stay sequential, so order is kept.
 */
import { isTerminal, type TransitionRecord } from '../shared/contracts/job.js';
import type { ServerMessage, StepDeltaMessage } from '../shared/contracts/ws.js';
import type { ConnectionStore, Subscriber } from '../shared/ports/connection-store.js';
import type { PushGateway } from '../shared/ports/push-gateway.js';
import type { Logger } from '../shared/logging.js';
import { GoneError, PushThrottledError } from '../shared/errors.js';
import { packFrames } from '../shared/push/frames.js';
import { sleep } from '../shared/sleep.js';
import { doneMessage, transitionMessage } from '../shared/push/messages.js';
import type { JobEvents } from './job-events.js';

export interface LivePushOptions {
  /** Streamed tokens are gathered for this long before one step.delta goes out. */
  batchMs: number;
  /**
   * How long a subscriber list may be reused for deltas (default 1000). Transitions always
   * look it up afresh, after their commit: that read is what makes a subscription that raced
   * the commit safe (the API's catch-up read sees the transition, or this read sees the
   * subscription). Deltas need no such care — a newcomer is caught up from offset 0 — so a
   * list a second old only delays a new watcher's streamed text by up to that second, and
   * halves the Queries a streaming job makes (two lookups a second per job were half of all
   * DynamoDB requests in the push benchmark).
   */
  subscriberTtlMs?: number;
  /** Messages queued for one connection before it is dropped as too slow. */
  maxQueuedPerConnection?: number;
  /** Attempts for a throttled post. */
  maxAttempts?: number;
  /** Told how each message fared, for metrics and the job's timeline. */
  observer?: PushObserver;
}

/** One message sent to one connection (or found gone). */
export interface PushEvent {
  jobId: string;
  type: 'job.transition' | 'job.done' | 'step.delta';
  /** The transition's seq (absent for streamed text). */
  seq?: number;
  /** When the message was ready: the transition committed, the token batch closed. */
  readyAt: number;
  /** Ready → PostToConnection answered. */
  ms: number;
  outcome: 'ok' | 'gone';
}

/** Hears about every message sent; must never throw or block. */
export interface PushObserver {
  pushed(event: PushEvent): void;
}

interface PendingDelta {
  jobId: string;
  stepId: string;
  attempt: number;
  text: string;
}

interface Outbox {
  queue: ServerMessage[];
  sending?: Promise<void>;
  dead: boolean;
}

/** Counters for benchmarks and logs. */
export interface PushStats {
  messages: number;
  bytes: number;
  gone: number;
  throttled: number;
  dropped: number;
  coalesced: number;
}

type PostOutcome = 'ok' | 'gone' | 'failed';

const streamKey = (jobId: string, stepId: string, attempt: number) => `${jobId}|${stepId}|${attempt}`;

export class LivePush implements JobEvents {
  readonly stats: PushStats = { messages: 0, bytes: 0, gone: 0, throttled: 0, dropped: 0, coalesced: 0 };
  /** Tokens gathered since the last flush, per step attempt. */
  private readonly pending = new Map<string, PendingDelta>();
  /** Text already broadcast, per running step attempt (for catch-up). */
  private readonly streamed = new Map<string, { jobId: string; stepId: string; attempt: number; text: string }>();
  /** Connections each job's pushes have reached, to spot newcomers. */
  private readonly known = new Map<string, Set<string>>();
  private readonly jobChains = new Map<string, Promise<void>>();
  private readonly subscriberCache = new Map<string, { at: number; list: Promise<Subscriber[]> }>();
  private readonly outboxes = new Map<string, Outbox>();
  /** Per job, the posts that carry its last transition pushed so far (removed once they end). */
  private readonly lastPosts = new Map<string, Promise<unknown>>();
  /** When each queued message was ready (for the observer). */
  private readonly readyAt = new WeakMap<ServerMessage, number>();
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
    const readyAt = Date.now();
    this.onJob(record.jobId, true, (subs) => {
      this.broadcast(subs, transitionMessage(record), readyAt);
      for (const change of record.changes) {
        // A repair streams afresh (from offset 0) within the same attempt, as clients expect.
        if (change.status !== 'running' || change.repair) this.endStream(record.jobId, change.stepId);
      }
      if (isTerminal(record.status)) {
        this.broadcast(subs, doneMessage(record.jobId, record), readyAt);
        this.forget(record.jobId);
      }
      this.trackPosts(record.jobId, subs);
    });
  }

  async delivered(jobId: string): Promise<void> {
    // The job's chain never rejects; once it has run, the posts of its last transition are tracked.
    await this.jobChains.get(jobId);
    await this.lastPosts.get(jobId);
  }

  /** Each outbox's drain runs until its queue is empty, so it ends after what was just queued. */
  private trackPosts(jobId: string, subs: Subscriber[]): void {
    const sending = subs.flatMap((s) => {
      const box = this.outboxes.get(s.connectionId);
      return box?.sending ? [box.sending] : [];
    });
    if (sending.length === 0) {
      this.lastPosts.delete(jobId);
      return;
    }
    const posts = Promise.allSettled(sending);
    this.lastPosts.set(jobId, posts);
    void posts.then(() => {
      if (this.lastPosts.get(jobId) === posts) this.lastPosts.delete(jobId);
    });
  }

  delta(jobId: string, stepId: string, attempt: number, text: string): void {
    const key = streamKey(jobId, stepId, attempt);
    const entry = this.pending.get(key);
    if (entry) entry.text += text;
    else this.pending.set(key, { jobId, stepId, attempt, text });
    this.timer ??= setTimeout(() => this.flushAll(), this.options.batchMs);
  }

  /** Resolves when everything queued so far has been sent (or given up). */
  async idle(): Promise<void> {
    this.flushAll();
    for (;;) {
      await Promise.all([...this.jobChains.values()]);
      const sending = [...this.outboxes.values()].flatMap((o) => (o.sending ? [o.sending] : []));
      if (sending.length === 0 && this.jobChains.size === 0) return;
      await Promise.all(sending);
    }
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
    const readyAt = Date.now();
    this.onJob(jobId, false, (subs) => {
      for (const [key, d] of deltas) {
        const stream = this.streamed.get(key) ?? { jobId, stepId: d.stepId, attempt: d.attempt, text: '' };
        this.broadcast(subs, { type: 'step.delta', jobId, stepId: d.stepId, attempt: d.attempt, offset: stream.text.length, text: d.text }, readyAt);
        stream.text += d.text;
        this.streamed.set(key, stream);
      }
    });
  }

  /**
   * Runs `fn` with the job's subscribers, in the order calls were made for that job. A
   * connection not seen before first gets the text of every step still streaming.
   */
  private onJob(jobId: string, fresh: boolean, fn: (subs: Subscriber[]) => void): void {
    const previous = this.jobChains.get(jobId) ?? Promise.resolve();
    const next = previous
      .then(() => this.subscribers(jobId, fresh))
      .then((subs) => {
        this.catchUp(jobId, subs);
        fn(subs);
      })
      .catch((err) => this.logger.warn({ jobId, err }, 'push skipped: subscriber lookup failed'));
    this.jobChains.set(jobId, next);
    void next.then(() => {
      if (this.jobChains.get(jobId) === next) this.jobChains.delete(jobId);
    });
  }

  private catchUp(jobId: string, subs: Subscriber[]): void {
    const known = this.known.get(jobId) ?? new Set<string>();
    this.known.set(jobId, known);
    const newcomers = subs.filter((s) => !known.has(s.connectionId));
    if (newcomers.length === 0) return;
    for (const s of newcomers) known.add(s.connectionId);
    for (const stream of this.streamed.values()) {
      if (stream.jobId !== jobId || !stream.text) continue;
      this.broadcast(newcomers, { type: 'step.delta', jobId, stepId: stream.stepId, attempt: stream.attempt, offset: 0, text: stream.text }, Date.now());
    }
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

  private endStream(jobId: string, stepId: string): void {
    for (const [key, s] of this.streamed) if (s.jobId === jobId && s.stepId === stepId) this.streamed.delete(key);
  }

  private forget(jobId: string): void {
    this.subscriberCache.delete(jobId);
    this.known.delete(jobId);
    for (const [key, s] of this.streamed) if (s.jobId === jobId) this.streamed.delete(key);
  }

  private broadcast(subs: Subscriber[], message: ServerMessage, readyAt: number): void {
    for (const sub of subs) this.enqueue(sub.connectionId, message, readyAt);
  }

  private enqueue(connectionId: string, message: ServerMessage, readyAt: number): void {
    let box = this.outboxes.get(connectionId);
    if (!box) {
      box = { queue: [], dead: false };
      this.outboxes.set(connectionId, box);
    }
    if (box.dead) return;
    if (message.type === 'step.delta' && this.coalesce(box, message)) return;
    if (box.queue.length >= (this.options.maxQueuedPerConnection ?? 1000)) {
      box.dead = true;
      this.stats.dropped++;
      this.logger.warn({ queued: box.queue.length }, 'connection too slow; dropping it');
      void this.gateway.disconnect(connectionId).catch(() => {});
      return;
    }
    // Each connection gets its own copy: coalescing appends to queued deltas.
    const copy = { ...message };
    this.readyAt.set(copy, readyAt);
    box.queue.push(copy);
    box.sending ??= this.drain(connectionId, box);
  }

  /** Appends a delta to a queued (not yet sent) delta of the same step when the text continues it. */
  private coalesce(box: Outbox, delta: StepDeltaMessage): boolean {
    for (let i = box.queue.length - 1; i >= 0; i--) {
      const queued = box.queue[i]!;
      if (queued.type !== 'step.delta' || queued.jobId !== delta.jobId || queued.stepId !== delta.stepId || queued.attempt !== delta.attempt) continue;
      if (queued.offset + queued.text.length !== delta.offset) return false;
      queued.text += delta.text;
      this.stats.coalesced++;
      return true;
    }
    return false;
  }

  private async drain(connectionId: string, box: Outbox): Promise<void> {
    // Yield first, so `box.sending` is set before this can finish.
    await Promise.resolve();
    try {
      // Everything queued goes out together, packed into as few frames as fit.
      while (!box.dead && box.queue.length > 0) {
        const batch = box.queue.splice(0);
        let outcome: PostOutcome = 'ok';
        for (const frame of packFrames(batch)) {
          const posted = await this.post(connectionId, frame, box);
          if (posted !== 'ok') outcome = posted;
        }
        this.observe(batch, outcome);
      }
    } finally {
      box.sending = undefined;
      if (this.outboxes.get(connectionId) === box && (box.dead || box.queue.length === 0)) this.outboxes.delete(connectionId);
    }
  }

  /** Reports each message of a sent batch to the observer (gone: the connection was). */
  private observe(batch: ServerMessage[], outcome: PostOutcome): void {
    const observer = this.options.observer;
    if (!observer || outcome === 'failed') return;
    const now = Date.now();
    for (const message of batch) {
      if (message.type !== 'job.transition' && message.type !== 'job.done' && message.type !== 'step.delta') continue;
      const readyAt = this.readyAt.get(message) ?? now;
      const seq = message.type === 'step.delta' ? undefined : message.seq;
      observer.pushed({ jobId: message.jobId, type: message.type, seq, readyAt, ms: now - readyAt, outcome });
    }
  }

  private async post(connectionId: string, data: string, box: Outbox): Promise<PostOutcome> {
    if (box.dead) return 'failed';
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.gateway.post(connectionId, data);
        this.stats.messages++;
        this.stats.bytes += Buffer.byteLength(data, 'utf8');
        return 'ok';
      } catch (err) {
        if (err instanceof GoneError) {
          box.dead = true;
          this.stats.gone++;
          await this.connections.remove(connectionId).catch((e) => this.logger.warn({ err: e }, 'could not remove gone connection'));
          return 'gone';
        }
        if (err instanceof PushThrottledError && attempt < maxAttempts) {
          this.stats.throttled++;
          await sleep(Math.min(2000, 50 * 2 ** attempt * (0.5 + Math.random())));
          continue;
        }
        // Connection ids stay out of warn-level logs: with one, a caller of the management API could post to that client.
        this.logger.warn({ err }, 'push failed; message dropped');
        return 'failed';
      }
    }
  }
}
