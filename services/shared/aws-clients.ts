/**
 * The one place that builds AWS SDK clients. Endpoints come from the SDK's own
 * configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, region, credentials chain),
 * so the same code talks to the local stand-ins or to AWS without changes. With tracing on,
 * each client is passed through `instrument` (adapters/aws/xray-tracing.ts) so its calls
 * become subsegments of the current trace.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** What instrumenting needs of an SDK v3 client: its middleware stack and config. */
export interface InstrumentableClient {
  middlewareStack: { use: unknown; remove: unknown };
  config: unknown;
}

/** Hooks a client into tracing and returns it; the default leaves it untouched. */
export type InstrumentClient = <C extends InstrumentableClient>(client: C) => C;

const untraced: InstrumentClient = (client) => client;

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  sqs: SQSClient;
}

/** The document client marshals plain objects; undefined attributes are dropped. */
export function createDynamo(instrument: InstrumentClient = untraced): DynamoDBDocumentClient {
  // The document client shares the inner client's middleware stack, so one capture covers both.
  return DynamoDBDocumentClient.from(instrument(new DynamoDBClient({ maxAttempts: 5 })), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export function createSqs(instrument: InstrumentClient = untraced): SQSClient {
  return instrument(new SQSClient({ maxAttempts: 5 }));
}

/**
 * Retries are ours (the machine's Retry policy), so the SDK makes one attempt per call.
 *
 * HTTP/1.1 with keep-alive, not the client's default: since 3.798 the SDK sends Bedrock
 * Runtime calls over HTTP/2 and opens a new session for every event-stream call (each
 * ConverseStream), so every model call paid a fresh connection (TCP and, in AWS, TLS)
 * before its request could leave — on the job's critical path at every stage. Over
 * HTTP/1.1 a call takes a warm connection from the pool (Converse and ConverseStream are
 * served over HTTP/1.1; only the bidirectional stream needs HTTP/2, and we do not use it).
 * No socket limit: the calls in flight are bounded by the worker's concurrency times the
 * circle, and a call must never queue behind another for a socket.
 */
export function createBedrockRuntime(instrument: InstrumentClient = untraced): BedrockRuntimeClient {
  const requestHandler = new NodeHttpHandler({
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: Infinity }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: Infinity }),
  });
  return instrument(new BedrockRuntimeClient({ maxAttempts: 1, requestHandler }));
}

/**
 * `endpoint` is the WebSocket API's https://{api}.execute-api.{region}.amazonaws.com/{stage}.
 * A post that hangs is given up after 10 s (a post takes tens of milliseconds): one stuck
 * request must not hold its connection's queue of messages, or a finished job's message.
 */
export function createManagementApi(endpoint: string, instrument: InstrumentClient = untraced): ApiGatewayManagementApiClient {
  return instrument(new ApiGatewayManagementApiClient({ endpoint, maxAttempts: 1, requestHandler: { requestTimeout: 10_000 } }));
}
