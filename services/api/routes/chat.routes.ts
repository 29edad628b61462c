/** POST /chat: store the job, enqueue its wake-up pointer, answer 202. */
import type { JobItem, JobMessage } from '../../shared/contracts/job.js';
import { RETENTION_DAYS } from '../../shared/contracts/tables.js';
import type { Circle } from '../../shared/circle/circle.js';
import type { Logger } from '../../shared/logging.js';
import type { JobQueue, JobStore } from '../../shared/ports/index.js';
import { NotFoundError, UnavailableError } from '../errors.js';
import { addToLogContext } from '../../shared/telemetry/log-context.js';
import { callerOf, type ApiContext, type ApiMiddleware } from '../middleware/context.js';
import { createChatRequestParser, type ChatLimits, type ChatRequest } from '../schemas/chat.schema.js';

export interface ChatRouteDeps {
  jobs: JobStore;
  queue: JobQueue;
  circle: Circle;
  limits: ChatLimits;
  now: () => number;
  newJobId: () => string;
  logger: Logger;
}

const PREVIEW_CHARS = 120;
const DAY_SECONDS = 24 * 60 * 60;
export const ENQUEUE_FAILED_REASON = 'The job could not be queued for the circle; please ask again.';

/** The job as stored: owned by the token subject, queued, kept for RETENTION_DAYS. */
export function newJob(request: ChatRequest, owner: string, jobId: string, now: number): JobItem {
  const at = new Date(now).toISOString();
  const job: JobItem = {
    jobId,
    owner,
    question: request.question,
    questionPreview: [...request.question].slice(0, PREVIEW_CHARS).join(''),
    advisors: request.advisors,
    mode: request.mode,
    status: 'queued',
    stage: 'queued',
    createdAt: at,
    updatedAt: at,
    expiresAt: Math.floor(now / 1000) + RETENTION_DAYS * DAY_SECONDS,
  };
  // A new conversation is named after its first job; follow-ups carry that id.
  job.conversationId = request.conversationId ?? jobId;
  return job;
}

/** The POST /chat handler; runs after authenticate, rateLimit and jsonBody. */
export function createChat(deps: ChatRouteDeps): ApiMiddleware {
  const parse = createChatRequestParser(deps.circle, deps.limits);
  return async function createChat(ctx: ApiContext) {
    const request = parse(ctx.request.body);
    const owner = callerOf(ctx).sub;
    if (request.conversationId !== undefined) await assertOwnConversation(deps.jobs, request.conversationId, owner);
    const job = newJob(request, owner, deps.newJobId(), deps.now());
    addToLogContext({ jobId: job.jobId });
    await store(deps.jobs, job);
    await enqueueJob(deps, job.jobId, ctx.state.requestId);
    ctx.status = 202;
    ctx.set('Location', `/jobs/${job.jobId}`);
    ctx.body = { jobId: job.jobId, status: 'queued', conversationId: job.conversationId };
  };
}

/** A follow-up must continue one of the caller's conversations (named after its first job). */
async function assertOwnConversation(jobs: JobStore, conversationId: string, owner: string): Promise<void> {
  const first = await jobs.get(conversationId);
  // The same answer for a missing conversation and someone else's: no existence oracle.
  if (!first || first.owner !== owner || first.conversationId !== conversationId) {
    throw new NotFoundError('no such conversation among yours; start one without conversationId');
  }
}

async function store(jobs: JobStore, job: JobItem): Promise<void> {
  try {
    await jobs.create(job);
  } catch (err) {
    throw new UnavailableError('the job could not be stored; please try again', { cause: err });
  }
}

/**
 * A stored job that never reaches the queue would look queued forever, so a failed send
 * marks it failed with a readable reason before answering 503. Shared with POST /jobs/{id}/redrive.
 */
export async function enqueueJob(
  deps: Pick<ChatRouteDeps, 'queue' | 'jobs' | 'logger'>,
  jobId: string,
  requestId: string,
  failedReason = ENQUEUE_FAILED_REASON,
): Promise<void> {
  const message: JobMessage = { jobId };
  try {
    await deps.queue.send(JSON.stringify(message));
  } catch (err) {
    try {
      await deps.jobs.setStatus(jobId, 'failed', 'done', failedReason);
    } catch (markErr) {
      deps.logger.error({ requestId, jobId, err: markErr }, 'could not mark an unqueued job failed');
    }
    throw new UnavailableError('the job could not be queued; please try again', { cause: err });
  }
}
