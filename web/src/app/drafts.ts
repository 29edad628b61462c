/**
 * What someone is typing, kept in sessionStorage so that a reload or a sign-in round trip
 * (an expired session) loses nothing. Never localStorage: it dies with the tab.
 */
export interface Draft {
  question: string;
  advisors?: string[];
  mode?: 'full' | 'quick';
}

const PREFIX = 'cot.draft:';

export function loadDraft(key: string): Draft | undefined {
  try {
    const raw = sessionStorage.getItem(PREFIX + key);
    const parsed = raw ? (JSON.parse(raw) as Partial<Draft>) : undefined;
    return parsed && typeof parsed.question === 'string' ? (parsed as Draft) : undefined;
  } catch {
    return undefined;
  }
}

export function saveDraft(key: string, draft: Draft): void {
  try {
    sessionStorage.setItem(PREFIX + key, JSON.stringify(draft));
  } catch {
    /* storage full or blocked: the draft stays in the page */
  }
}

export function clearDraft(key: string): void {
  try {
    sessionStorage.removeItem(PREFIX + key);
  } catch {
    /* ignore */
  }
}

const THREAD = 'cot.previous:';

/** The job a follow-up was asked from, for the thread's "previous question" link. */
export function rememberPrevious(jobId: string, previousJobId: string): void {
  try {
    sessionStorage.setItem(THREAD + jobId, previousJobId);
  } catch {
    /* ignore */
  }
}

export function previousOf(jobId: string): string | undefined {
  try {
    return sessionStorage.getItem(THREAD + jobId) ?? undefined;
  } catch {
    return undefined;
  }
}
