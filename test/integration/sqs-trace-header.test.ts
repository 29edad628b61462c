/**
 * The job queue carries the sender's trace as SQS does: the AWSTraceHeader message system
 * attribute, through the real SDK client and the local SQS stand-in.
 */
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsJobQueue } from '../../services/shared/adapters/aws/sqs-job-queue.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../services/local/dynamodb-local.js';
import { startSqsLocal, type SqsLocal } from '../../services/local/sqs-local.js';

const HEADER = 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1';

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

async function queue(name: string, options?: ConstructorParameters<typeof SqsJobQueue>[2]): Promise<{ url: string; jobs: SqsJobQueue }> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
  return { url, jobs: new SqsJobQueue(sqs, url, options) };
}

describe('SqsJobQueue trace header', () => {
  it('hands the receiver the header the sender gave, with the time it was sent', async () => {
    const { jobs } = await queue('trace-explicit');
    const before = Date.now();
    await jobs.send('{"jobId":"a"}', undefined, HEADER);
    const [message] = await jobs.receive(1, 1, 30);
    expect(message?.traceHeader).toBe(HEADER);
    expect(message?.sentAt).toBeGreaterThanOrEqual(before - 1000);
    expect(message?.sentAt).toBeLessThanOrEqual(Date.now());
  });

  it('sends the current trace when the caller names none, and nothing outside any trace', async () => {
    let current: string | undefined = HEADER;
    const { jobs } = await queue('trace-current', { currentTrace: () => current });
    await jobs.send('{"jobId":"b"}');
    current = undefined;
    await jobs.send('{"jobId":"c"}');
    const messages = await jobs.receive(10, 1, 30);
    const byBody = Object.fromEntries(messages.map((m) => [m.body, m.traceHeader]));
    expect(byBody).toEqual({ '{"jobId":"b"}': HEADER, '{"jobId":"c"}': undefined });
  });

  it('returns the header only to receivers that ask for it', async () => {
    const { url, jobs } = await queue('trace-not-asked');
    await jobs.send('{"jobId":"d"}', undefined, HEADER);
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    expect(out.Messages?.[0]?.Attributes).toEqual({ ApproximateReceiveCount: '1' });
  });
});
