export interface QueueMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** SQS ApproximateReceiveCount. */
  receiveCount: number;
}

/** The job queue (SQS): wake-up pointers only. */
export interface JobQueue {
  send(body: string, delaySeconds?: number): Promise<void>;
  /** Long-polls; resolves with [] on abort. */
  receive(max: number, waitSeconds: number, visibilitySeconds: number, signal?: AbortSignal): Promise<QueueMessage[]>;
  delete(receiptHandle: string): Promise<void>;
  changeVisibility(receiptHandle: string, seconds: number): Promise<void>;
}
