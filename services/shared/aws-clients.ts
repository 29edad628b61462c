/**
 * The one place that builds AWS SDK clients. Endpoints come from the SDK's own
 * configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, region, credentials chain),
 * so the same code talks to the local stand-ins or to AWS without changes.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  sqs: SQSClient;
}

/** The document client marshals plain objects; undefined attributes are dropped. */
export function createDynamo(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 5 }), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export function createSqs(): SQSClient {
  return new SQSClient({ maxAttempts: 5 });
}

/** Retries are ours (the machine's Retry policy), so the SDK makes one attempt per call. */
export function createBedrockRuntime(): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ maxAttempts: 1 });
}

/** `endpoint` is the WebSocket API's https://{api}.execute-api.{region}.amazonaws.com/{stage}. */
export function createManagementApi(endpoint: string): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint, maxAttempts: 1 });
}
