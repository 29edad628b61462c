/**
 * Metrics as configured: EMF lines on stdout (see adapters/aws/emf-metrics.ts), appended to
 * a file instead when one is given (the local stack's, as a CloudWatch agent would tail it),
 * or nothing.
 */
import { createWriteStream } from 'node:fs';
import type { Logger } from './logging.js';
import type { Metrics } from './ports/metrics.js';
import { METRICS_NAMESPACE } from './contracts/telemetry.js';
import { EmfMetrics } from './adapters/aws/emf-metrics.js';

/** Metrics that go nowhere (unit tests, COT_METRICS=off). */
export const NO_METRICS: Metrics = { record: () => {}, flush: async () => {} };

export interface MetricsOptions {
  enabled: boolean;
  service: string;
  logger: Logger;
  /** Append EMF lines here instead of writing them to stdout. */
  file?: string;
}

/** EMF metrics for `service` when `enabled`. */
export function createMetrics(options: MetricsOptions): Metrics {
  if (!options.enabled) return NO_METRICS;
  const log = options.logger.child({ component: 'metrics' });
  const onError = (err: unknown) => log.warn({ err }, 'metrics record dropped');
  let write: ((line: string) => Promise<void>) | undefined;
  if (options.file) {
    // One write per line: appends from several processes to one file do not interleave.
    const stream = createWriteStream(options.file, { flags: 'a', mode: 0o600 });
    stream.on('error', onError);
    write = (line) => new Promise((resolve) => stream.write(`${line}\n`, () => resolve()));
  }
  return new EmfMetrics({ namespace: METRICS_NAMESPACE, service: options.service, write, onError });
}
