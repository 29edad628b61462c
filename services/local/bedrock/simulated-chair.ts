/**
 * The simulated chair: advice in the four sections, written from what its prompt shows
 * (the answers, the reviewers' aggregate ranking, the notes) so that it says only what is
 * true of them. It quotes whole opening sentences, never fragments; it calls a tie a tie;
 * it reports disagreement when the answers lean different ways (act now against check
 * first) and then never claims high confidence; every verb agrees with the names it has.
 */
import { z } from 'zod';
import type { PromptView } from './converse-request.js';
import { Seeded, capitalise, fill, keyPhrases, leadSentence, listOf } from './text-kit.js';

const byCount = z.object({ one: z.string(), many: z.string() });
export const chairSchema = z.object({
  recommendation: z.object({
    leader: z.array(z.string()).min(1),
    level: z.array(z.string()).min(1),
    unranked: z.array(z.string()).min(1),
    single: z.array(z.string()).min(1),
    splitTail: z.array(z.string()).min(1),
    splitTailForward: z.array(z.string()).min(1),
    sameTail: z.array(z.string()).min(1),
    unrankedNote: z.string(),
  }),
  agreement: z.object({ one: z.array(z.string()).min(1), two: z.array(z.string()).min(1), many: z.array(z.string()).min(1) }),
  dissent: z.object({
    split: z.array(z.string()).min(1),
    forwardSays: byCount,
    cautiousSays: byCount,
    none: z.array(z.string()).min(1),
    single: z.array(z.string()).min(1),
  }),
  confidence: z.object({ high: z.string(), medium: z.string(), low: z.string() }),
  why: z.object({
    agreedLeader: z.string(),
    agreed: z.string(),
    split: z.string(),
    splitLevel: z.string(),
    unranked: z.string(),
    single: z.string(),
    missing: z.string(),
  }),
});
export type ChairBank = z.infer<typeof chairSchema>;

export type Stance = 'forward' | 'cautious' | 'balanced';

/** The four sections the simulated chair writes, before they are put into markdown. */
export interface ChairSections {
  recommendation: string;
  agreement: string;
  dissent: string;
  confidence: { level: 'high' | 'medium' | 'low'; reason: string };
}

const CAUTIOUS = /\b(careful|slow down|push back|hard look|separate what you know|do not decide|before (?:anyone|deciding|you) commit|check (?:them|first))/i;
const FORWARD = /\b(go ahead|make the move|real progress|small, cheap test|next three moves|resources you have now|this week|start on)\b/i;
/** Notes that mean the reviews could not be used (the worker's wording). */
const UNRANKED_NOTE = /reviews? of each other could not be used/i;

/** Whether an answer leans towards acting now, checking first, or neither (read from its opening). */
export function stanceOf(answer: string): Stance {
  const opening = answer.split(/\n\s*\n/).slice(0, 2).join('\n');
  const cautious = CAUTIOUS.test(opening);
  const forward = FORWARD.test(opening);
  return cautious && !forward ? 'cautious' : forward && !cautious ? 'forward' : 'balanced';
}

/**
 * The reviewers' order in words, ties as ties: "Claude first, then Mistral and Llama level",
 * "Claude, Mistral and Llama level". Empty without an aggregate.
 */
export function rankingSentence(aggregate: readonly { advisor: string; meanPosition: number }[]): string {
  if (aggregate.length < 2) return '';
  const groups: string[][] = [];
  let last: number | undefined;
  for (const r of aggregate) {
    if (r.meanPosition === last) groups.at(-1)?.push(r.advisor);
    else groups.push([r.advisor]);
    last = r.meanPosition;
  }
  if (groups.length === 1) return `The reviewers ranked ${listOf(groups[0] ?? [])} level.`;
  const parts = groups.map((g, i) => {
    const names = listOf(g);
    if (i === 0) return g.length > 1 ? `${names} level in first place` : `${names} first`;
    return g.length > 1 ? `then ${names} level` : `then ${names}`;
  });
  return `The reviewers ranked ${parts.join(', ')}.`;
}

