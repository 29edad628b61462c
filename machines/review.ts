/**
 * The anonymous peer review, as pure functions: seeded label shuffles, de-anonymising a
 * reviewer's ranking, and aggregating rankings (Borda by mean position + agreement matrix).
 */
import type { Aggregate, RankedAdvisor } from './advisory.types.js';

/** Label → advisor id, for one reviewer. */
export type LabelMap = Record<string, string>;

/** A deterministic PRNG (mulberry32) seeded from a string; yields uniform draws in [0, 1). */
export function seededRandom(seed: string): () => number {
  let state = hashString(seed);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A copy of `items` in an order that depends only on `seed` (Fisher–Yates). */
export function seededShuffle<T>(items: readonly T[], seed: string): T[] {
  const random = seededRandom(seed);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The i-th label: A, B, … Z (a circle has at most 8 advisors). */
export function labelAt(index: number): string {
  return String.fromCharCode(65 + index);
}

/**
 * The labels one reviewer sees: every other answered advisor, shuffled by the job's seed and
 * the reviewer's id, labelled A, B, … in that order. The reviewer's own answer is left out.
 */
export function labelsFor(seed: string, reviewerId: string, answered: readonly string[]): LabelMap {
  const others = answered.filter((id) => id !== reviewerId);
  const shuffled = seededShuffle(others, `${seed}:${reviewerId}`);
  return Object.fromEntries(shuffled.map((advisorId, i) => [labelAt(i), advisorId]));
}

/** A reviewer's ranking (labels, best first) as advisor ids; unknown and repeated labels are dropped. */
export function deanonymise(ranking: readonly string[], labels: LabelMap): string[] {
  const out: string[] = [];
  for (const label of ranking) {
    const advisorId = Object.hasOwn(labels, label) ? labels[label] : undefined;
    if (advisorId !== undefined && !out.includes(advisorId)) out.push(advisorId);
  }
  return out;
}

/**
 * Aggregates reviewers' rankings (advisor ids, best first). The ranking orders every advisor
 * that at least one reviewer ranked by mean 1-based position (Borda by mean), ties broken by
 * circle order; the agreement matrix gives, per pair of reviewers, how alike they placed
 * the advisors both ranked (see agreementMatrix). Numbers are rounded to 4 decimals.
 */
export function aggregateRankings(advisors: readonly string[], rankings: Readonly<Record<string, readonly string[]>>): Aggregate {
  return { ranking: bordaByMean(advisors, rankings), agreement: agreementMatrix(advisors, rankings) };
}

/** Advisors ranked by mean position over the reviewers that ranked them; ties by circle order. */
export function bordaByMean(advisors: readonly string[], rankings: Readonly<Record<string, readonly string[]>>): RankedAdvisor[] {
  const tally = advisors.map((advisorId, order) => ({ advisorId, order, sum: 0, votes: 0 }));
  for (const ranking of Object.values(rankings)) {
    ranking.forEach((advisorId, i) => {
      const entry = tally.find((t) => t.advisorId === advisorId);
      if (entry) {
        entry.sum += i + 1;
        entry.votes += 1;
      }
    });
  }
  return tally
    .filter((t) => t.votes > 0)
    // Compare sum/votes exactly by cross-multiplying, so float noise never breaks a tie.
    .sort((a, b) => a.sum * b.votes - b.sum * a.votes || a.order - b.order)
    .map((t) => ({ advisorId: t.advisorId, meanPosition: round4(t.sum / t.votes), votes: t.votes }));
}

/**
 * agreement[a][b] for reviewers a and b: 1 minus the mean distance between the relative
 * positions (0 = best, 1 = worst) they gave the advisors both ranked; symmetric, no
 * diagonal, absent when they ranked no advisor in common. Relative positions make this
 * meaningful in a circle of three, where two reviewers share a single ranked advisor.
 */
export function agreementMatrix(
  advisors: readonly string[],
  rankings: Readonly<Record<string, readonly string[]>>,
): Record<string, Record<string, number>> {
  const reviewers = advisors.filter((id) => Object.hasOwn(rankings, id));
  const matrix: Record<string, Record<string, number>> = {};
  for (const a of reviewers) {
    for (const b of reviewers) {
      if (a === b) continue;
      const share = positionAgreement(rankings[a] ?? [], rankings[b] ?? []);
      if (share === undefined) continue;
      (matrix[a] ??= {})[b] = round4(share);
    }
  }
  return matrix;
}

/** 1 − mean |relative position difference| over the items both orders contain; undefined when none. */
export function positionAgreement(first: readonly string[], second: readonly string[]): number | undefined {
  const relative = (order: readonly string[], id: string) => (order.length <= 1 ? 0 : order.indexOf(id) / (order.length - 1));
  const shared = first.filter((id) => second.includes(id));
  if (shared.length === 0) return undefined;
  const distance = shared.reduce((sum, id) => sum + Math.abs(relative(first, id) - relative(second, id)), 0);
  return 1 - distance / shared.length;
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}

/** FNV-1a 32-bit hash of a string: a well-spread integer seed for the PRNG. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
