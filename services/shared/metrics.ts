/**
 * Metrics as configured: EMF lines on stdout (see adapters/aws/emf-metrics.ts), or nothing.
 */
import type { Logger } from './logging.js';
import type { Metrics } from './ports/metrics.js';
import { METRICS_NAMESPACE } from './contracts/telemetry.js';
import { EmfMetrics } from './adapters/aws/emf-metrics.js';

/** Metrics that go nowhere (unit tests, COT_METRICS=off). */
export const NO_METRICS: Metrics = { record: () => {}, flush: async () => {} };

/** EMF metrics for `service` when `enabled`, written to stdout. */
export function createMetrics(options: { enabled: boolean; service: string; logger: Logger }): Metrics {
  if (!options.enabled) return NO_METRICS;
  const log = options.logger.child({ component: 'metrics' });
  return new EmfMetrics({ namespace: METRICS_NAMESPACE, service: options.service, onError: (err) => log.warn({ err }, 'metrics record dropped') });
}
