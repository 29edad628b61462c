/** The SQS job message as the worker reads it: only a pointer `{ jobId }`. */
import { z } from 'zod';
import type { JobMessage } from '../shared/contracts/job.js';

const messageSchema = z.object({ jobId: z.string().min(1).max(100) });

/** The job message in an SQS body, or undefined for anything else (never throws). */
export function parseMessage(body: string): JobMessage | undefined {
  try {
    const result = messageSchema.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
