/** How numbers, times and step states read in the app (pure). */
import type { StepView, Usage } from '../contracts';

const tokens = new Intl.NumberFormat('en-US');

export const formatTokens = (n: number): string => tokens.format(Math.round(n));

/** Dollars: four decimals below a dollar (a job costs cents). */
export const formatCost = (usd: number): string => `$${usd.toFixed(usd < 1 ? 4 : 2)}`;

/** Tokens a streamed text is likely to be (about four characters each): an estimate. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

export const totalTokens = (u: Usage | undefined): number => (u ? u.inputTokens + u.outputTokens : 0);

const pad = (n: number) => String(n).padStart(2, '0');

/** HH:MM:SS in local time. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A date and time for lists. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A duration to the millisecond: "420 ms", "1.234 s", "12.3 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`;
}

/** "8 s", "2 min 05 s". */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
}

export type StepPhase = 'waiting' | 'thinking' | 'streaming' | 'retrying' | 'done' | 'failed' | 'skipped' | 'cancelled';

/** What a step is doing, in words: `label` is short (a badge), `detail` says more. */
export function stepPhase(step: StepView | undefined, streamed: string | undefined): StepPhase {
  switch (step?.status) {
    case undefined:
    case 'pending':
      return 'waiting';
    case 'running':
      return streamed ? 'streaming' : 'thinking';
    case 'retrying':
      return 'retrying';
    case 'succeeded':
      return 'done';
    case 'failed':
      return 'failed';
    case 'skipped':
      return 'skipped';
    case 'cancelled':
      return 'cancelled';
  }
}

export const PHASE_LABEL: Record<StepPhase, string> = {
  waiting: 'Waiting',
  thinking: 'Thinking',
  streaming: 'Writing',
  retrying: 'Retrying',
  done: 'Answered',
  failed: 'Failed',
  skipped: 'Skipped',
  cancelled: 'Cancelled',
};

/** A symbol beside each label, so colour is never the only signal. */
export const PHASE_ICON: Record<StepPhase, string> = {
  waiting: '○',
  thinking: '◔',
  streaming: '✎',
  retrying: '↻',
  done: '✓',
  failed: '✕',
  skipped: '–',
  cancelled: '⊘',
};
