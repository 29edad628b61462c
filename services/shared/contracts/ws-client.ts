/**
 * The client side of the live-progress protocol (ws.ts), pure and browser-safe: the web app
 * and the terminal client (services/cli/job-follower.ts) both read frames and follow a job
 * through this one module, each with its own socket around it.
 *
 * - FrameDecoder turns a frame (one message, a JSON array applied in order, or one `chunk`
 *   of a large message) into messages; anything else is ignored.
 * - applyMessage folds messages into a JobStream: transitions once and in seq order
 *   (duplicates dropped, early ones held until the gap closes), streamed text per step
 *   attempt by offset (resends after a reconnect overlap and are cut at their offset), the
 *   end of the job. The result depends only on which messages arrived, not their order.
 *
 * Transitions carry step statuses, attempts, errors, usage, cost and due times, so the
 * view stays current between `job.view`s; parsed results (ranking, matrix, critiques,
 * the chair's sections, notes) only come with a whole view. needsRefetch says when a
 * client should fetch one (GET /jobs/{id}) and feed it back in as a `job.view`.
 */
import type { JobStatus, JobView, StepStatus, StepView, TransitionChange, TransitionRecord, Usage } from './job.js';
import { isTerminal, isUnfinishedStep } from './job.js';
import type { ChunkMessage, ClientMessage, ServerMessage } from './ws.js';

// ---------------------------------------------------------------------------------------
// Frames

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Chunked messages being joined at once; older ones are dropped (their sender is gone). */
const MAX_OPEN_CHUNKED = 16;
/** A message of 128 KB needs about 10 chunks; anything far beyond is not ours. */
const MAX_CHUNKS = 4096;

function isChunk(v: Record<string, unknown>): v is Record<string, unknown> & ChunkMessage {
  return (
    typeof v.id === 'string' &&
    typeof v.data === 'string' &&
    Number.isInteger(v.count) &&
    Number.isInteger(v.index) &&
    (v.count as number) >= 1 &&
    (v.count as number) <= MAX_CHUNKS &&
    (v.index as number) >= 0 &&
    (v.index as number) < (v.count as number)
  );
}

/** Joins chunk messages back into the messages they carry. */
export class ChunkAssembler {
  private readonly parts = new Map<string, { count: number; data: (string | undefined)[]; have: number }>();

