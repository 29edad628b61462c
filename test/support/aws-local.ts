/**
 * DynamoDB Local + fauxqs + the tables and queues, for adapter tests that do not need the
 * rest of the stack. Every call gets its own JVM, fauxqs and uniquely suffixed names.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { startAwsStandins } from '../../services/local/aws-standins.js';
import type { TableNames } from '../../services/local/bootstrap.js';
import { isolatedBaseEnv, uniqueSuffix } from './isolation.js';
import type { ApiDeps } from '../../services/api/app.js';
import { DynamoJobStore } from '../../services/shared/adapters/aws/dynamo-job-store.js';
import { DynamoResultStore } from '../../services/shared/adapters/aws/dynamo-result-store.js';
import { DynamoSnapshotStore } from '../../services/shared/adapters/aws/dynamo-snapshot-store.js';
import { SqsJobQueue } from '../../services/shared/adapters/aws/sqs-job-queue.js';

export interface AwsLocal {
  /** AWS_* endpoint/region/credential and COT_* table/queue variables, for a child process. */
  env: Record<string, string>;
  dynamo: DynamoDBClient;
  /** Document client, marshalling like services/shared/aws-clients.ts createDynamo(). */
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: TableNames;
  jobQueueUrl: string;
  dlqUrl: string;
  dlqArn: string;
  endpoints: { dynamodb?: string; sqs?: string };
  stop(): Promise<void>;
}

export interface AwsLocalOptions {
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
}

/** Starts DynamoDB Local and fauxqs on ephemeral ports and creates every table and queue. */
export async function startAwsLocal(opts: AwsLocalOptions = {}): Promise<AwsLocal> {
  const aws = await startAwsStandins({
    baseEnv: isolatedBaseEnv(),
    suffix: uniqueSuffix(),
    maxReceiveCount: opts.maxReceiveCount,
    visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds,
  });
  return {
    env: aws.env,
    dynamo: aws.dynamo,
    doc: aws.doc,
    sqs: aws.sqs,
    tables: aws.tables,
    jobQueueUrl: aws.jobQueueUrl,
    dlqUrl: aws.dlqUrl,
    dlqArn: aws.dlqArn,
    endpoints: aws.endpoints,
    stop: () => aws.stop(),
  };
}

/** What the API stores and queues on, as its composition root builds them: the real adapters against this DynamoDB Local and fauxqs. */
export function apiStores(aws: AwsLocal): Pick<ApiDeps, 'jobs' | 'snapshots' | 'results' | 'queue'> {
  const { doc, tables } = aws;
  return {
    jobs: new DynamoJobStore(doc, { jobs: tables.jobs, state: tables.state }),
    snapshots: new DynamoSnapshotStore(doc, { state: tables.state, transitions: tables.transitions, jobs: tables.jobs }),
    results: new DynamoResultStore(doc, tables.results),
    queue: new SqsJobQueue(aws.sqs, aws.jobQueueUrl),
  };
}
