import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  aggregateRankings,
  agreementMatrix,
  bordaByMean,
  positionAgreement,
  deanonymise,
  labelsFor,
  seededRandom,
  seededShuffle,
} from '../../../machines/review.js';

const advisorIds = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,7}$/), { minLength: 1, maxLength: 8 });

describe('seededShuffle', () => {
  it('returns a permutation of its items', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.string(), (items, seed) => {
        const shuffled = seededShuffle(items, seed);
        expect(shuffled.slice().sort()).toEqual(items.slice().sort());
      }),
    );
  });

  it('gives the same order for the same seed', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.string(), (items, seed) => {
        expect(seededShuffle(items, seed)).toEqual(seededShuffle(items, seed));
      }),
    );
  });

  it('gives different orders for different seeds', () => {
    const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const orders = new Set(Array.from({ length: 20 }, (_, i) => seededShuffle(items, `job-${i}`).join('')));
    expect(orders.size).toBeGreaterThan(10);
  });

  it('leaves its input untouched', () => {
    const items = ['a', 'b', 'c'];
    seededShuffle(items, 'seed');
    expect(items).toEqual(['a', 'b', 'c']);
  });
});

describe('seededRandom', () => {
  it('draws in [0, 1)', () => {
    fc.assert(
      fc.property(fc.string(), (seed) => {
        const random = seededRandom(seed);
        for (let i = 0; i < 20; i++) {
          const draw = random();
          expect(draw).toBeGreaterThanOrEqual(0);
          expect(draw).toBeLessThan(1);
        }
      }),
    );
  });
});

describe('labelsFor', () => {
  it("labels every other answer A, B, … and never the reviewer's own", () => {
    fc.assert(
      fc.property(advisorIds, fc.string(), (answered, seed) => {
        const reviewer = answered[0] as string;
        const labels = labelsFor(seed, reviewer, answered);
        expect(Object.keys(labels)).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G'].slice(0, answered.length - 1));
        expect(Object.values(labels).sort()).toEqual(answered.slice(1).sort());
        expect(Object.values(labels)).not.toContain(reviewer);
      }),
    );
  });

  it('is deterministic per seed and reviewer', () => {
    const answered = ['claude', 'mistral', 'llama', 'nova', 'titan'];
    expect(labelsFor('job-1', 'claude', answered)).toEqual(labelsFor('job-1', 'claude', answered));
    // Different reviewers of one job see independent orders.
    const perReviewer = answered.map((r) => Object.values(labelsFor('job-1', r, answered)).join(','));
    expect(new Set(perReviewer).size).toBe(answered.length);
  });
});

describe('deanonymise', () => {
  it('maps labels to advisors, dropping unknown and repeated labels', () => {
    expect(deanonymise(['B', 'Z', 'A', 'B'], { A: 'claude', B: 'llama' })).toEqual(['llama', 'claude']);
  });

  it('ignores labels that are object properties rather than labels', () => {
    expect(deanonymise(['constructor', 'A'], { A: 'claude' })).toEqual(['claude']);
  });
});

