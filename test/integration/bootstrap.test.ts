import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { TABLES, type TableId } from '../../services/shared/contracts/tables.js';
import { ensureResources } from '../../services/local/bootstrap.js';
import { startAwsLocal, type AwsLocal } from '../support/aws-local.js';

const MAX_RECEIVE_COUNT = 3;
let aws: AwsLocal;

beforeAll(async () => {
  aws = await startAwsLocal({ maxReceiveCount: MAX_RECEIVE_COUNT });
});
afterAll(async () => {
  await aws?.stop();
});

async function receiveOne(queueUrl: string, opts: { visibility?: number; wait?: number } = {}): Promise<Message | undefined> {
  const out = await aws.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: opts.wait ?? 0,
      VisibilityTimeout: opts.visibility,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  return out.Messages?.[0];
}

async function send(body: string, delaySeconds?: number): Promise<string> {
  const out = await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.jobQueueUrl, MessageBody: body, DelaySeconds: delaySeconds }));
  return out.MessageId ?? '';
}

/** Receives until the message with this body shows up (other tests' leftovers are skipped). */
async function receiveBody(queueUrl: string, body: string, visibility: number): Promise<Message> {
  for (let i = 0; i < 20; i++) {
    const m = await receiveOne(queueUrl, { visibility, wait: 5 });
    if (m?.Body === body) return m;
  }
  throw new Error(`message ${body} never arrived on ${queueUrl}`);
}

