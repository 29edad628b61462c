import { describe, expect, it } from 'vitest';
import type { AdvisoryContext, StepRecord } from '../../machines/advisory.types.js';
import type { JobItem, ResultItem, StateItem } from '../../services/shared/contracts/job.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { buildJobView, resultRefsOf, summaryOf } from '../../services/shared/job-view.js';

const circle = loadCircle();
const JOB_ID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const ADVISORS = ['claude', 'mistral', 'llama'];

function jobItem(overrides: Partial<JobItem> = {}): JobItem {
  return {
    jobId: JOB_ID,
    owner: 'alice',
    question: 'Should I move to Lisbon?',
    questionPreview: 'Should I move to Lisbon?',
    advisors: ADVISORS,
    mode: 'full',
    status: 'queued',
    stage: 'queued',
    createdAt: '2025-01-01T10:00:00.000Z',
    updatedAt: '2025-01-01T10:00:00.000Z',
    expiresAt: 1_800_000_000,
    ...overrides,
  };
}

function contextOf(steps: Record<string, StepRecord>, extra: Partial<AdvisoryContext> = {}): AdvisoryContext {
  const policy = { Retry: [], Catch: [{ ErrorEquals: ['States.ALL'] }], TimeoutSeconds: 60 };
  return {
    jobId: JOB_ID,
    mode: 'full',
    quorum: 2,
    advisors: ADVISORS,
    chair: 'chair',
    seed: JOB_ID,
    policies: { advise: policy, review: policy, synthesize: policy },
    steps,
    labels: {},
    rankings: {},
    ...extra,
  };
}

function stateItem(value: unknown, context: AdvisoryContext, version: number, extra: Partial<StateItem> = {}): StateItem {
  return {
    jobId: JOB_ID,
    snapshot: JSON.stringify({ status: 'active', value, context, children: {}, historyValue: {} }),
    machineVersion: 'advisory/1',
    version,
    epoch: 1,
    expiresAt: 1_800_000_000,
    ...extra,
  };
}

const done = (stepId: string, inputTokens: number, outputTokens: number, costUsd: number): StepRecord => ({
  status: 'succeeded',
  attempt: 1,
  retries: [0, 0],
  resultRef: `${stepId}#1`,
  usage: { inputTokens, outputTokens },
  costUsd,
  finishedAt: 1,
});

function result(stepId: string, text: string, parsed?: ResultItem['parsed']): ResultItem {
  const advisorId = stepId === 'synthesize' ? 'chair' : (stepId.split('.')[1] ?? '');
  const item: ResultItem = {
    jobId: JOB_ID,
    stepKey: `${stepId}#1`,
    stepId,
    attempt: 1,
    advisorId,
    modelId: 'model',
    text,
    usage: { inputTokens: 1, outputTokens: 1 },
    costUsd: 0,
    createdAt: '2025-01-01T10:00:01.000Z',
    expiresAt: 1_800_000_000,
  };
  if (parsed) item.parsed = parsed;
  return item;
}

/** A full job that went all the way: three answers, three reviews, a synthesis. */
function succeededJob() {
  const steps: Record<string, StepRecord> = {
    'advise.claude': done('advise.claude', 100, 200, 0.0033),
    'advise.mistral': done('advise.mistral', 100, 150, 0.0022),
    'advise.llama': done('advise.llama', 100, 120, 0.0007),
    'review.claude': done('review.claude', 400, 80, 0.0024),
    'review.mistral': done('review.mistral', 400, 60, 0.0023),
    'review.llama': done('review.llama', 400, 50, 0.0012),
    synthesize: done('synthesize', 900, 300, 0.0072),
  };
  const context = contextOf(steps, {
    labels: { claude: { A: 'llama', B: 'mistral' }, mistral: { A: 'claude', B: 'llama' }, llama: { A: 'mistral', B: 'claude' } },
    rankings: { claude: ['mistral', 'llama'], mistral: ['claude', 'llama'], llama: ['claude', 'mistral'] },
    aggregate: {
      ranking: [
        { advisorId: 'claude', meanPosition: 1, votes: 2 },
        { advisorId: 'mistral', meanPosition: 1.5, votes: 2 },
        { advisorId: 'llama', meanPosition: 2, votes: 2 },
      ],
      agreement: { claude: { mistral: 0 }, mistral: { claude: 0 } },
    },
    confidence: 'medium',
  });
  const results = [
    result('advise.claude', 'Go, but rent first.'),
    result('advise.mistral', 'Visit for a month.'),
    result('advise.llama', 'What about your job?'),
    result('review.claude', '{…}', { kind: 'review', ranking: ['B', 'A'], critiques: { A: 'Too cautious.', B: 'Practical.' } }),
    result('review.mistral', '{…}', { kind: 'review', ranking: ['A', 'B'], critiques: { A: 'Clear.', B: 'Vague.' } }),
    result('review.llama', '{…}', { kind: 'review', ranking: ['B', 'A'], critiques: { A: 'Thin.', B: 'Strong.' } }),
    result('synthesize', 'Rent in Lisbon for three months first.', {
      kind: 'synthesis',
      recommendation: 'Rent for three months first.',
      agreement: 'All advise a trial period.',
      dissent: 'Llama doubts the job market.',
      confidence: 'medium',
    }),
  ];
  return { context, results };
}