describe('bordaByMean', () => {
  it('orders advisors by mean 1-based position over the reviewers that ranked them', () => {
    const ranking = bordaByMean(['claude', 'mistral', 'llama'], {
      claude: ['llama', 'mistral'],
      mistral: ['llama', 'claude'],
      llama: ['claude', 'mistral'],
    });
    expect(ranking).toEqual([
      { advisorId: 'llama', meanPosition: 1, votes: 2 },
      { advisorId: 'claude', meanPosition: 1.5, votes: 2 },
      { advisorId: 'mistral', meanPosition: 2, votes: 2 },
    ]);
  });

  it('breaks ties by circle order', () => {
    const ranking = bordaByMean(['claude', 'mistral', 'llama'], { claude: ['llama', 'mistral'], mistral: ['claude', 'llama'] });
    expect(ranking.map((r) => r.advisorId)).toEqual(['claude', 'llama', 'mistral']);
    expect(ranking.map((r) => r.meanPosition)).toEqual([1, 1.5, 2]);
  });

  it('leaves out advisors nobody ranked', () => {
    expect(bordaByMean(['claude', 'mistral', 'llama'], { claude: ['mistral'] })).toEqual([{ advisorId: 'mistral', meanPosition: 1, votes: 1 }]);
  });

  it('is a total order by mean position, then circle order, over exactly the ranked advisors', () => {
    const rankingsOf = (ids: string[]) =>
      fc.dictionary(fc.constantFrom(...ids), fc.shuffledSubarray(ids), { maxKeys: ids.length });
    fc.assert(
      fc.property(
        advisorIds.chain((ids) => fc.tuple(fc.constant(ids), rankingsOf(ids))),
        ([ids, rankings]) => {
          const ranking = bordaByMean(ids, rankings);
          const ranked = new Set(Object.values(rankings).flat());
          expect(ranking.map((r) => r.advisorId).sort()).toEqual([...ranked].sort());
          for (let i = 1; i < ranking.length; i++) {
            const [prev, next] = [ranking[i - 1]!, ranking[i]!];
            const before = prev.meanPosition < next.meanPosition || (prev.meanPosition === next.meanPosition && ids.indexOf(prev.advisorId) < ids.indexOf(next.advisorId));
            expect(before).toBe(true);
          }
        },
      ),
    );
  });
});

describe('positionAgreement', () => {
  it('is 1 for the same placements and 0 for opposite ones', () => {
    expect(positionAgreement(['a', 'b', 'c'], ['a', 'b', 'c'])).toBe(1);
    expect(positionAgreement(['a', 'c'], ['c', 'a'])).toBe(0);
  });

  it('compares relative positions of the shared advisors only', () => {
    // b: 1/3 vs 1 → 2/3 apart; a: 0 vs 0 → same; mean distance 1/3.
    expect(positionAgreement(['a', 'b', 'x', 'c'], ['a', 'y', 'b'])).toBeCloseTo(2 / 3);
  });

  it('is undefined when no advisor is shared', () => {
    expect(positionAgreement(['a'], ['b'])).toBeUndefined();
  });
});

describe('agreementMatrix', () => {
  it('is symmetric, has no diagonal and omits reviewers who ranked no advisor in common', () => {
    const matrix = agreementMatrix(['w', 'x', 'y', 'z'], {
      w: ['x', 'y', 'z'],
      x: ['w', 'z', 'y'],
      y: ['w', 'x', 'z'],
      z: ['q'],
    });
    expect(matrix).toEqual({
      w: { x: 0.5, y: 0.75 },
      x: { w: 0.5, y: 0.75 },
      y: { w: 0.75, x: 0.75 },
    });
  });

  it('tells agreement from dissent in a circle of three, where reviewers share one ranked advisor', () => {
    // a and b both put c last (agree); c puts b last where a put b first (disagree).
    expect(agreementMatrix(['a', 'b', 'c'], { a: ['b', 'c'], b: ['a', 'c'], c: ['a', 'b'] })).toEqual({
      a: { b: 1, c: 0 },
      b: { a: 1, c: 1 },
      c: { a: 0, b: 1 },
    });
  });
});

describe('aggregateRankings', () => {
  it('combines the Borda ranking and the agreement matrix, rounded to 4 decimals', () => {
    const aggregate = aggregateRankings(['a', 'b', 'c', 'd'], { a: ['b', 'd', 'c'], b: ['a', 'd', 'c'], c: ['d', 'a', 'b'] });
    expect(aggregate.ranking).toEqual([
      { advisorId: 'a', meanPosition: 1.5, votes: 2 },
      { advisorId: 'd', meanPosition: 1.6667, votes: 3 },
      { advisorId: 'b', meanPosition: 2, votes: 2 },
      { advisorId: 'c', meanPosition: 3, votes: 2 },
    ]);
    expect(aggregate.agreement.a).toEqual({ b: 1, c: 0.25 });
  });
});
