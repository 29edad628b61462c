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
      "Llama's review could not be completed (Review.InvalidOutput: ranking is not a list of labels); the ranking uses the other reviews.",
    ]);
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
