import type { TraceHeader } from './tracer.js';

export interface QueueMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** SQS ApproximateReceiveCount. */
  receiveCount: number;
  /** SQS SentTimestamp (epoch ms). */
  sentAt?: number;
  /** The trace the sender was in (SQS AWSTraceHeader): the job's trace. */
  traceHeader?: TraceHeader;
}

/** The job queue (SQS): wake-up pointers only. */
export interface JobQueue {
  /** Sends a message; it carries `traceHeader` or, by default, the sender's current trace. */
  send(body: string, delaySeconds?: number, traceHeader?: TraceHeader): Promise<void>;
  /** Long-polls; resolves with [] on abort. */
  receive(max: number, waitSeconds: number, visibilitySeconds: number, signal?: AbortSignal): Promise<QueueMessage[]>;
  delete(receiptHandle: string): Promise<void>;
  /**
   * Hides the message for `seconds` from now (0: visible at once). False when this delivery no
   * longer holds the message: its visibility lapsed and it was received again (a newer receipt
   * handle is the one that counts), or it is gone. Nothing changed then; the newest delivery,
   * whoever received it, decides. Other failures throw.
   */
  changeVisibility(receiptHandle: string, seconds: number): Promise<boolean>;
}
