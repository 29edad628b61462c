import { describe, expect, it } from 'vitest';
import { cryptoIds } from '../../services/shared/system.js';

describe('cryptoIds', () => {
  it('draws jitter uniformly in [0, 1) without throwing', () => {
    const draws = Array.from({ length: 2000 }, () => cryptoIds.random());
    expect(draws.every((d) => d >= 0 && d < 1)).toBe(true);
    expect(draws.filter((d) => d < 0.5).length).toBeGreaterThan(800);
    expect(draws.filter((d) => d >= 0.5).length).toBeGreaterThan(800);
  });
});
