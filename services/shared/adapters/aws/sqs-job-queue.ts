import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { JobQueue, QueueMessage } from '../../ports/job-queue.js';
import type { TraceHeader } from '../../ports/tracer.js';

/** The message system attribute X-Ray reads on SQS, and the only one SQS lets senders set. */
const TRACE_ATTRIBUTE = 'AWSTraceHeader';

/**
 * The job queue on SQS. Messages carry their sender's trace as AWSTraceHeader: SQS sets it
 * from the X-Amzn-Trace-Id header a traced (instrumented) client sends, with the SendMessage
 * subsegment as parent; a header given to send() (a run handing its job over, outside any
 * request) is set as the attribute itself, which SQS lets win over the HTTP header.
 */
export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(body: string, delaySeconds?: number, trace?: TraceHeader): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        DelaySeconds: delaySeconds,
        MessageSystemAttributes: trace ? { [TRACE_ATTRIBUTE]: { DataType: 'String', StringValue: trace } } : undefined,
      }),
    );
  }

  async receive(max: number, waitSeconds: number, visibilitySeconds: number, signal?: AbortSignal): Promise<QueueMessage[]> {
    if (signal?.aborted) return [];
    try {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibilitySeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', TRACE_ATTRIBUTE],
        }),
        { abortSignal: signal },
      );
      return (out.Messages ?? []).map((m) => ({
        messageId: m.MessageId ?? '',
        receiptHandle: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
        sentAt: m.Attributes?.SentTimestamp ? Number(m.Attributes.SentTimestamp) : undefined,
        traceHeader: m.Attributes?.[TRACE_ATTRIBUTE] || undefined,
      }));
    } catch (err) {
      if (signal?.aborted) return [];
      throw err;
    }
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle }));
  }

  async changeVisibility(receiptHandle: string, seconds: number): Promise<boolean> {
    try {
      await this.sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: Math.round(seconds) }),
      );
      return true;
    } catch (err) {
      if (isDeliveryGone(err)) return false;
      throw err;
    }
  }
}

/**
 * How SQS says a receipt handle no longer holds its message: `MessageNotInflight` and
 * `ReceiptHandleIsInvalid` as modelled, and, for a message received again since, the
 * `InvalidParameterValue` "… Reason: Message does not exist or is not available for
 * visibility timeout change." that SQS has long answered instead. (A handle whose visibility
 * merely lapsed is answered OK by SQS, and changes nothing.)
 */
export function isDeliveryGone(err: unknown): boolean {
  const e = err as { name?: string; message?: string } | null;
  if (e?.name === 'MessageNotInflight' || e?.name === 'ReceiptHandleIsInvalid') return true;
  return e?.name === 'InvalidParameterValue' && /ReceiptHandle|not available for visibility timeout change/i.test(e.message ?? '');
}
