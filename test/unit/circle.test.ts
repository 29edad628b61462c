import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costOf, loadCircle, modelIdsOf } from '../../services/shared/circle/circle.js';
import { ConfigError } from '../../services/shared/errors.js';

const shipped = loadCircle();

function withFile(content: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'circle-')), 'circle.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('loadCircle', () => {
  it('loads the shipped circle of three advisors and a chair on Bedrock models', () => {
    expect(shipped.advisors.map((a) => a.id)).toEqual(['claude', 'mistral', 'llama']);
    expect(modelIdsOf(shipped)).toEqual(expect.arrayContaining([expect.stringMatching(/^anthropic\./), expect.stringMatching(/^mistral\./), expect.stringMatching(/^meta\./)]));
    expect(shipped.quorum).toBe(2);
  });

  it('names every problem of an invalid circle file', () => {
    const bad = { ...shipped, quorum: 5, advisors: [...shipped.advisors, { ...shipped.advisors[0] }] };
    expect(() => loadCircle(withFile(bad))).toThrow(ConfigError);
    expect(() => loadCircle(withFile(bad))).toThrow(/advisor ids must be unique.*quorum 5 exceeds/s);
  });

  it('rejects a Retry list with States.ALL before another retrier', () => {
    const policies = structuredClone(shipped.policies);
    policies.advise.Retry.unshift({ ErrorEquals: ['States.ALL'], MaxAttempts: 1 });
    expect(() => loadCircle(withFile({ ...shipped, policies }))).toThrow(/policies\.advise.*States\.ALL must be in the last/);
  });

  it('says which file could not be read', () => {
    expect(() => loadCircle(withFile('{ not json'))).toThrow(/cannot read circle file .*circle\.json/);
  });
});

describe('costOf', () => {
  it('prices input and output tokens per 1,000 at the member rate', () => {
    const member = { ...shipped.advisors[0]!, price: { inputPer1k: 0.003, outputPer1k: 0.015 } };
    expect(costOf(member, { inputTokens: 2000, outputTokens: 1000 })).toBeCloseTo(0.021, 6);
  });
});
