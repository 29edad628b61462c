/** The job queue with each received message's age (sent → received) reported. */
import type { Clock, JobQueue, QueueMessage, TraceHeader } from '../../shared/ports/index.js';

export class ObservedJobQueue implements JobQueue {
  constructor(
    private readonly inner: JobQueue,
    private readonly clock: Clock,
    private readonly onAge: (ageMs: number) => void,
  ) {}

  send(body: string, delaySeconds?: number, traceHeader?: TraceHeader): Promise<void> {
    return this.inner.send(body, delaySeconds, traceHeader);
  }

  async receive(max: number, waitSeconds: number, visibilitySeconds: number, signal?: AbortSignal): Promise<QueueMessage[]> {
    const messages = await this.inner.receive(max, waitSeconds, visibilitySeconds, signal);
    const now = this.clock.now();
    for (const m of messages) if (m.sentAt !== undefined) this.onAge(Math.max(0, now - m.sentAt));
    return messages;
  }

  delete(receiptHandle: string): Promise<void> {
    return this.inner.delete(receiptHandle);
  }

  changeVisibility(receiptHandle: string, seconds: number): Promise<boolean> {
    return this.inner.changeVisibility(receiptHandle, seconds);
  }
}
