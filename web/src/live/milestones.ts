/**
 * What the status region announces between two views of a job: milestones a person waits
 * for (an advisor answered or failed, the reviews are in, the advice is ready, the job
 * failed or was cancelled), never streamed text.
 */
import type { JobView } from '../contracts';

/**
 * A succeeded job's advice is ready once the view that reads it into sections has arrived:
 * the transitions say the job succeeded a moment before that view does.
 */
export const adviceReady = (view: JobView): boolean => view.status === 'succeeded' && view.adviceQuality !== undefined;

export function milestones(prev: JobView | undefined, next: JobView | undefined): string[] {
  if (!prev || !next || prev.jobId !== next.jobId) return [];
  const out: string[] = [];
  for (const advisor of next.advisors) {
    const before = prev.advisors.find((a) => a.id === advisor.id)?.answer.status;
    const now = advisor.answer.status;
    if (before === now) continue;
    if (now === 'succeeded') out.push(`${advisor.name} answered.`);
    if (now === 'failed') out.push(`${advisor.name} could not answer.`);
  }
  if (prev.stage !== next.stage && next.stage === 'synthesizing' && next.mode === 'full') out.push('The reviews are in; the chair is writing the advice.');
  // Ready once the whole view is in (its sections and quality come with it), not at the last transition.
  if (adviceReady(next) && !adviceReady(prev)) out.push('The advice is ready.');
  if (prev.status !== next.status) {
    if (next.status === 'failed') out.push(`The job failed.${next.reason ? ` ${next.reason}` : ''}`);
    if (next.status === 'cancelled') out.push('The job was cancelled.');
  }
  return out;
}
