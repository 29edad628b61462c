/**
 * The AWS half of the local stack: DynamoDB Local + fauxqs (each only when its endpoint is
 * not already configured), then the tables and queues. Used by `startLocalStack` and by the
 * tests' `startAwsLocal`, so both create resources the same way.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { DEFAULT_NAMES, ENV, MAX_RECEIVE_COUNT_DEFAULT } from '../shared/contracts/names.js';
import { TABLES, type TableId } from '../shared/contracts/tables.js';
import { ensureResources, type TableNames } from './bootstrap.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { startSqsLocal, type SqsLocal } from './sqs-local.js';

export type Env = Record<string, string | undefined>;

/** The SDK's own endpoint variables (see the AWS SDKs' "service-specific endpoints"). */
export const ENDPOINT_ENV = {
  all: 'AWS_ENDPOINT_URL',
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  sqs: 'AWS_ENDPOINT_URL_SQS',
  bedrockRuntime: 'AWS_ENDPOINT_URL_BEDROCK_RUNTIME',
} as const;

export interface AwsStandinsOptions {
  /** The environment the stack inherits (endpoint variables set here are honoured). */
  baseEnv: Env;
  /** Appended to every table and queue name (`cot-jobs-<suffix>`), so callers never share state. */
  suffix?: string;
  /** Persist DynamoDB data in this directory; in memory when unset. */
  dynamoDbPath?: string;
  dynamoPort?: number;
  sqsPort?: number;
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
  onDynamoLine?: (line: string) => void;
}

export interface AwsStandins {
  /** AWS_* and COT_* variables a service process needs for DynamoDB and SQS. */
  env: Record<string, string>;
  endpoints: { dynamodb?: string; sqs?: string };
  /** What we started ourselves (undefined: an external endpoint from the environment). */
  started: { dynamodb?: DynamoDbLocal; sqs?: SqsLocal };
  dynamo: DynamoDBClient;
  /** Document client with the same marshalling options as services/shared/aws-clients.ts. */
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: TableNames;
  queueNames: { jobs: string; dlq: string };
  jobQueueUrl: string;
  dlqUrl: string;
  dlqArn: string;
  stop(): Promise<void>;
}

/** Table and queue names for a suffix (none: the default names). */
export function resourceNames(suffix?: string): { tables: TableNames; queueNames: { jobs: string; dlq: string } } {
  const withSuffix = (n: string): string => (suffix ? `${n}-${suffix}` : n);
  const tables = Object.fromEntries(
    (Object.keys(TABLES) as TableId[]).map((id) => [id, withSuffix(TABLES[id].defaultName)]),
  ) as TableNames;
  return { tables, queueNames: { jobs: withSuffix(DEFAULT_NAMES.jobQueue), dlq: withSuffix(DEFAULT_NAMES.deadLetterQueue) } };
}

/** Region and (dummy) credentials, only where the environment does not set them. */
export function awsBaseEnv(baseEnv: Env): Record<string, string> {
  const env: Record<string, string> = {};
  if (!baseEnv.AWS_REGION && !baseEnv.AWS_DEFAULT_REGION) env.AWS_REGION = LOCAL_REGION;
  // The local stack runs on Node 20 by design (see README); the SDK's Node 22 notice is noise here.
  if (!baseEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED) env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const hasKeys = baseEnv.AWS_ACCESS_KEY_ID && baseEnv.AWS_SECRET_ACCESS_KEY;
  if (!hasKeys && !baseEnv.AWS_PROFILE) {
    env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  }
  return env;
}

/** The endpoint the environment configures for a service, if any (specific wins over global). */
export function configuredEndpoint(env: Env, specific: string): string | undefined {
  return env[specific] || env[ENDPOINT_ENV.all] || undefined;
}

/** Starts (or reuses) DynamoDB and SQS and creates the tables and queues. */
export async function startAwsStandins(opts: AwsStandinsOptions): Promise<AwsStandins> {
  const started: AwsStandins['started'] = {};
  const stopStarted = async (): Promise<void> => {
    await Promise.allSettled([started.sqs?.stop(), started.dynamodb?.stop()]);
  };
  try {
    const env: Record<string, string> = awsBaseEnv(opts.baseEnv);
    let dynamoEndpoint = configuredEndpoint(opts.baseEnv, ENDPOINT_ENV.dynamodb);
    if (!dynamoEndpoint) {
      started.dynamodb = await startDynamoDbLocal({
        port: opts.dynamoPort,
        inMemory: !opts.dynamoDbPath,
        dbPath: opts.dynamoDbPath,
        onLine: opts.onDynamoLine,
      });
      dynamoEndpoint = started.dynamodb.endpoint;
      env[ENDPOINT_ENV.dynamodb] = dynamoEndpoint;
    }
    let sqsEndpoint = configuredEndpoint(opts.baseEnv, ENDPOINT_ENV.sqs);
    if (!sqsEndpoint) {
      started.sqs = await startSqsLocal({ port: opts.sqsPort });
      sqsEndpoint = started.sqs.endpoint;
      env[ENDPOINT_ENV.sqs] = sqsEndpoint;
    }

    const clientEnv = { ...opts.baseEnv, ...env };
    const dynamo = new DynamoDBClient({ ...sdkConfig(clientEnv, dynamoEndpoint), maxAttempts: 5 } satisfies DynamoDBClientConfig);
    const doc = DynamoDBDocumentClient.from(dynamo, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
    const sqs = new SQSClient({ ...sdkConfig(clientEnv, sqsEndpoint), maxAttempts: 5 } satisfies SQSClientConfig);
    const { tables, queueNames } = resourceNames(opts.suffix);
    const maxReceiveCount = opts.maxReceiveCount ?? MAX_RECEIVE_COUNT_DEFAULT;
    const queues = await ensureResources({
      dynamo,
      sqs,
      tables,
      queueName: queueNames.jobs,
      dlqName: queueNames.dlq,
      maxReceiveCount,
      visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds,
    });
    for (const id of Object.keys(TABLES) as TableId[]) env[TABLES[id].env] = tables[id];
    env[ENV.jobQueueUrl] = queues.jobQueueUrl;
    env[ENV.deadLetterQueueUrl] = queues.dlqUrl;
    env[ENV.maxReceiveCount] = String(maxReceiveCount);

    return {
      env,
      endpoints: { dynamodb: dynamoEndpoint, sqs: sqsEndpoint },
      started,
      dynamo,
      doc,
      sqs,
      tables,
      queueNames,
      ...queues,
      async stop() {
        dynamo.destroy();
        sqs.destroy();
        await stopStarted();
      },
    };
  } catch (err) {
    await stopStarted();
    throw err;
  }
}

/** Client settings from an explicit environment (not process.env). */
function sdkConfig(env: Env, endpoint: string | undefined): { endpoint?: string; region: string; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || LOCAL_REGION;
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined }
      : undefined;
  return { endpoint, region, credentials };
}
