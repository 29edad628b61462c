/**
 * The prompt of one step attempt, assembled from the results the step input references:
 * the question, the answers under their labels or names, the reviews, the aggregate, notes
 * for the chair, and for a repair the unusable reply and what was wrong with it.
 */
import type { StepInput } from '../../machines/advisory.types.js';
import type { JobItem } from '../shared/contracts/job.js';
import type { Circle, CircleMember } from '../shared/circle/circle.js';
import { memberOf } from '../shared/circle/circle.js';
import type { ResultStore } from '../shared/ports/result-store.js';
import type { Turn } from './history.js';
import { buildAdvicePrompt, buildReviewPrompt, buildSynthesisPrompt, type Prompt, type RepairRequest } from './prompts.js';
import { TRUNCATING_STOP_REASONS } from './step-output.js';

export interface StepPromptDeps {
  results: ResultStore;
  circle: Circle;
}

/** The prompt and, for a review, the labels the answer must rank. */
export async function promptFor(
  deps: StepPromptDeps,
  job: JobItem,
  member: CircleMember,
  input: StepInput,
  history: () => Promise<Turn[]>,
): Promise<{ prompt: Prompt; labels: string[] }> {
  const question = job.question;
  const repair = await repairOf(deps, input);
  switch (input.kind) {
    case 'advise':
      return { prompt: buildAdvicePrompt({ persona: member.persona, question, history: await history() }), labels: [] };
    case 'review': {
      const anonymised = input.anonymised ?? [];
      const items = await deps.results.getMany(input.jobId, anonymised.map((a) => a.resultRef));
      const answers = anonymised.map((a, i) => ({ label: a.label, text: items[i]?.text ?? '' }));
      const toolUse = member.toolUse ? { choice: member.toolUse.choice } : undefined;
      return { prompt: buildReviewPrompt({ persona: member.persona, question, answers, toolUse, repair }), labels: answers.map((a) => a.label) };
    }
    case 'synthesize':
      return { prompt: await synthesisPrompt(deps, job, member, input, repair), labels: [] };
  }
}

async function synthesisPrompt(deps: StepPromptDeps, job: JobItem, member: CircleMember, input: StepInput, repair?: RepairRequest): Promise<Prompt> {
  const nameOf = (id: string) => memberOf(deps.circle, id)?.name ?? id;
  const answersIn = input.answers ?? [];
  const reviewsIn = input.reviews ?? [];
  const [answerItems, reviewItems] = await Promise.all([
    deps.results.getMany(input.jobId, answersIn.map((a) => a.resultRef)),
    deps.results.getMany(input.jobId, reviewsIn.map((r) => r.resultRef)),
  ]);
  const answers = answersIn.map((a, i) => ({ advisorName: nameOf(a.advisorId), text: answerItems[i]?.text ?? '' }));
  const reviews = reviewsIn.flatMap((r, i) => {
    const parsed = reviewItems[i]?.parsed;
    return parsed?.kind === 'review' ? [{ reviewerName: nameOf(r.reviewerId), ranking: parsed.ranking, critiques: parsed.critiques }] : [];
  });
  const labelMap = Object.fromEntries(
    Object.entries(input.labels ?? {}).map(([reviewer, map]) => [
      nameOf(reviewer),
      Object.fromEntries(Object.entries(map).map(([label, advisorId]) => [label, nameOf(advisorId)])),
    ]),
  );
  const ranked = input.aggregate?.ranking ?? [];
  const aggregate = ranked.map((r) => ({ advisorName: nameOf(r.advisorId), meanPosition: r.meanPosition, votes: r.votes }));
  const notes = job.advisors
    .filter((id) => !answersIn.some((a) => a.advisorId === id))
    .map((id) => `${nameOf(id)} could not answer and is not part of this advice.`);
  if (job.mode === 'full' && answers.length >= 2 && reviews.length === 0) {
    notes.push('The advisors\u2019 reviews of each other could not be used, so there is no ranking: say so, and weigh the answers yourself.');
  }
  return buildSynthesisPrompt({
    chairPersona: member.persona,
    question: job.question,
    answers,
    reviews,
    labelMap,
    aggregate: aggregate.length ? aggregate : undefined,
    mode: job.mode,
    notes,
    repair,
  });
}

/** The unusable reply a repair attempt answers, read back from the Results table. */
async function repairOf(deps: StepPromptDeps, input: StepInput): Promise<RepairRequest | undefined> {
  if (!input.repair) return undefined;
  const previous = await deps.results.get(input.jobId, input.repair.resultRef);
  return {
    previous: previous?.text ?? '',
    problem: input.repair.problem,
    truncated: TRUNCATING_STOP_REASONS.includes(previous?.stopReason ?? ''),
  };
}
