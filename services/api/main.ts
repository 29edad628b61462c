/**
 * The API service's composition root: parse config, build the SDK clients, adapters,
 * verifier and circle, serve the app on config.host:port, and shut down gracefully on
 * SIGTERM/SIGINT (stop accepting, let in-flight requests finish, exit 0).
 */
import { createServer, type Server } from 'node:http';
import { createApp } from './app.js';
import { listen } from '../shared/net.js';
import { createDynamo, createManagementApi, createSqs } from '../shared/aws-clients.js';
import { ApiGatewayPushGateway } from '../shared/adapters/aws/apigw-push-gateway.js';
import { DynamoConnectionStore } from '../shared/adapters/aws/dynamo-connection-store.js';
import { DynamoJobStore } from '../shared/adapters/aws/dynamo-job-store.js';
import { DynamoResultStore } from '../shared/adapters/aws/dynamo-result-store.js';
import { DynamoSnapshotStore } from '../shared/adapters/aws/dynamo-snapshot-store.js';
import { DynamoRunRecordStore } from '../shared/adapters/aws/dynamo-run-record-store.js';
import { SqsJobQueue } from '../shared/adapters/aws/sqs-job-queue.js';
import { createJwtVerifier } from '../shared/auth/jwt-verifier.js';
import { loadCircle } from '../shared/circle/circle.js';
import { loadApiConfig } from '../shared/config.js';
import { SERVICE } from '../shared/contracts/names.js';
import { ConfigError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logging.js';
import { createTracing } from '../shared/adapters/aws/xray-tracing.js';
import { logCorrelated } from '../shared/telemetry/log-context.js';

/** How long in-flight requests get to finish after SIGTERM before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = createLogger(SERVICE.api, config.logLevel);
  const circle = loadCircle(config.circleFile);
  const tracing = await createTracing({ enabled: config.tracing, logger, sampling: config.tracingSampling });
  // Each request's trace id joins its log lines; POST /chat's trace travels on with the job's message (SqsJobQueue).
  const tracer = tracing && logCorrelated(tracing.tracer);
  const dynamo = createDynamo(tracing?.instrument);
  const sqs = createSqs(tracing?.instrument);
  const { tables } = config;

  const app = createApp({
    jobs: new DynamoJobStore(dynamo, { jobs: tables.jobs, state: tables.state }),
    snapshots: new DynamoSnapshotStore(dynamo, { state: tables.state, transitions: tables.transitions, jobs: tables.jobs }),
    results: new DynamoResultStore(dynamo, tables.results),
    queue: new SqsJobQueue(sqs, config.jobQueueUrl),
    runs: new DynamoRunRecordStore(dynamo, tables.runs),
    circle,
    verifier: createJwtVerifier(config.oidc),
    logger,
    config,
    // loadApiConfig refuses a management endpoint without the integration secret.
    ws:
      config.wsManagementEndpoint && config.wsIntegrationSecret
        ? {
            connections: new DynamoConnectionStore(dynamo, tables.connections),
            push: new ApiGatewayPushGateway(createManagementApi(config.wsManagementEndpoint, tracing?.instrument)),
            integrationSecret: config.wsIntegrationSecret,
            maxConnectionsPerUser: config.wsMaxConnectionsPerUser,
          }
        : undefined,
    tracer,
  });

  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's request handler never rejects: it answers errors itself
  const server = createServer(app.callback());
  await listen(server, config.port, config.host);
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : config.port;
  logger.info({ url: `http://${config.host}:${port}` }, 'api listening');

  stopGracefully(server, logger, () => {
    dynamo.destroy();
    sqs.destroy();
  });
}

/**
 * On the first SIGTERM/SIGINT: stop accepting connections, answer in-flight requests with
 * `Connection: close`, close idle keep-alive sockets, exit 0 once the last one is done.
 * After the grace period (or a second signal) the remaining connections are cut.
 */
function stopGracefully(server: Server, logger: Logger, cleanup: () => void): void {
  let stopping = false;
  server.on('request', (_req, res) => {
    if (stopping) res.setHeader('Connection', 'close');
    res.once('finish', () => {
      if (stopping) server.closeIdleConnections();
    });
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: closing every connection now');
      server.closeAllConnections();
      return;
    }
    stopping = true;
    const deadline = setTimeout(() => {
      logger.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'grace period over: closing the remaining connections');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    deadline.unref();
    server.close(() => {
      clearTimeout(deadline);
      cleanup();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    // Logged after close(): from this line on, new connections are refused.
    logger.info({ signal }, 'stopping: no new connections, finishing in-flight requests');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  // Configuration problems are the operator's to fix: say what is wrong, no stack trace.
  if (err instanceof ConfigError) process.stderr.write(`cot-api: ${err.message}\n`);
  else process.stderr.write(`cot-api: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
