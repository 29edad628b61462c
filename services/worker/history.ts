/**
 * The conversation so far, for a follow-up: the earlier turns' questions and the advice the
 * chair gave, oldest first, so advisors answer the new question in context.
 */
import { stepIdOf } from '../../machines/advisory.types.js';
import type { JobItem } from '../shared/contracts/job.js';
import type { JobStore } from '../shared/ports/job-store.js';
import type { ResultStore } from '../shared/ports/result-store.js';
import type { SnapshotStore } from '../shared/ports/snapshot-store.js';
import { readSnapshot } from '../shared/snapshot-reader.js';

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

/**
 * What the circle advised in a finished job: the chair's recommendation, its whole text when
 * it could not be read into sections, or, when the chair could not write, the best-ranked
 * answer (the advice that job gave).
 */
async function adviceOf(deps: HistoryDeps, jobId: string): Promise<string | undefined> {
  const context = readSnapshot(await deps.snapshots.get(jobId))?.context;
  if (!context) return undefined;
  const synthesis = context.steps.synthesize;
  if (synthesis?.status === 'succeeded' && synthesis.resultRef) {
    const result = await deps.results.get(jobId, synthesis.resultRef);
    const parsed = result?.parsed;
    return parsed?.kind === 'synthesis' ? parsed.recommendation : result?.text;
  }
  const answered = context.advisors.filter((id) => context.steps[stepIdOf('advise', id)]?.status === 'succeeded');
  const best = context.aggregate?.ranking.find((r) => answered.includes(r.advisorId))?.advisorId ?? answered[0];
  const ref = best ? context.steps[stepIdOf('advise', best)]?.resultRef : undefined;
  return ref ? (await deps.results.get(jobId, ref))?.text : undefined;
}
