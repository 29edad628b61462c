/**
 * Metrics as CloudWatch Embedded Metric Format, written with aws-embedded-metrics: one JSON
 * line per record, to a stream (stdout). In AWS the container's awslogs driver ships stdout
 * to CloudWatch Logs, which turns every line with an `_aws` block into metrics — no agent,
 * no PutMetricData, nothing on the job's path waits for the network. Locally `npm start`
 * reads the same lines off the services' stdout into .local/metrics.jsonl.
 *
 * The library's own environments would add ServiceName/ServiceType/LogGroup dimensions and,
 * on ECS, send to a CloudWatch agent over TCP; we hand it a fixed environment whose sink
 * writes the library's serialized lines to our stream, and set every dimension ourselves:
 * Service on every set, so "overall" is {Service} and "per advisor" is {Service, Advisor}.
 */
import { MetricsLogger, StorageResolution } from 'aws-embedded-metrics';
import { MetricsContext } from 'aws-embedded-metrics/lib/logger/MetricsContext.js';
import { LogSerializer } from 'aws-embedded-metrics/lib/serializers/LogSerializer.js';
import type { IEnvironment } from 'aws-embedded-metrics/lib/environment/IEnvironment.js';
import type { ISink } from 'aws-embedded-metrics/lib/sinks/Sink.js';
import { DIMENSION, METRIC_UNITS, METRICS_NAMESPACE } from '../../contracts/telemetry.js';
import { createWriteStream } from 'node:fs';
import type { Logger } from '../../logging.js';
import { NO_METRICS, type Metrics, type MetricValue } from '../../ports/metrics.js';

export interface EmfMetricsOptions {
  namespace: string;
  /** The service writing (e.g. cot-worker): the Service dimension of every dimension set. */
  service: string;
  /** Where each EMF line goes (one JSON document, no newline); default stdout. flush() waits for returned promises. */
  write?: (line: string) => void | Promise<void>;
  /** Reports a record that could not be written; it is dropped, never thrown. */
  onError?: (err: unknown) => void;
}

export class EmfMetrics implements Metrics {
  private readonly environment: IEnvironment;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: EmfMetricsOptions) {
    const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
    const serializer = new LogSerializer();
    const sink: ISink = {
      name: 'StreamSink',
      accept: async (context) => {
        await Promise.all(serializer.serialize(context).map(async (line) => write(line)));
      },
    };
    this.environment = {
      probe: async () => true,
      getName: () => options.service,
      getType: () => 'ECS',
      getLogGroupName: () => '',
      configureContext: () => {},
      getSink: () => sink,
    };
  }

  record(values: MetricValue[], dimensionSets: Record<string, string>[] = [{}], properties: Record<string, string | number> = {}): void {
    if (values.length === 0) return;
    try {
      const logger = new MetricsLogger(async () => this.environment, MetricsContext.empty());
      logger.setNamespace(this.options.namespace);
      logger.setDimensions(
        dimensionSets.map((set) => ({ [DIMENSION.service]: this.options.service, ...set })),
        false,
      );
      for (const [key, value] of Object.entries(properties)) logger.setProperty(key, value);
      for (const { name, value } of values) logger.putMetric(name, value, METRIC_UNITS[name], StorageResolution.Standard);
      const flushed = logger.flush().catch((err: unknown) => this.options.onError?.(err));
      this.pending.add(flushed);
      void flushed.finally(() => this.pending.delete(flushed));
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

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
