/**
 * The conversation so far, for a follow-up: the earlier turns' questions and the advice the
 * chair gave, oldest first, so advisors answer the new question in context.
 */
import type { AdvisoryContext } from '../../machines/advisory.types.js';
import type { JobItem } from '../shared/contracts/job.js';
import type { JobStore } from '../shared/ports/job-store.js';
import type { ResultStore } from '../shared/ports/result-store.js';
import type { SnapshotStore } from '../shared/ports/snapshot-store.js';

export interface Turn {
  question: string;
  answer: string;
}

/** Earlier turns given to advisors; older ones are left out to keep prompts bounded. */
export const MAX_HISTORY_TURNS = 3;

export interface HistoryDeps {
  jobs: JobStore;
  snapshots: SnapshotStore;
  results: ResultStore;
}

/** The earlier succeeded turns of `job`'s conversation (same owner), oldest first. */
export async function loadHistory(deps: HistoryDeps, job: JobItem): Promise<Turn[]> {
  const conversationId = job.conversationId;
  if (!conversationId || conversationId === job.jobId) return [];
  const turns = await deps.jobs.listConversation(conversationId, 20);
  const earlier = turns
    .filter((t) => t.jobId !== job.jobId && t.owner === job.owner && t.createdAt < job.createdAt && t.status === 'succeeded')
    .slice(0, MAX_HISTORY_TURNS)
    .reverse();
  const answers = await Promise.all(earlier.map((t) => adviceOf(deps, t.jobId)));
  return earlier.flatMap((t, i) => (answers[i] ? [{ question: t.question, answer: answers[i] }] : []));
}

/** The chair's recommendation for a finished job (its full advice when it was not parsed). */
async function adviceOf(deps: HistoryDeps, jobId: string): Promise<string | undefined> {
  const state = await deps.snapshots.get(jobId);
  if (!state?.snapshot) return undefined;
  const context = (JSON.parse(state.snapshot) as { context?: AdvisoryContext }).context;
  const ref = context?.steps.synthesize?.resultRef;
  if (!ref) return undefined;
  const result = await deps.results.get(jobId, ref);
  const parsed = result?.parsed;
  return parsed?.kind === 'synthesis' ? parsed.recommendation : result?.text;
}