describe('buildJobView', () => {
  it('shows a job without a snapshot as queued with every step pending', () => {
    const view = buildJobView({ job: jobItem(), results: [], circle });

    expect(view).toMatchObject({ jobId: JOB_ID, status: 'queued', stage: 'queued', seq: 0, mode: 'full' });
    expect(view.advisors.map((a) => [a.id, a.name, a.answer.status, a.review.status])).toEqual([
      ['claude', 'Claude', 'pending', 'pending'],
      ['mistral', 'Mistral', 'pending', 'pending'],
      ['llama', 'Llama', 'pending', 'pending'],
    ]);
    expect(view.synthesis).toEqual({ status: 'pending', attempt: 0 });
    expect(view.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
    expect(view.costUsd).toBe(0);
    expect(view.notes).toEqual([]);
    expect(view.chair).toEqual({ id: 'chair', name: 'Chair', modelId: circle.chair.modelId });
  });

  it('shows a running job at its stage with the answers that are in so far', () => {
    const context = contextOf({
      'advise.claude': done('advise.claude', 100, 200, 0.0033),
      'advise.mistral': { status: 'running', attempt: 1, retries: [0, 0] },
      'advise.llama': {
        status: 'retrying',
        attempt: 1,
        retries: [1, 0],
        dueAt: 1_700_000_002_000,
        error: { error: 'ThrottlingException', cause: 'Too many requests' },
      },
    });
    const state = stateItem({ advising: { claude: 'done', mistral: 'running', llama: 'waiting' } }, context, 4);

    const view = buildJobView({ job: jobItem({ status: 'running', stage: 'advising' }), state, results: [result('advise.claude', 'Go, but rent first.')], circle });

    expect(view).toMatchObject({ status: 'running', stage: 'advising', seq: 4 });
    const [claude, mistral, llama] = view.advisors;
    expect(claude?.answer).toEqual({ status: 'succeeded', attempt: 1, text: 'Go, but rent first.', usage: { inputTokens: 100, outputTokens: 200 }, costUsd: 0.0033 });
    expect(mistral?.answer).toEqual({ status: 'running', attempt: 1 });
    expect(llama?.answer).toMatchObject({ status: 'retrying', dueAt: 1_700_000_002_000, error: { error: 'ThrottlingException' } });
    expect(view.notes).toEqual(["Llama's answer failed on attempt 1 (ThrottlingException: Too many requests) and will be retried."]);
    expect(view.usage).toEqual({ inputTokens: 100, outputTokens: 200 });
  });

  it('shows a succeeded job with answers, de-anonymised reviews, the aggregate and the synthesis', () => {
    const { context, results } = succeededJob();
    const state = stateItem('succeeded', context, 17);

    const view = buildJobView({ job: jobItem({ status: 'succeeded', stage: 'done' }), state, results, circle });

    expect(view).toMatchObject({ status: 'succeeded', stage: 'done', seq: 17 });
    const claude = view.advisors[0];
    expect(claude?.answer.text).toBe('Go, but rent first.');
    expect(claude?.review.ranking).toEqual(['mistral', 'llama']);
    // claude's labels: A = llama, B = mistral
    expect(claude?.review.critiques).toEqual({ llama: 'Too cautious.', mistral: 'Practical.' });
    expect(view.advisors[2]?.review.critiques).toEqual({ mistral: 'Thin.', claude: 'Strong.' });
    expect(view.ranking?.map((r) => r.advisorId)).toEqual(['claude', 'mistral', 'llama']);
    expect(view.agreement).toEqual({ claude: { mistral: 0 }, mistral: { claude: 0 } });
    expect(view.synthesis).toMatchObject({
      status: 'succeeded',
      text: 'Rent in Lisbon for three months first.',
      recommendation: 'Rent for three months first.',
      agreement: 'All advise a trial period.',
      dissent: 'Llama doubts the job market.',
      confidence: 'medium',
    });
    expect(view.usage).toEqual({ inputTokens: 2400, outputTokens: 960 });
    expect(view.costUsd).toBe(0.0193);
    expect(view.notes).toEqual([]);
    expect(view.reason).toBeUndefined();
  });

  it('notes an advisor that could not answer and how many the advice rests on', () => {
    const { context, results } = succeededJob();
    context.steps['advise.mistral'] = {
      status: 'failed',
      attempt: 5,
      retries: [4, 0],
      error: { error: 'ThrottlingException', cause: 'Rate exceeded' },
    };
    context.steps['review.llama'] = {
      status: 'failed',
      attempt: 3,
      retries: [0, 2],
      error: { error: 'Review.InvalidOutput', cause: 'ranking is not a list of labels' },
    };
    delete context.steps['review.mistral'];
    const state = stateItem('succeeded', context, 20);

    const view = buildJobView({ job: jobItem({ status: 'succeeded', stage: 'done' }), state, results, circle });

    expect(view.status).toBe('succeeded');
    expect(view.advisors[1]?.answer).toMatchObject({ status: 'failed', error: { error: 'ThrottlingException', cause: 'Rate exceeded' } });
    expect(view.advisors[1]?.review.status).toBe('skipped');
    expect(view.notes).toEqual([
      'Mistral could not answer (ThrottlingException: Rate exceeded); the advice is based on 2 of 3 advisors.',
      "Llama's review could not be used (ranking is not a list of labels); the ranking uses the other reviews.",
    ]);
  });

  it('says the advice is complete, and counts the model calls by cause', () => {
    const { context, results } = succeededJob();
    context.steps['advise.llama'] = { ...context.steps['advise.llama']!, attempt: 3, retries: [2, 0] };
    context.steps['review.claude'] = { ...context.steps['review.claude']!, attempt: 2, repairs: 1, repairOf: { resultRef: 'review.claude#1', problem: 'it contains no JSON object' } };
    const view = buildJobView({ job: jobItem({ status: 'succeeded', stage: 'done' }), state: stateItem('succeeded', context, 20), results, circle });
    expect(view.adviceQuality).toBe('complete');
    expect(view.modelCalls).toEqual({ total: 10, first: 7, retries: 2, repairs: 1 });
    expect(view.notes).toEqual([
      "Claude's review could not be read at first (it contains no JSON object); it was asked for once more, saying what was wrong.",
    ]);
  });

  it('says plainly when the chair could not write: the answers and the ranking are the advice', () => {
    const { context, results } = succeededJob();
    context.steps.synthesize = { status: 'failed', attempt: 1, retries: [], error: { error: 'Model.GuardrailIntervened', cause: 'the content guardrail blocked this answer' } };
    const view = buildJobView({ job: jobItem({ status: 'succeeded', stage: 'done' }), state: stateItem('succeeded', context, 20), results: results.slice(0, 6), circle });
    expect(view).toMatchObject({ status: 'succeeded', adviceQuality: 'unsynthesized', synthesis: { status: 'failed' } });
    expect(view.ranking?.map((r) => r.advisorId)).toEqual(['claude', 'mistral', 'llama']);
    expect(view.notes).toEqual([
      'Chair could not write the advice (the content guardrail blocked this answer); the advisors\u2019 answers and their ranking are the advice.',
    ]);
  });

  it('shows the chair’s unreadable text as written, its confidence not stated', () => {
    const { context, results } = succeededJob();
    context.steps.synthesize = { ...context.steps.synthesize!, attempt: 2, repairs: 1, repairOf: { resultRef: 'synthesize#1', problem: 'it has no Recommendation section' }, unusable: 'it has no Recommendation section' };
    context.confidence = 'unstated';
    const prose = result('synthesize', 'Rent first, then decide.');
    const view = buildJobView({ job: jobItem({ status: 'succeeded', stage: 'done' }), state: stateItem('succeeded', context, 20), results: [...results.slice(0, 6), prose], circle });
    expect(view.adviceQuality).toBe('unstructured');
    expect(view.synthesis).toMatchObject({ status: 'succeeded', text: 'Rent first, then decide.', confidence: 'unstated' });
    expect(view.synthesis?.recommendation).toBeUndefined();
    expect(view.notes).toEqual([
      "Chair's advice could not be read into its sections (it has no Recommendation section), so it is shown as written; its confidence is not stated.",
    ]);
  });

  it('says when no review could be used, so the answers are not ranked', () => {
    const { context, results } = succeededJob();
    for (const id of ADVISORS) {
      context.steps[`review.${id}`] = { status: 'failed', attempt: 2, retries: [], repairs: 1, error: { error: 'Review.InvalidOutput', cause: 'it contains no JSON object' } };
    }
    context.rankings = {};
    delete context.aggregate;
    const view = buildJobView({ job: jobItem({ status: 'succeeded', stage: 'done' }), state: stateItem('succeeded', context, 20), results, circle });
    expect(view.adviceQuality).toBe('unranked');
    expect(view.ranking).toBeUndefined();
    expect(view.notes).toContain('None of the reviews could be used, so the answers are not ranked: the chair weighed them without a ranking.');
    expect(view.notes.filter((n) => n.includes('is not part of the ranking'))).toHaveLength(3);
  });

  it('marks an answer cut at its token limit, a chair that stated no confidence, and a simulated job', () => {
    const { context, results } = succeededJob();
    const cut = { ...results[1]!, stopReason: 'max_tokens', simulated: true };
    const synthesis = results[6]!;
    const unstated = { ...synthesis, simulated: true, parsed: { ...(synthesis.parsed as object), confidence: 'unstated' } } as typeof synthesis;
    const view = buildJobView({
      job: jobItem({ status: 'succeeded', stage: 'done' }),
      state: stateItem('succeeded', context, 20),
      results: [results[0]!, cut, ...results.slice(2, 6), unstated],
      circle,
    });
    expect(view.advisors[1]?.answer.truncated).toBe(true);
    expect(view.advisors[0]?.answer.truncated).toBeUndefined();
    expect(view.synthesis?.confidence).toBe('unstated');
    expect(view.simulated).toBe(true);
    expect(view.notes).toEqual(["Mistral's answer was cut short at its length limit.", 'Chair did not say how confident it is.']);
  });

  it('leaves the advice quality unsaid until the job has succeeded, and a real job unmarked', () => {
    const { context, results } = succeededJob();
    const view = buildJobView({ job: jobItem({ status: 'running', stage: 'synthesizing' }), state: stateItem({ synthesizing: 'running' }, context, 12), results: results.slice(0, 6), circle });
    expect(view.adviceQuality).toBeUndefined();
    expect(view.simulated).toBeUndefined();
  });

  it('gives a failed job its readable reason and names every advisor that failed', () => {
    const failure = (cause: string): StepRecord => ({ status: 'failed', attempt: 3, retries: [0, 2], error: { error: 'InternalServerException', cause } });
    const context = contextOf(
      {
        'advise.claude': done('advise.claude', 100, 200, 0.0033),
        'advise.mistral': failure('boom'),
        'advise.llama': failure('bang'),
      },
      { failure: { reason: 'Only 1 of 3 advisors answered; 2 are needed.', errors: {} } },
    );
    const state = stateItem('failed', context, 9);

    const view = buildJobView({ job: jobItem({ status: 'failed', stage: 'done' }), state, results: [], circle });

    expect(view).toMatchObject({ status: 'failed', stage: 'done', reason: 'Only 1 of 3 advisors answered; 2 are needed.' });
    expect(view.notes).toEqual(['Mistral could not answer (InternalServerException: boom).', 'Llama could not answer (InternalServerException: bang).']);
    expect(view.advisors.map((a) => a.review.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(view.synthesis?.status).toBe('skipped');
  });

  it('shows a cancelled job with its reason and no step left running', () => {
    const context = contextOf(
      {
        'advise.claude': done('advise.claude', 100, 200, 0.0033),
        'advise.mistral': { status: 'running', attempt: 1, retries: [0, 0] },
      },
      { cancellation: { reason: 'cancelled by the user' } },
    );
    const state = stateItem('cancelled', context, 6, { cancelRequested: true, cancelReason: 'cancelled by the user' });

    const view = buildJobView({ job: jobItem({ status: 'running', stage: 'advising' }), state, results: [], circle });

    expect(view).toMatchObject({ status: 'cancelled', stage: 'done', reason: 'cancelled by the user' });
    expect(view.advisors.map((a) => a.answer.status)).toEqual(['succeeded', 'skipped', 'skipped']);
    expect(view.notes).toEqual([]);
  });

  it('takes a terminal status and reason from the Jobs item when the worker never ran the job', () => {
    const job = jobItem({ status: 'failed', stage: 'done', reason: 'The job could not be queued; please ask again.' });

    const view = buildJobView({ job, state: { jobId: JOB_ID, version: 0, epoch: 0, expiresAt: 1 }, results: [], circle });

    expect(view).toMatchObject({ status: 'failed', stage: 'done', reason: 'The job could not be queued; please ask again.' });
    expect(view.advisors.every((a) => a.answer.status === 'skipped')).toBe(true);
  });

  it('notes a requested cancellation while the job still runs', () => {
    const context = contextOf({ 'advise.claude': { status: 'running', attempt: 1, retries: [0, 0] } });
    const state = stateItem({ advising: {} }, context, 2, { cancelRequested: true, cancelReason: 'cancelled by the user' });

    const view = buildJobView({ job: jobItem({ status: 'running', stage: 'advising' }), state, results: [], circle });

    expect(view.status).toBe('running');
    expect(view.notes).toContain('Cancellation requested; the circle is stopping.');
  });

  it('marks review steps skipped in quick mode', () => {
    const view = buildJobView({ job: jobItem({ mode: 'quick' }), results: [], circle });

    expect(view.advisors.map((a) => [a.answer.status, a.review.status])).toEqual([
      ['pending', 'skipped'],
      ['pending', 'skipped'],
      ['pending', 'skipped'],
    ]);
  });

  it('treats an unreadable snapshot as no snapshot rather than failing', () => {
    const state: StateItem = { jobId: JOB_ID, snapshot: '{not json', version: 3, epoch: 1, expiresAt: 1 };

    const view = buildJobView({ job: jobItem({ status: 'running', stage: 'advising' }), state, results: [], circle });

    expect(view).toMatchObject({ status: 'running', stage: 'advising', seq: 3 });
  });
});

describe('resultRefsOf', () => {
  it('lists the Results keys the snapshot references', () => {
    const { context } = succeededJob();
    context.steps['advise.llama'] = { status: 'running', attempt: 2, retries: [1, 0] };

    const refs = resultRefsOf(stateItem('reviewing', context, 8));

    expect(refs.sort()).toEqual(['advise.claude#1', 'advise.mistral#1', 'review.claude#1', 'review.llama#1', 'review.mistral#1', 'synthesize#1']);
    expect(resultRefsOf(undefined)).toEqual([]);
  });
});

describe('summaryOf', () => {
  it('keeps only what a listing shows', () => {
    expect(summaryOf(jobItem({ conversationId: 'c-1' }))).toEqual({
      jobId: JOB_ID,
      status: 'queued',
      stage: 'queued',
      mode: 'full',
      questionPreview: 'Should I move to Lisbon?',
      createdAt: '2025-01-01T10:00:00.000Z',
      updatedAt: '2025-01-01T10:00:00.000Z',
    });
  });
});
