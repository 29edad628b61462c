import type { MetricName } from '../contracts/telemetry.js';

/** One value of a metric (its unit is fixed by METRIC_UNITS). */
export interface MetricValue {
  name: MetricName;
  value: number;
}

/**
 * Metrics (CloudWatch in AWS, written as Embedded Metric Format log lines). Recording never
 * waits on the network and never throws: it is safe on a job's path.
 */
export interface Metrics {
  /**
   * Records `values` once per dimension set (`[{}]`: overall only; `[{}, { Advisor: 'claude' }]`:
   * overall and per advisor); the adapter adds the service's own dimension to each set. `properties` are searchable in the log line but are not
   * dimensions (jobId, traceId: too many distinct values to be metrics).
   */
  record(values: MetricValue[], dimensionSets?: Record<string, string>[], properties?: Record<string, string | number>): void;
  /** Resolves once everything recorded so far has been written out. */
  flush(): Promise<void>;
}

/** Metrics that go nowhere (unit tests, COT_METRICS=off). */
export const NO_METRICS: Metrics = { record: () => {}, flush: async () => {} };
