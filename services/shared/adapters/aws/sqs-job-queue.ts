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

export interface SqsJobQueueOptions {
  /** The trace header of the caller's current trace, for sends that name none (e.g. POST /chat's). */
  currentTrace?: () => TraceHeader | undefined;
}

/** The job queue on SQS; messages carry their sender's trace as AWSTraceHeader. */
export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly options: SqsJobQueueOptions = {},
  ) {}

  async send(body: string, delaySeconds?: number, traceHeader?: TraceHeader): Promise<void> {
    const trace = traceHeader ?? this.options.currentTrace?.();
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

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: Math.round(seconds) }),
    );
  }
}