describe('ensureResources', () => {
  it('creates every table with its keys, indexes, projections, on-demand billing and TTL', async () => {
    for (const id of Object.keys(TABLES) as TableId[]) {
      const def = TABLES[id];
      const { Table } = await aws.dynamo.send(new DescribeTableCommand({ TableName: aws.tables[id] }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      const keys = (Table?.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`);
      const wantKeys = [`${def.partitionKey.name}:HASH`, ...('sortKey' in def ? [`${def.sortKey.name}:RANGE`] : [])];
      expect(keys).toEqual(wantKeys);
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((g) => ({
        name: g.IndexName,
        keys: (g.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`),
        projection: g.Projection?.ProjectionType,
        attributes: [...(g.Projection?.NonKeyAttributes ?? [])].sort(),
      }));
      const wantIndexes = def.globalIndexes.map((i) => ({
        name: i.name,
        keys: [`${i.partitionKey.name}:HASH`, `${i.sortKey.name}:RANGE`],
        projection: i.projection === 'ALL' ? 'ALL' : 'INCLUDE',
        attributes: i.projection === 'ALL' ? [] : [...i.projection].sort(),
      }));
      expect(indexes).toEqual(wantIndexes);
      const ttl = await aws.dynamo.send(new DescribeTimeToLiveCommand({ TableName: aws.tables[id] }));
      expect(ttl.TimeToLiveDescription?.AttributeName).toBe(def.ttlAttribute);
      expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
    }
  });

  it('gives the job queue a redrive policy to the dead-letter queue', async () => {
    const { Attributes } = await aws.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: aws.jobQueueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    const policy = JSON.parse(Attributes?.RedrivePolicy ?? '{}') as { deadLetterTargetArn?: string; maxReceiveCount?: unknown };
    expect(policy.deadLetterTargetArn).toBe(aws.dlqArn);
    expect(Number(policy.maxReceiveCount)).toBe(MAX_RECEIVE_COUNT);
  });

  it('hands out queue URLs on the endpoint host, so SDK clients configured by AWS_ENDPOINT_URL_SQS reach them', () => {
    const endpoint = new URL(aws.endpoints.sqs ?? '');
    expect(new URL(aws.jobQueueUrl).host).toBe(endpoint.host);
    expect(new URL(aws.dlqUrl).host).toBe(endpoint.host);
  });

  it('changes nothing and does not fail when run again', async () => {
    const before = await aws.dynamo.send(new DescribeTableCommand({ TableName: aws.tables.jobs }));
    const again = await ensureResources({
      dynamo: aws.dynamo,
      sqs: aws.sqs,
      tables: aws.tables,
      queueName: aws.jobQueueUrl.split('/').pop() ?? '',
      dlqName: aws.dlqUrl.split('/').pop() ?? '',
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
    expect(again.jobQueueUrl).toBe(aws.jobQueueUrl);
    expect(again.dlqUrl).toBe(aws.dlqUrl);
    const after = await aws.dynamo.send(new DescribeTableCommand({ TableName: aws.tables.jobs }));
    expect(after.Table?.CreationDateTime).toEqual(before.Table?.CreationDateTime);
    expect(after.Table?.GlobalSecondaryIndexes?.length).toBe(before.Table?.GlobalSecondaryIndexes?.length);
  });
});

describe('fauxqs job queue', () => {
  it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
    const body = JSON.stringify({ jobId: 'poison-1' });
    await send(body);
    const counts: number[] = [];
    for (let i = 0; i < MAX_RECEIVE_COUNT; i++) {
      const m = await receiveBody(aws.jobQueueUrl, body, 1);
      counts.push(Number(m.Attributes?.ApproximateReceiveCount));
      // Hand it back at once instead of waiting for the visibility timeout.
      await aws.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: aws.jobQueueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    }
    expect(counts).toEqual([1, 2, 3]);
    // As in SQS, the receive after the last allowed one moves the message instead of returning it.
    expect(await receiveOne(aws.jobQueueUrl, { wait: 1 })).toBeUndefined();
    const dead = await receiveBody(aws.dlqUrl, body, 30);
    expect(dead.Body).toBe(body);
    await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: aws.dlqUrl, ReceiptHandle: dead.ReceiptHandle }));
  });

  it('keeps a received message invisible until its visibility is set to zero', async () => {
    const body = JSON.stringify({ jobId: 'visible-1' });
    await send(body);
    const first = await receiveBody(aws.jobQueueUrl, body, 300);
    expect(await receiveOne(aws.jobQueueUrl, { wait: 0 })).toBeUndefined();
    await aws.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: aws.jobQueueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0 }));
    const second = await receiveBody(aws.jobQueueUrl, body, 300);
    expect(second.MessageId).toBe(first.MessageId);
    expect(second.Attributes?.ApproximateReceiveCount).toBe('2');
    await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: aws.jobQueueUrl, ReceiptHandle: second.ReceiptHandle }));
    await aws.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: aws.jobQueueUrl, ReceiptHandle: second.ReceiptHandle, VisibilityTimeout: 0 })).catch(() => undefined);
    expect(await receiveOne(aws.jobQueueUrl, { wait: 0 })).toBeUndefined();
  });

  it('answers a long poll as soon as a message arrives, not when the wait ends', async () => {
    // The queue's own clock orders the events: `first` becomes visible 1 s after its send,
    // `later` 10 s after. A poll waiting across both moments that answers when `first`
    // appears returns it alone; one that answered only when its 20 s wait ended would
    // return both. (A poll opened late finds `first` already there: it can only pass sooner.)
    const first = JSON.stringify({ jobId: 'long-poll-1' });
    const later = JSON.stringify({ jobId: 'long-poll-2' });
    await send(first, 1);
    await send(later, 10);
    const out = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.jobQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20, VisibilityTimeout: 30 }),
    );
    expect(out.Messages?.map((m) => m.Body)).toEqual([first]);
    // Leave the queue empty for the next test without waiting out `later`'s delay.
    await aws.sqs.send(new PurgeQueueCommand({ QueueUrl: aws.jobQueueUrl }));
  });

  it('holds back a delayed message until its delay has passed', async () => {
    const body = JSON.stringify({ jobId: 'delayed-1' });
    await send(body, 1);
    expect(await receiveOne(aws.jobQueueUrl, { wait: 0 })).toBeUndefined();
    const m = await receiveBody(aws.jobQueueUrl, body, 30);
    expect(m.Body).toBe(body);
    await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: aws.jobQueueUrl, ReceiptHandle: m.ReceiptHandle }));
  });
});
