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

/** Retries are ours (the machine's Retry policy), so the SDK makes one attempt per call. */
export function createBedrockRuntime(instrument: InstrumentClient = untraced): BedrockRuntimeClient {
  return instrument(new BedrockRuntimeClient({ maxAttempts: 1 }));
}

/**
 * `endpoint` is the WebSocket API's https://{api}.execute-api.{region}.amazonaws.com/{stage}.
 * A post that hangs is given up after 10 s (a post takes tens of milliseconds): one stuck
 * request must not hold its connection's queue of messages, or a finished job's message.
 */
export function createManagementApi(endpoint: string, instrument: InstrumentClient = untraced): ApiGatewayManagementApiClient {
  return instrument(new ApiGatewayManagementApiClient({ endpoint, maxAttempts: 1, requestHandler: { requestTimeout: 10_000 } }));
}