/** The chair's sections for what the prompt shows. Deterministic for the same prompt. */
export function chairSections(bank: ChairBank, view: PromptView): ChairSections {
  const rng = new Seeded('synthesize', view.question, ...view.answers.map((a) => a.advisor ?? a.label ?? ''));
  const names = view.answers.map((a, i) => a.advisor ?? `Advisor ${i + 1}`);
  const textOf = (name: string): string => view.answers[names.indexOf(name)]?.text ?? '';
  const phrases = keyPhrases(view.question);
  const focus = phrases[0] ?? 'this decision';
  const focus2 = phrases[1] ?? focus;
  const says = (name: string): string => {
    const lead = leadSentence(textOf(name));
    return lead ? `: "${lead}"` : ` on ${focus}.`;
  };

  const ranked = view.aggregate.filter((r) => names.includes(r.advisor));
  const unranked = ranked.length < 2;
  const topMean = ranked[0]?.meanPosition;
  const tiedTop = ranked.filter((r) => r.meanPosition === topMean).map((r) => r.advisor);
  const top = unranked ? (names[0] ?? 'The circle') : (tiedTop[0] ?? names[0] ?? 'The circle');
  const stances = new Map(names.map((n) => [n, stanceOf(textOf(n))]));
  const forward = names.filter((n) => stances.get(n) === 'forward');
  const cautious = names.filter((n) => stances.get(n) === 'cautious');
  const split = forward.length > 0 && cautious.length > 0;
  const missing = view.notes.some((n) => !UNRANKED_NOTE.test(n));
  const reviewsFailed = view.notes.some((n) => UNRANKED_NOTE.test(n));
  const values = { top, names: listOf(names), focus, focus2, topSays: says(top), tied: listOf(tiedTop), cautious: listOf(cautious), forward: listOf(forward) };

  // Recommendation: who leads (or that nobody does), then whether the rest agree.
  let recommendation: string;
  if (names.length < 2) recommendation = fill(rng.pick(bank.recommendation.single), values);
  else if (unranked) recommendation = fill(rng.pick(bank.recommendation.unranked), values);
  else if (tiedTop.length > 1) recommendation = fill(rng.pick(bank.recommendation.level), values);
  else recommendation = fill(rng.pick(bank.recommendation.leader), values);
  if (names.length >= 2 && !(tiedTop.length > 1 && !unranked)) {
    // When the circle is split, the tail names the side the leading answer is not on.
    const tail = !split ? bank.recommendation.sameTail : cautious.includes(top) ? bank.recommendation.splitTailForward : bank.recommendation.splitTail;
    recommendation += ` ${fill(rng.pick(tail), values)}`;
  }
  if (reviewsFailed) recommendation += ` ${bank.recommendation.unrankedNote}`;

  const agreementBank = names.length < 2 ? bank.agreement.one : names.length === 2 ? bank.agreement.two : bank.agreement.many;
  const agreement = fill(rng.pick(agreementBank), values);

  let dissent: string;
  if (names.length < 2) dissent = rng.pick(bank.dissent.single);
  else if (split) {
    const side = (group: string[], forms: { one: string; many: string }): string =>
      fill(group.length === 1 ? forms.one : forms.many, { first: group[0] ?? '', lead: leadSentence(textOf(group[0] ?? '')) ?? `${capitalise(focus)} needs a closer look.` });
    dissent = fill(rng.pick(bank.dissent.split), {
      ...values,
      forward: listOf(forward),
      cautious: listOf(cautious),
      forwardSays: side(forward, bank.dissent.forwardSays),
      cautiousSays: side(cautious, bank.dissent.cautiousSays),
    });
  } else dissent = fill(rng.pick(bank.dissent.none), values);

  // Confidence follows from the above: never high when the circle is split, incomplete or unranked.
  const everyoneFirst = !unranked && tiedTop.length === 1 && topMean === 1;
  let level: ChairSections['confidence']['level'];
  let why: string;
  if (names.length < 2) [level, why] = ['low', bank.why.single];
  else if (split) [level, why] = !unranked && tiedTop.length > 1 ? ['low', bank.why.splitLevel] : ['medium', bank.why.split];
  else if (unranked) [level, why] = ['medium', bank.why.unranked];
  else [level, why] = everyoneFirst ? ['high', bank.why.agreedLeader] : ['medium', bank.why.agreed];
  if (missing && names.length >= 2) {
    level = level === 'high' ? 'medium' : 'low';
    why = bank.why.missing;
  }
  const reason = fill(bank.confidence[level], { why, ranking: rankingSentence(ranked) }).replace(/\s+$/, '');
  return { recommendation: capitalise(recommendation), agreement, dissent, confidence: { level, reason } };
}

/** The sections as the chair is asked to write them. */
export function chairMarkdown(sections: ChairSections): string {
  return [
    '## Recommendation',
    sections.recommendation,
    '## Where the circle agrees',
    sections.agreement,
    '## Where the circle disagrees',
    sections.dissent,
    '## Confidence',
    capitalise(sections.confidence.reason),
  ].join('\n\n');
}
