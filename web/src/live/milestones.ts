/**
 * What the status region announces between two views of a job: milestones a person waits
 * for (an advisor answered or failed, the reviews are in, the advice is ready, the job
 * failed or was cancelled), never streamed text.
 */
import type { JobView } from '../contracts';

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
  if (prev.status !== next.status) {
    if (next.status === 'succeeded') out.push('The advice is ready.');
    if (next.status === 'failed') out.push(`The job failed.${next.reason ? ` ${next.reason}` : ''}`);
    if (next.status === 'cancelled') out.push('The job was cancelled.');
  }
  return out;
}