  /** Returns the complete message when `chunk` was the last part missing. */
  add(chunk: ChunkMessage): ServerMessage | undefined {
    let entry = this.parts.get(chunk.id);
    if (entry && entry.count !== chunk.count) return undefined;
    if (!entry) {
      entry = { count: chunk.count, data: new Array<string | undefined>(chunk.count), have: 0 };
      this.parts.set(chunk.id, entry);
      for (const id of this.parts.keys()) {
        if (this.parts.size <= MAX_OPEN_CHUNKED) break;
        this.parts.delete(id);
      }
    }
    if (entry.data[chunk.index] === undefined) entry.have++;
    entry.data[chunk.index] = chunk.data;
    if (entry.have < entry.count) return undefined;
    this.parts.delete(chunk.id);
    const whole = parseJson(entry.data.join(''));
    return isRecord(whole) && typeof whole.type === 'string' && whole.type !== 'chunk' ? (whole as unknown as ServerMessage) : undefined;
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** The messages a frame carries: one, an array in order, or none until a chunked message is complete. */
export class FrameDecoder {
  private readonly chunks = new ChunkAssembler();

  decode(raw: string): ServerMessage[] {
    const parsed = parseJson(raw);
    const out: ServerMessage[] = [];
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!isRecord(item) || typeof item.type !== 'string') continue;
      if (item.type !== 'chunk') {
        out.push(item as unknown as ServerMessage);
        continue;
      }
      if (!isChunk(item)) continue;
      const whole = this.chunks.add(item);
      if (whole) out.push(whole);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------
// One job's stream

/** Streamed text that arrived ahead of a hole in a step's text. */
interface Piece {
  offset: number;
  text: string;
}

export interface JobEnd {
  status: JobStatus;
  reason?: string;
  /** The seq of the transition that ended the job. */
  seq: number;
}

/** What a client knows of one job. Treat as immutable: applyMessage returns a new one. */
export interface JobStream {
  readonly jobId: string;
  /** The seq the stream started after: transitions up to it are not expected. */
  readonly fromSeq: number;
  /** Every transition up to this seq has been applied: the `afterSeq` to resubscribe with. */
  readonly seq: number;
  /** Transitions applied, in seq order from fromSeq + 1, without duplicates. */
  readonly transitions: readonly TransitionRecord[];
  /** Transitions that arrived ahead of a gap, by seq. */
  readonly early: Readonly<Record<number, TransitionRecord>>;
  /** The newest whole view received (job.view or GET /jobs/{id}). */
  readonly base?: JobView;
  /** The current view: `base` with every later transition applied. */
  readonly view?: JobView;
  /** Streamed text per `<stepId>#<attempt>`, contiguous from offset 0. */
  readonly texts: Readonly<Record<string, string>>;
  /** Streamed pieces past a hole, per `<stepId>#<attempt>`. */
  readonly pieces: Readonly<Record<string, readonly Piece[]>>;
  /** How the job ended, once the server said so (job.done or a terminal transition). */
  readonly end?: JobEnd;
  /** The last refusal or error the server sent about this job. */
  readonly error?: { code: string; message: string };
}

/** A fresh stream for `jobId`, expecting the transitions after `afterSeq`. */
export function createJobStream(jobId: string, afterSeq = 0): JobStream {
  return { jobId, fromSeq: afterSeq, seq: afterSeq, transitions: [], early: {}, texts: {}, pieces: {} };
}

/** The key streamed text is kept under. */
export const streamKey = (stepId: string, attempt: number): string => `${stepId}#${attempt}`;

/** Folds one server message into the stream; messages about other jobs change nothing. */
export function applyMessage(state: JobStream, message: ServerMessage): JobStream {
  if ('jobId' in message && message.jobId !== undefined && message.jobId !== state.jobId) return state;
  switch (message.type) {
    case 'job.view':
      return applyView(state, message.view);
    case 'job.transition':
      return applyTransitionMessage(state, message.transition);
    case 'step.delta':
      return applyDelta(state, message.stepId, message.attempt, message.offset, message.text);
    case 'job.done':
      return withEnd(state, { status: message.status, reason: message.reason, seq: message.seq });
    case 'error':
      return { ...state, error: { code: message.code, message: message.message } };
    default:
      return state;
  }
}

/** Folds messages in order. */
export function applyMessages(state: JobStream, messages: readonly ServerMessage[]): JobStream {
  return messages.reduce(applyMessage, state);
}

/** The seq to resubscribe after when a gap stays open (undefined: no gap). */
export function gapAfter(state: JobStream): number | undefined {
  return Object.keys(state.early).length > 0 ? state.seq : undefined;
}

/** The job has ended and every transition up to its end was applied. */
export function isComplete(state: JobStream): boolean {
  return state.end !== undefined && state.seq >= state.end.seq;
}

/** The message that (re)subscribes to the stream's job, losing and repeating nothing. */
export function subscribeMessage(state: JobStream): ClientMessage {
  return { action: 'subscribe', jobId: state.jobId, afterSeq: state.seq };
}

/** Delay before reconnect number `attempt` (1-based): exponential from 100 ms, at most 5 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(5000, 100 * 2 ** Math.min(Math.max(attempt, 1), 6));
}

/**
 * True when a whole view should be fetched (GET /jobs/{id}) because what only a view
 * carries may have changed: the stage moved on (rankings and the matrix come with the
 * synthesizing stage), a step failed (the notes explain it), or the job ended (the chair's
 * sections, the advice quality).
 */
export function needsRefetch(prev: JobStream, next: JobStream): boolean {
  if (!next.view || prev.view === next.view) return false;
  if (isComplete(next) && !isComplete(prev)) return true;
  if (!prev.view) return false;
  if (prev.view.stage !== next.view.stage) return true;
  return stepsOf(next.view).some(([id, step]) => step.status === 'failed' && stepOf(prev.view!, id)?.status !== 'failed');
}

/**
 * The text of a step as it should be shown: the stored text once the view has it, else
 * what has streamed of its latest attempt.
 */
export function stepText(state: JobStream, stepId: string): string | undefined {
  const step = state.view ? stepOf(state.view, stepId) : undefined;
  if (step?.text !== undefined) return step.text;
  let best: { attempt: number; text: string } | undefined;
  const prefix = `${stepId}#`;
  for (const [key, text] of Object.entries(state.texts)) {
    if (!key.startsWith(prefix)) continue;
    const attempt = Number(key.slice(prefix.length));
    if (step && attempt < step.attempt) continue;
    if (!best || attempt > best.attempt) best = { attempt, text };
  }
  return best?.text;
}

/** The step of a view by its id (`advise.<id>`, `review.<id>`, `synthesize`). */
export function stepOf(view: JobView, stepId: string): StepView | undefined {
  if (stepId === 'synthesize') return view.synthesis;
  const [kind, advisorId] = splitStepId(stepId);
  const advisor = view.advisors.find((a) => a.id === advisorId);
  if (!advisor) return undefined;
  return kind === 'advise' ? advisor.answer : kind === 'review' ? advisor.review : undefined;
}

function splitStepId(stepId: string): [string, string] {
  const dot = stepId.indexOf('.');
  return dot < 0 ? [stepId, ''] : [stepId.slice(0, dot), stepId.slice(dot + 1)];
}

function stepsOf(view: JobView): [string, StepView][] {
  const steps: [string, StepView][] = [];
  for (const a of view.advisors) steps.push([`advise.${a.id}`, a.answer], [`review.${a.id}`, a.review]);
  if (view.synthesis) steps.push(['synthesize', view.synthesis]);
  return steps;
}

// ---------------------------------------------------------------------------------------
// Reducer internals

function applyView(state: JobStream, view: JobView): JobStream {
  if (!isRecord(view) || !Array.isArray(view.advisors) || typeof view.seq !== 'number') return state;
  // Only a newer (or equal) view replaces the base: an older one lacks what a newer one has.
  if (state.base && view.seq < state.base.seq) return state;
  return derive({ ...state, base: view });
}

function applyTransitionMessage(state: JobStream, t: TransitionRecord): JobStream {
  if (!isRecord(t) || !Number.isInteger(t.seq) || t.seq <= state.seq || state.early[t.seq]) return state;
  const early: Record<number, TransitionRecord> = { ...state.early, [t.seq]: t };
  const transitions = [...state.transitions];
  let seq = state.seq;
  let end = state.end;
  let texts = state.texts;
  let pieces = state.pieces;
  for (let next = early[seq + 1]; next; next = early[seq + 1]) {
    delete early[next.seq];
    transitions.push(next);
    seq = next.seq;
    // A repair asks the model again within the same attempt: its text streams afresh from offset 0.
    for (const change of Array.isArray(next.changes) ? next.changes : []) {
      if (!change?.repair) continue;
      const key = streamKey(change.stepId, change.attempt);
      texts = without(texts, key);
      pieces = without(pieces, key);
    }
    // The terminal transition is the end, even if its job.done frame was missed.
    if (isTerminal(next.status)) end = laterEnd(end, { status: next.status, reason: next.reason, seq: next.seq });
  }
  if (seq === state.seq) return { ...state, early };
  return derive({ ...state, early, transitions, seq, end, texts, pieces });
}

/** The newest word on the job (the base view or a later transition) is unfinished, and newer than `seq`. */
function reopenedAfter(state: JobStream, seq: number): boolean {
  const last = state.transitions.at(-1);
  const newest = last && (!state.base || last.seq > state.base.seq) ? last : state.base;
  return newest !== undefined && newest.seq > seq && !isTerminal(newest.status);
}

function withoutEnd(state: JobStream): JobStream {
  const { end: _end, ...rest } = state;
  return rest;
}

function without<T>(record: Readonly<Record<string, T>>, key: string): Readonly<Record<string, T>> {
  if (!(key in record)) return record;
  const { [key]: _gone, ...rest } = record;
  return rest;
}

function withEnd(state: JobStream, candidate: JobEnd): JobStream {
  if (!isTerminal(candidate.status) || !Number.isInteger(candidate.seq)) return state;
  const end = laterEnd(state.end, candidate);
  return end === state.end ? state : derive({ ...state, end });
}

/** The end with the higher seq; at the same seq, whichever names a reason. */
function laterEnd(a: JobEnd | undefined, b: JobEnd): JobEnd {
  const clean = (e: JobEnd): JobEnd => (e.reason ? { status: e.status, reason: e.reason, seq: e.seq } : { status: e.status, seq: e.seq });
  if (!a || b.seq > a.seq) return clean(b);
  if (b.seq < a.seq || a.reason || !b.reason) return a;
  return clean({ ...a, reason: b.reason });
}

function applyDelta(state: JobStream, stepId: string, attempt: number, offset: number, text: string): JobStream {
  if (typeof stepId !== 'string' || !Number.isInteger(attempt) || !Number.isInteger(offset) || offset < 0 || typeof text !== 'string') return state;
  const key = streamKey(stepId, attempt);
  let current = state.texts[key] ?? '';
  let waiting = [...(state.pieces[key] ?? []), { offset, text }];
  // Splice every piece that touches the text; the rest wait for the hole before them to fill.
  for (let progress = true; progress; ) {
    progress = false;
    const still: Piece[] = [];
    for (const piece of waiting) {
      if (piece.offset <= current.length) {
        current = splice(current, piece);
        progress = true;
      } else still.push(piece);
    }
    waiting = still;
  }
  const pieces = { ...state.pieces };
  if (waiting.length > 0) pieces[key] = waiting;
  else delete pieces[key];
  if (current === (state.texts[key] ?? '') && waiting.length === (state.pieces[key]?.length ?? 0)) return state;
  return { ...state, texts: { ...state.texts, [key]: current }, pieces };
}

/** Lays a piece over the text at its offset: the overlap is the same text sent again. */
function splice(current: string, piece: Piece): string {
  const end = piece.offset + piece.text.length;
  return end <= current.length ? current : current.slice(0, piece.offset) + piece.text;
}

/** Recomputes the current view from the base, the transitions after it and the end. */
function derive(state: JobStream): JobStream {
  // A redrive reopens an ended job: whatever says it is unfinished at a later seq supersedes the end.
  if (state.end && reopenedAfter(state, state.end.seq)) state = withoutEnd(state);
  if (!state.base) return state;
  let view = state.base;
  for (const t of state.transitions) if (t.seq > view.seq) view = applyTransition(view, t);
  if (state.end && state.seq >= state.end.seq && !isTerminal(view.status)) view = endView(view, state.end);
  return { ...state, view };
}

/** The view after one transition: status, stage and every changed step; totals re-added. */
export function applyTransition(view: JobView, t: TransitionRecord): JobView {
  const next: JobView = {
    ...view,
    status: t.status,
    stage: t.stage,
    seq: t.seq,
    updatedAt: Number.isFinite(t.at) ? new Date(t.at).toISOString() : view.updatedAt,
    advisors: view.advisors.map((a) => ({ ...a })),
  };
  if (t.reason) next.reason = t.reason;
  for (const change of Array.isArray(t.changes) ? t.changes : []) applyChange(next, change);
  return isTerminal(t.status) ? endView(next, { status: t.status, reason: t.reason, seq: t.seq }) : withTotals(next);
}

function applyChange(view: JobView, change: TransitionChange): void {
  if (change.stepId === 'synthesize') {
    view.synthesis = { ...updateStep(view.synthesis ?? { status: 'pending', attempt: 0 }, change) };
    return;
  }
  const [kind, advisorId] = splitStepId(change.stepId);
  const i = view.advisors.findIndex((a) => a.id === advisorId);
  const advisor = view.advisors[i];
  if (!advisor) return;
  if (kind === 'advise') view.advisors[i] = { ...advisor, answer: updateStep(advisor.answer, change) };
  if (kind === 'review') view.advisors[i] = { ...advisor, review: updateStep(advisor.review, change) };
}

function updateStep<S extends StepView>(step: S, change: TransitionChange): S {
  // A new attempt starts afresh: the last attempt's text, usage and cost are not this one's.
  const sameAttempt = step.attempt === change.attempt;
  const next: S = { ...step, status: change.status, attempt: change.attempt };
  // So does a repair's text (its usage and cost add to the attempt's, so they stay).
  if (!sameAttempt || change.repair) {
    delete next.text;
    delete next.truncated;
  }
  setOrDelete(next, 'error', change.error);
  setOrDelete(next, 'usage', change.usage ?? (sameAttempt ? step.usage : undefined));
  setOrDelete(next, 'costUsd', change.costUsd ?? (sameAttempt ? step.costUsd : undefined));
  setOrDelete(next, 'dueAt', change.status === 'retrying' ? change.dueAt : undefined);
  return next;
}

function setOrDelete<S extends StepView, K extends keyof StepView>(step: S, key: K, value: StepView[K] | undefined): void {
  if (value === undefined) delete step[key];
  else step[key] = value as S[K];
}

/** A finished job: its unfinished steps will never run. */
function endView(view: JobView, end: JobEnd): JobView {
  const left: StepStatus = end.status === 'cancelled' ? 'cancelled' : 'skipped';
  const finish = <S extends StepView>(step: S): S => {
    if (!isUnfinishedStep(step.status)) return step;
    const next: S = { ...step, status: left };
    delete next.dueAt;
    return next;
  };
  const next: JobView = {
    ...view,
    status: end.status,
    stage: 'done',
    advisors: view.advisors.map((a) => ({ ...a, answer: finish(a.answer), review: finish(a.review) })),
  };
  // The chair's step is always there once the job ends, as the server shows it.
  next.synthesis = finish(view.synthesis ?? { status: 'pending', attempt: 0 });
  if (end.reason) next.reason = end.reason;
  return withTotals(next);
}

/** Totals over every step, cost added in micro-dollars as the server does. */
function withTotals(view: JobView): JobView {
  const steps = stepsOf(view).map(([, s]) => s);
  const usage: Usage = {
    inputTokens: steps.reduce((sum, s) => sum + (s.usage?.inputTokens ?? 0), 0),
    outputTokens: steps.reduce((sum, s) => sum + (s.usage?.outputTokens ?? 0), 0),
  };
  const costUsd = steps.reduce((sum, s) => sum + Math.round((s.costUsd ?? 0) * 1e6), 0) / 1e6;
  return { ...view, usage, costUsd };
}
