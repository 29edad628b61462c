import { RateLimitedError } from '../errors.js';
import { callerOf, type ApiContext, type ApiMiddleware } from './context.js';

interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * Token buckets per key: `perMinute` tokens of capacity, refilled continuously. State is
 * per process, so with N API tasks the effective limit is at most N times this.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
    private readonly maxKeys = 10_000,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one token for `key`, or says how long until one is available. */
  take(key: string): TakeResult {
    const now = this.now();
    const bucket = this.refilled(key, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
  }

  private refilled(key: string, now: number): Bucket {
    const existing = this.buckets.get(key);
    if (existing) {
      existing.tokens = Math.min(this.perMinute, existing.tokens + Math.max(0, now - existing.at) * this.perMs);
      existing.at = now;
      return existing;
    }
    if (this.buckets.size >= this.maxKeys) this.evict(now);
    const bucket = { tokens: this.perMinute, at: now };
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets buckets that are full again (nothing is lost), else the oldest ones. */
  private evict(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.perMinute) this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}

/** Limits requests per token subject; over the limit → 429 with Retry-After. Runs after authenticate. */
export function rateLimit(buckets: TokenBuckets): ApiMiddleware {
  return async function rateLimit(ctx: ApiContext, next) {
    const taken = buckets.take(callerOf(ctx).sub);
    if (!taken.ok) throw new RateLimitedError(taken.retryAfterSeconds);
    await next();
  };
}
