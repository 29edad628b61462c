import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costOf, guardrailOf, loadCircle, modelIdsOf } from '../../services/shared/circle/circle.js';
import { loadWorkerConfig } from '../../services/shared/config.js';
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

  it('says which members review by tool use, and how', () => {
    expect(shipped.advisors.map((a) => [a.id, a.toolUse])).toEqual([
      ['claude', { choice: 'tool', streaming: true }],
      ['mistral', { choice: 'auto', streaming: false }],
      ['llama', undefined],
    ]);
  });

  it('refuses a Retry list that would send an unusable review or synthesis the same prompt again', () => {
    const policies = structuredClone(shipped.policies);
    policies.review.Retry.push({ ErrorEquals: ['Review.InvalidOutput'], MaxAttempts: 2 });
    expect(() => loadCircle(withFile({ ...shipped, policies }))).toThrow(/policies\.review\.Retry\.2: Review\.InvalidOutput is never retried with the same prompt/);
  });

  it('reads a member’s own guardrail and resolves "deployment" to the deployment’s one for the worker', () => {
    const chair = { ...shipped.chair, guardrail: 'deployment' };
    const llama = { ...shipped.advisors[2]!, guardrail: { identifier: 'abc123', version: '2' } };
    const file = withFile({ ...shipped, chair, advisors: [shipped.advisors[0], shipped.advisors[1], llama] });
    const circle = loadCircle(file, { forCalls: true, deploymentGuardrail: { identifier: 'dep123', version: '7' } });
    expect(guardrailOf(circle.chair)).toEqual({ identifier: 'dep123', version: '7', trace: 'disabled' });
    expect(guardrailOf(circle.advisors[2]!)).toEqual({ identifier: 'abc123', version: '2', trace: 'disabled' });
    expect(guardrailOf(circle.advisors[0]!)).toBeUndefined();
    // The API only describes the circle: it needs no guardrail to load it.
    expect(() => loadCircle(file)).not.toThrow();
    expect(() => loadCircle(file, { forCalls: true })).toThrow(/chair uses the deployment's guardrail, but none is configured/);
  });

  it('rejects a guardrail identifier or version Bedrock would reject', () => {
    const chair = { ...shipped.chair, guardrail: { identifier: 'Not An Id', version: 'latest' } };
    expect(() => loadCircle(withFile({ ...shipped, chair }))).toThrow(/chair\.guardrail/);
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

describe('loadWorkerConfig', () => {
  const base = { COT_JOB_QUEUE_URL: 'http://127.0.0.1:9324/000000000000/cot-jobs' };

  it('reads the deployment’s guardrail, both parts or neither', () => {
    expect(loadWorkerConfig(base).guardrail).toBeUndefined();
    expect(loadWorkerConfig({ ...base, COT_GUARDRAIL_IDENTIFIER: 'dep123', COT_GUARDRAIL_VERSION: '7' }).guardrail).toEqual({ identifier: 'dep123', version: '7' });
    expect(() => loadWorkerConfig({ ...base, COT_GUARDRAIL_IDENTIFIER: 'dep123' })).toThrow(/COT_GUARDRAIL_IDENTIFIER and COT_GUARDRAIL_VERSION go together/);
  });
});
