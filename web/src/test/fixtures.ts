/** Small factories for the data the API and the socket send (tests only). */
import type { AdvisorView, CircleSummary, JobView, ServerMessage, TransitionChange, TransitionRecord } from '../contracts';

export const JOB_ID = 'job-7f3a';
export const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

export function circleSummary(maxQuestionChars = 60): CircleSummary {
  return {
    advisors: [
      { id: 'claude', name: 'Claude', modelId: 'anthropic.claude', title: 'Strategist' },
      { id: 'mistral', name: 'Mistral', modelId: 'mistral.large', title: 'Skeptic' },
      { id: 'llama', name: 'Llama', modelId: 'meta.llama', title: 'Pragmatist' },
    ],
    chair: { id: 'chair', name: 'Chair', modelId: 'anthropic.claude' },
    quorum: 2,
    modes: ['full', 'quick'],
    limits: { maxQuestionChars },
  };
}

const pending = () => ({ status: 'pending' as const, attempt: 0 });

export function advisor(id: string, name: string, extra: Partial<AdvisorView> = {}): AdvisorView {
  return { id, name, modelId: `model.${id}`, answer: pending(), review: pending(), ...extra };
}

/** A job just queued, or with `patch` applied. */
export function jobView(patch: Partial<JobView> = {}): JobView {
  return {
    jobId: JOB_ID,
    status: 'queued',
    stage: 'queued',
    mode: 'full',
    question: 'Should our team of five rewrite the monolith as microservices?',
    conversationId: JOB_ID,
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    seq: 0,
    advisors: [advisor('claude', 'Claude'), advisor('mistral', 'Mistral'), advisor('llama', 'Llama')],
    chair: { id: 'chair', name: 'Chair', modelId: 'anthropic.claude' },
    synthesis: pending(),
    usage: { inputTokens: 0, outputTokens: 0 },
    costUsd: 0,
    notes: [],
    ...patch,
  };
}

/** A finished, fully reviewed job. */
export function finishedView(patch: Partial<JobView> = {}): JobView {
  const done = (text: string, n: number) => ({ status: 'succeeded' as const, attempt: 1, text, usage: { inputTokens: 100 * n, outputTokens: 10 * n }, costUsd: n / 100 });
  return jobView({
    status: 'succeeded',
    stage: 'done',
    seq: 12,
    advisors: [
      advisor('claude', 'Claude', { answer: done('Keep the monolith; carve out **billing** first.', 3), review: { ...done('{}', 1), ranking: ['llama', 'mistral'], critiques: { llama: 'Practical and short.', mistral: 'Too eager to rewrite.' } } }),
      advisor('mistral', 'Mistral', { answer: done('Rewrite it all.', 2), review: { ...done('{}', 1), ranking: ['claude', 'llama'], critiques: { claude: 'Careful.', llama: 'Vague.' } } }),
      advisor('llama', 'Llama', { answer: done('Measure first, then decide.', 2), review: { ...done('{}', 1), ranking: ['claude', 'mistral'], critiques: { claude: 'Sound.', mistral: 'Risky.' } } }),
    ],
    ranking: [
      { advisorId: 'claude', meanPosition: 1, votes: 2 },
      { advisorId: 'llama', meanPosition: 1.5, votes: 2 },
      { advisorId: 'mistral', meanPosition: 2, votes: 2 },
    ],
    agreement: { claude: { mistral: 0, llama: 0.5 }, mistral: { claude: 0, llama: 1 }, llama: { claude: 0.5, mistral: 1 } },
    synthesis: {
      ...done('Recommendation: carve out billing.', 4),
      recommendation: 'Carve out **billing** as the first service.',
      agreement: 'Nobody wants a big-bang rewrite.',
      dissent: 'Mistral would rewrite sooner.',
      confidence: 'medium',
    },
    usage: { inputTokens: 1400, outputTokens: 140 },
    costUsd: 0.14,
    adviceQuality: 'complete',
    ...patch,
  });
}

export const change = (stepId: string, status: TransitionChange['status'], attempt = 1, extra: Partial<TransitionChange> = {}): TransitionChange => ({ stepId, status, attempt, ...extra });

export function transition(seq: number, event: string, stage: TransitionRecord['stage'], changes: TransitionChange[], status: TransitionRecord['status'] = 'running', reason?: string): ServerMessage {
  const t: TransitionRecord = { jobId: JOB_ID, seq, at: T0 + seq * 1000, event, status, stage, changes, ...(reason ? { reason } : {}) };
  return { type: 'job.transition', jobId: JOB_ID, seq, transition: t };
}

export const viewMessage = (view: JobView): ServerMessage => ({ type: 'job.view', jobId: view.jobId, seq: view.seq, view });

export const delta = (stepId: string, offset: number, text: string, attempt = 1): ServerMessage => ({ type: 'step.delta', jobId: JOB_ID, stepId, attempt, offset, text });

export const done = (seq: number, status: 'succeeded' | 'failed' | 'cancelled', reason?: string): ServerMessage => ({ type: 'job.done', jobId: JOB_ID, seq, status, ...(reason ? { reason } : {}) });

/** The first transition of a job: every advisor starts. */
export const started = () => transition(1, 'job.started', 'advising', ['claude', 'mistral', 'llama'].map((id) => change(`advise.${id}`, 'running')));
