import { addToLogContext, withLogContext } from '../../shared/telemetry/log-context.js';
import { parseJobId } from '../schemas/jobs.schema.js';
import type { ApiContext, ApiMiddleware } from './context.js';

/**
 * First in the chain: gives each request its own log context, which the request's trace id
 * and, once known, its job id join (see telemetry/log-context.ts), so every line the request
 * writes — the access log included — names them.
 */
export const logContext: ApiMiddleware = async function logContext(_ctx: ApiContext, next) {
  await withLogContext({}, next);
};

/** Router param hook for `:id`: the job a request is about joins its log context (only a well-formed id). */
export async function jobIdInLogContext(id: string, _ctx: unknown, next: () => Promise<unknown>): Promise<void> {
  let jobId: string | undefined;
  try {
    jobId = parseJobId(id);
  } catch {
    // Not a job id: the route answers 404; the text never reaches a log line as a job id.
  }
  if (jobId) addToLogContext({ jobId });
  await next();
}
