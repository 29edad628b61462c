/**
 * Live push metrics, gathered: a job with two watchers is pushed a few hundred messages, and
 * one EMF line for each would cost more CPU (and CloudWatch Logs bytes) than the pushes
 * themselves. The tally adds them up and writes one line a second while there is anything
 * to write — Pushes and PushGone as sums (the dashboard graphs their Sum), PushLatency as
 * its samples (EMF takes up to 100 values of a metric per line; more are split).
 */
import { METRIC } from '../../shared/contracts/telemetry.js';
import type { Metrics, MetricValue } from '../../shared/ports/metrics.js';

/** How long pushes are gathered before their line is written. */
export const PUSH_TALLY_MS = 1000;
/** Latency samples that write the line at once. */
const MAX_SAMPLES = 100;

export class PushTally {
  private pushes = 0;
  private gone = 0;
  private latencies: number[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly metrics: Metrics,
    private readonly intervalMs = PUSH_TALLY_MS,
  ) {}

  /** One message delivered (with its latency when it is one the metric times) or found gone. */
  add(outcome: 'ok' | 'gone', latencyMs?: number): void {
    if (outcome === 'gone') this.gone++;
    else this.pushes++;
    if (latencyMs !== undefined) this.latencies.push(latencyMs);
    if (this.latencies.length >= MAX_SAMPLES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes what was gathered (nothing when nothing was). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const values: MetricValue[] = [
      ...(this.pushes ? [{ name: METRIC.pushes, value: this.pushes }] : []),
      ...(this.gone ? [{ name: METRIC.pushGone, value: this.gone }] : []),
      ...this.latencies.map((value) => ({ name: METRIC.pushLatency, value })),
    ];
    this.pushes = 0;
    this.gone = 0;
    this.latencies = [];
    if (values.length > 0) this.metrics.record(values);
  }
}
