/**
 * A delivery that no longer holds its message (its visibility lapsed and the message was
 * received again, or it was deleted) says so instead of failing: the worker's heartbeat and
 * its hand-backs act on the newest delivery, whoever received it. Through the real SDK client
 * and the local SQS stand-in; the error shapes SQS itself answers are checked as recorded.
 */
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDeliveryGone, SqsJobQueue } from '../../services/shared/adapters/aws/sqs-job-queue.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../services/local/dynamodb-local.js';
import { startSqsLocal, type SqsLocal } from '../../services/local/sqs-local.js';

let sqsLocal: SqsLocal;
let sqs: SQSClient;

beforeAll(async () => {
  sqsLocal = await startSqsLocal();
  sqs = new SQSClient({ endpoint: sqsLocal.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
});

afterAll(async () => {
  sqs?.destroy();
  await sqsLocal?.stop();
});

async function queue(name: string): Promise<SqsJobQueue> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
  return new SqsJobQueue(sqs, url);
}

describe('SqsJobQueue.changeVisibility', () => {
  it('answers false for a delivery the message was received again after, and extends the newest one', async () => {
    const jobs = await queue('visibility-redelivered');
    await jobs.send('{"jobId":"a"}');
    const [first] = await jobs.receive(1, 1, 1);
    expect(first).toBeDefined();
    // Its one-second visibility lapses; the message is received again with a new receipt handle.
    const [second] = await jobs.receive(1, 5, 30);
    expect(second?.messageId).toBe(first!.messageId);
    expect(second?.receiveCount).toBe(2);

    expect(await jobs.changeVisibility(first!.receiptHandle, 30)).toBe(false);
    expect(await jobs.changeVisibility(second!.receiptHandle, 0)).toBe(true);
    // The newest delivery's change took effect: visible at once.
    const [third] = await jobs.receive(1, 1, 30);
    expect(third?.messageId).toBe(first!.messageId);
  });

  it('answers false once the message is gone', async () => {
    const jobs = await queue('visibility-deleted');
    await jobs.send('{"jobId":"b"}');
    const [message] = await jobs.receive(1, 1, 30);
    await jobs.delete(message!.receiptHandle);
    expect(await jobs.changeVisibility(message!.receiptHandle, 30)).toBe(false);
  });

  it('still throws for a failure that says nothing about the delivery', async () => {
    const jobs = await queue('visibility-invalid');
    await expect(jobs.changeVisibility('not-a-receipt-handle-anyone-issued', 99_999)).rejects.toThrow();
  });
});

describe('isDeliveryGone', () => {
  it('recognises how SQS says a receipt handle no longer holds its message, and nothing else', () => {
    const error = (name: string, message = '') => Object.assign(new Error(message), { name });
    // As SQS answers a handle whose message was received again since (recorded from AWS).
    expect(
      isDeliveryGone(
        error(
          'InvalidParameterValue',
          'Value AQEBwOHJSwLgisMDyCK1AFH5FUd9+8HtNECZNi23w3QkdI4lR6Ey4YRXZM0wj8XR6Q9xHXDBRX0l9PWswS5EGIrE0pVGJRM9bfDKxMdpUgVSRy38OnexBlVv6HmEuu5d38pkijCMr11enekaduQiWKX1V32MgEt for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.',
        ),
      ),
    ).toBe(true);
    expect(isDeliveryGone(error('MessageNotInflight', 'Message does not exist or is not available for visibility timeout change.'))).toBe(true);
    expect(isDeliveryGone(error('ReceiptHandleIsInvalid', 'The input receipt handle is invalid.'))).toBe(true);

    expect(isDeliveryGone(error('InvalidParameterValue', 'Value 99999 for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.'))).toBe(false);
    expect(isDeliveryGone(error('RequestThrottled', 'Rate exceeded'))).toBe(false);
    expect(isDeliveryGone(error('QueueDoesNotExist'))).toBe(false);
    expect(isDeliveryGone(null)).toBe(false);
    expect(isDeliveryGone('MessageNotInflight')).toBe(false);
  });
});
