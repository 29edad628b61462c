/**
 * The job queue carries the sender's trace as SQS does: the AWSTraceHeader message system
 * attribute, set from a traced client's X-Amzn-Trace-Id header or given explicitly, through
 * the real SDK client, the X-Ray SDK and the local SQS stand-in.
 */
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsJobQueue } from '../../services/shared/adapters/aws/sqs-job-queue.js';
import { silentLogger } from '../../services/shared/logging.js';
import { createTracing, type Tracing } from '../../services/shared/adapters/aws/xray-tracing.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../services/local/dynamodb-local.js';
import { startSqsLocal, type SqsLocal } from '../../services/local/sqs-local.js';
import { startXRayDaemon, type TraceDocument, type XRayDaemonStandin } from '../../services/local/xray-daemon.js';

const HEADER = 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1';

let sqsLocal: SqsLocal;
let sqs: SQSClient;
let daemon: XRayDaemonStandin;
let tracing: Tracing;
const documents: TraceDocument[] = [];

beforeAll(async () => {
  sqsLocal = await startSqsLocal();
  daemon = await startXRayDaemon({ onDocument: (doc) => documents.push(doc) });
  tracing = (await createTracing({ enabled: true, logger: silentLogger(), daemonAddress: daemon.address, sampling: 'local' }))!;
  sqs = tracing.instrument(new SQSClient({ endpoint: sqsLocal.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }));
});

afterAll(async () => {
  sqs?.destroy();
  await daemon?.close();
  await sqsLocal?.stop();
});

async function queue(name: string): Promise<{ url: string; jobs: SqsJobQueue }> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
  return { url, jobs: new SqsJobQueue(sqs, url) };
}

async function documentNamed(name: string): Promise<TraceDocument> {
  for (;;) {
    const found = documents.find((d) => d.name === name);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
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

  it('carries the trace a traced sender is in, its SendMessage call as parent, and none outside any trace', async () => {
    const { jobs } = await queue('trace-current');
    await tracing.tracer.segment('cot-api', () => jobs.send('{"jobId":"b"}'), { request: { method: 'POST', path: '/chat' } });
    await jobs.send('{"jobId":"c"}');
    const messages = await jobs.receive(10, 1, 30);
    const byBody = Object.fromEntries(messages.map((m) => [m.body, m.traceHeader]));
    const segment = await documentNamed('cot-api');
    const sendMessage = segment.subsegments?.find((s) => s.aws?.operation === 'SendMessage');
    expect(byBody['{"jobId":"b"}']).toBe(`Root=${segment.trace_id};Parent=${sendMessage?.id};Sampled=1`);
    expect(byBody['{"jobId":"c"}']).toBeUndefined();
  });

  it('returns the header only to receivers that ask for it', async () => {
    const { url, jobs } = await queue('trace-not-asked');
    await jobs.send('{"jobId":"d"}', undefined, HEADER);
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    expect(out.Messages?.[0]?.Attributes).toEqual({ ApproximateReceiveCount: '1' });
  });
});
