import type { z } from 'zod';

/** The first schema problem as one sentence; messages are written to name their field. */
export function firstIssueMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue?.message ?? 'the request is not valid';
}
