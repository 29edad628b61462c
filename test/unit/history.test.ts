import { describe, expect, it } from 'vitest';
import type { AdvisoryContext, StepRecord } from '../../machines/advisory.types.js';
import type { JobItem, ResultItem, StateItem } from '../../services/shared/contracts/job.js';
import { loadHistory, type HistoryDeps } from '../../services/worker/history.js';

const done = (resultRef: string): StepRecord => ({ status: 'succeeded', attempt: 1, retries: [], resultRef });

function job(jobId: string, createdAt: string, question: string): JobItem {
  return {
    jobId,
    owner: 'alice',
    question,
    questionPreview: question,
    advisors: ['claude', 'llama'],
    mode: 'full',
    conversationId: 'turn-1',
    status: 'succeeded',
    stage: 'done',
    createdAt,
    updatedAt: createdAt,
    expiresAt: 1,
  };
}

function result(jobId: string, stepKey: string, text: string, parsed?: ResultItem['parsed']): ResultItem {
  return { jobId, stepKey, stepId: stepKey.split('#')[0]!, attempt: 1, advisorId: 'x', modelId: 'm', text, usage: { inputTokens: 1, outputTokens: 1 }, costUsd: 0, createdAt: '', expiresAt: 1, ...(parsed ? { parsed } : {}) };
}

/** Earlier turns: advice in sections, advice as written, and advice the chair could not write. */
function deps(): HistoryDeps {
  const turns = [job('turn-3', '2025-01-03', 'Third?'), job('turn-2', '2025-01-02', 'Second?'), job('turn-1', '2025-01-01', 'First?')];
  const steps = (synthesize: StepRecord): AdvisoryContext['steps'] => ({
    'advise.claude': done('advise.claude#1'),
    'advise.llama': done('advise.llama#1'),
    synthesize,
  });
  const contexts: Record<string, Partial<AdvisoryContext>> = {
    'turn-1': { advisors: ['claude', 'llama'], steps: steps(done('synthesize#1')) },
    'turn-2': { advisors: ['claude', 'llama'], steps: steps({ ...done('synthesize#2'), unusable: 'it has no Recommendation section' }) },
    'turn-3': {
      advisors: ['claude', 'llama'],
      steps: steps({ status: 'failed', attempt: 1, retries: [], error: { error: 'Model.GuardrailIntervened', cause: 'blocked' } }),
      aggregate: { ranking: [{ advisorId: 'llama', meanPosition: 1, votes: 1 }, { advisorId: 'claude', meanPosition: 2, votes: 1 }], agreement: {} },
    },
  };
  const results = [
    result('turn-1', 'synthesize#1', '## Recommendation\nRent first.', { kind: 'synthesis', recommendation: 'Rent first.', agreement: '', dissent: '', confidence: 'high' }),
    result('turn-2', 'synthesize#2', 'Rent, then buy, as written.'),
    result('turn-3', 'advise.llama#1', 'Llama: wait a year.'),
    result('turn-3', 'advise.claude#1', 'Claude: buy now.'),
  ];
  return {
    jobs: { listConversation: async () => turns } as unknown as HistoryDeps['jobs'],
    snapshots: {
      get: async (jobId: string): Promise<StateItem> => ({ jobId, version: 9, epoch: 1, expiresAt: 1, snapshot: JSON.stringify({ value: 'succeeded', context: contexts[jobId] }) }),
    } as unknown as HistoryDeps['snapshots'],
    results: { get: async (jobId: string, stepKey: string) => results.find((r) => r.jobId === jobId && r.stepKey === stepKey) } as unknown as HistoryDeps['results'],
  };
}

describe('loadHistory', () => {
  it('replays what each earlier turn advised: the recommendation, the chair’s text as written, or the best-ranked answer', async () => {
    const history = await loadHistory(deps(), job('turn-4', '2025-01-04', 'Fourth?'));
    expect(history).toEqual([
      { question: 'First?', answer: 'Rent first.' },
      { question: 'Second?', answer: 'Rent, then buy, as written.' },
      { question: 'Third?', answer: 'Llama: wait a year.' },
    ]);
  });
});
