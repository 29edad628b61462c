/** Small statistics over samples; every function returns undefined for no samples. */

/** The sample at quantile `q` (0..1), nearest-rank. */
export function quantile(samples: readonly number[], q: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

export function mean(samples: readonly number[]): number | undefined {
  return samples.length === 0 ? undefined : samples.reduce((s, x) => s + x, 0) / samples.length;
}

export function max(samples: readonly number[]): number | undefined {
  return samples.length === 0 ? undefined : samples.reduce((m, x) => (x > m ? x : m), -Infinity);
}

export interface Summary {
  n: number;
  p50?: number;
  p99?: number;
  max?: number;
  mean?: number;
}

/** n, p50, p99, max and mean of the samples. */
export function summarise(samples: readonly number[]): Summary {
  return { n: samples.length, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: max(samples), mean: mean(samples) };
}

/** Epoch milliseconds with sub-millisecond resolution, monotonic within this process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
