/** Path and query parameters of the /jobs routes. */
import { z } from 'zod';
import { InvalidCursorError } from '../../shared/errors.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { firstIssueMessage } from './issues.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export const MAX_CURSOR_CHARS = 2048;

/** Job ids are crypto.randomUUID() values. */
export const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ListJobsQuery {
  limit: number;
  cursor?: string;
}

const limitSchema = z
  .string({ error: 'limit must be given once' })
  .regex(/^\d{1,3}$/, `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
  .transform(Number)
  .pipe(z.number().min(1, `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`).max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`))
  .optional();

/** Validates GET /jobs query parameters; other parameters are ignored (e.g. cache busters). */
export function parseListJobsQuery(query: Record<string, string | string[] | undefined>): ListJobsQuery {
  const limit = limitSchema.safeParse(query.limit);
  if (!limit.success) throw new ValidationError(firstIssueMessage(limit.error), { cause: limit.error });
  const { cursor } = query;
  // The store checks the cursor's content; here only its shape.
  if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_CHARS)) {
    throw new InvalidCursorError('the cursor is not one this API produced');
  }
  return cursor === undefined ? { limit: limit.data ?? DEFAULT_PAGE_SIZE } : { limit: limit.data ?? DEFAULT_PAGE_SIZE, cursor };
}

/** A path job id; anything that is not one of our ids is simply not found. */
export function parseJobId(value: string | undefined): string {
  if (value === undefined || !JOB_ID.test(value)) throw new NotFoundError();
  return value;
}
