/**
 * Worker composition root: parse config, build clients and adapters, start polling,
 * and hand jobs over on SIGTERM (Fargate Spot gives two minutes).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { loadWorkerConfig } from '../shared/config.js';
import { loadCircle } from '../shared/circle/circle.js';
import { createBedrockRuntime, createDynamo, createManagementApi, createSqs } from '../shared/aws-clients.js';
import { DynamoJobStore } from '../shared/adapters/aws/dynamo-job-store.js';
import { DynamoSnapshotStore } from '../shared/adapters/aws/dynamo-snapshot-store.js';
import { DynamoResultStore } from '../shared/adapters/aws/dynamo-result-store.js';
import { SqsJobQueue } from '../shared/adapters/aws/sqs-job-queue.js';
import { BedrockModelClient } from '../shared/adapters/aws/bedrock-model-client.js';
import { ApiGatewayPushGateway } from '../shared/adapters/aws/apigw-push-gateway.js';
import { DynamoConnectionStore } from '../shared/adapters/aws/dynamo-connection-store.js';
import { DynamoRunRecordStore } from '../shared/adapters/aws/dynamo-run-record-store.js';
import { createLogger } from '../shared/logging.js';
import { createMetrics } from '../shared/adapters/aws/emf-metrics.js';
import { createTracing } from '../shared/adapters/aws/xray-tracing.js';
import { NO_TRACER } from '../shared/ports/tracer.js';
import { logCorrelated } from '../shared/telemetry/log-context.js';
import { SERVICE } from '../shared/contracts/names.js';
import { cryptoIds, systemClock } from '../shared/system.js';
import { NO_EVENTS } from './job-events.js';
import { LivePush } from './live-push.js';
import { Worker } from './worker.js';
import { WorkerTelemetry } from './telemetry/worker-telemetry.js';

const config = loadWorkerConfig();
const logger = createLogger(SERVICE.worker, config.logLevel);
const circle = loadCircle(config.circleFile, { deploymentGuardrail: config.guardrail, forCalls: true });
const tracing = await createTracing({ enabled: config.tracing, logger, sampling: config.tracingSampling });
const tracer = logCorrelated(tracing?.tracer ?? NO_TRACER);
const metrics = createMetrics({ enabled: config.metrics, service: SERVICE.worker, logger, file: config.metricsFile });
const dynamo = createDynamo(tracing?.instrument);
const sqs = createSqs(tracing?.instrument);
const workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
const snapshots = new DynamoSnapshotStore(dynamo, config.tables);
const telemetry = new WorkerTelemetry({
  tracer,
  metrics,
  runs: new DynamoRunRecordStore(dynamo, config.tables.runs),
  transitions: snapshots,
  circle,
  clock: systemClock,
  logger,
});
// Without a WebSocket API (e.g. a batch-only deployment) jobs run the same, unobserved.
// Pushes are not traced: one per token batch (every 50 ms) would swamp a job's trace.
const push = config.wsManagementEndpoint
  ? new LivePush(
      new DynamoConnectionStore(dynamo, config.tables.connections),
      new ApiGatewayPushGateway(createManagementApi(config.wsManagementEndpoint)),
      logger,
      { batchMs: config.deltaBatchMs, observer: telemetry.push },
    )
  : undefined;

const worker = new Worker(
  {
    jobs: new DynamoJobStore(dynamo, { jobs: config.tables.jobs, state: config.tables.state }),
    snapshots: telemetry.snapshotStore(snapshots),
    results: new DynamoResultStore(dynamo, config.tables.results),
    queue: telemetry.jobQueue(new SqsJobQueue(sqs, config.jobQueueUrl)),
    deadLetters: config.deadLetterQueueUrl ? new SqsJobQueue(sqs, config.deadLetterQueueUrl) : undefined,
    model: telemetry.modelClient(new BedrockModelClient(createBedrockRuntime(tracing?.instrument))),
    events: push ?? NO_EVENTS,
    circle,
    clock: systemClock,
    ids: cryptoIds,
    workerId,
    logger,
    tracer,
    telemetry,
  },
  config,
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, jobs: worker.activeJobs() }, 'worker stopping');
  const started = Date.now();
  await worker.shutdown();
  await push?.idle();
  await telemetry.idle();
  logger.info({ ms: Date.now() - started }, 'worker stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));

worker.start();
logger.info({ workerId, concurrency: config.concurrency }, 'worker ready');
