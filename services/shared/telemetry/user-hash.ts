import { createHash } from 'node:crypto';

/**
 * A stable pseudonym of a user id for traces and metrics properties: the same user always
 * gives the same 16 hex characters, so an operator can find a user's traces by hashing
 * their id, but the id itself is never stored in telemetry.
 */
export function userHash(userId: string): string {
  return createHash('sha256').update(`cot-user:${userId}`).digest('hex').slice(0, 16);
}
