import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { JobView, TransitionChange, TransitionRecord } from '../../services/shared/contracts/job.js';
import type { ServerMessage } from '../../services/shared/contracts/ws.js';
import {
  FrameDecoder,
  applyMessage,
  applyMessages,
  applyTransition,
  createJobStream,
  gapAfter,
  isComplete,
  needsRefetch,
  stepText,
  subscribeMessage,
  type JobStream,
} from '../../services/shared/contracts/ws-client.js';
import { packFrames } from '../../services/shared/push/frames.js';

const JOB = 'job-1';
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

function queuedView(): JobView {
  const step = { status: 'pending' as const, attempt: 0 };
  return {
    jobId: JOB,
    status: 'queued',
    stage: 'queued',
    mode: 'full',
    question: 'Should we rewrite the monolith?',
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    seq: 0,
    advisors: ['claude', 'mistral', 'llama'].map((id) => ({ id, name: id.toUpperCase(), modelId: `m.${id}`, answer: { ...step }, review: { ...step } })),
    chair: { id: 'chair', name: 'Chair', modelId: 'm.chair' },
    usage: { inputTokens: 0, outputTokens: 0 },
    costUsd: 0,
    notes: [],
  };
}

const change = (stepId: string, status: TransitionChange['status'], attempt = 1, extra: Partial<TransitionChange> = {}): TransitionChange => ({ stepId, status, attempt, ...extra });
const usage = (n: number) => ({ usage: { inputTokens: 10 * n, outputTokens: n }, costUsd: n / 1000 });

function transition(seq: number, event: string, stage: TransitionRecord['stage'], changes: TransitionChange[], status: TransitionRecord['status'] = 'running', reason?: string): TransitionRecord {
  return { jobId: JOB, seq, at: T0 + seq * 1000, event, status, stage, changes, ...(reason ? { reason } : {}) };
}

/** A whole job: one advisor retries once, one fails, the others answer and review, the chair writes. */
const HISTORY: TransitionRecord[] = [
  transition(1, 'job.started', 'advising', [change('advise.claude', 'running'), change('advise.mistral', 'running'), change('advise.llama', 'running')]),
  transition(2, 'step.succeeded', 'advising', [change('advise.claude', 'succeeded', 1, usage(120))]),
  transition(3, 'step.retrying', 'advising', [change('advise.mistral', 'retrying', 1, { error: { error: 'ThrottlingException', cause: 'slow down' }, dueAt: T0 + 9000 })]),
  transition(4, 'step.started', 'advising', [change('advise.mistral', 'running', 2)]),
  transition(5, 'step.failed', 'advising', [change('advise.llama', 'failed', 1, { error: { error: 'ModelError', cause: 'the model refused' } })]),
  transition(6, 'stage.reviewing', 'reviewing', [change('advise.mistral', 'succeeded', 2, usage(80)), change('review.claude', 'running'), change('review.mistral', 'running')]),
  transition(7, 'step.succeeded', 'reviewing', [change('review.claude', 'succeeded', 1, usage(20))]),
  transition(8, 'stage.synthesizing', 'synthesizing', [change('review.mistral', 'succeeded', 1, usage(25)), change('synthesize', 'running')]),
  transition(9, 'job.succeeded', 'done', [change('synthesize', 'succeeded', 1, usage(200))], 'succeeded'),
];

const ANSWERS: Record<string, string> = {
  'advise.claude#1': 'Keep the monolith; carve out **one** service first.',
  'advise.mistral#1': 'Rewr',
  'advise.mistral#2': 'Rewrite only the billing module, then measure.',
  'review.claude#1': '{"ranking":["A"],"critiques":{"A":"fine"}}',
  'review.mistral#1': '{"ranking":["A"],"critiques":{"A":"bold"}}',
  'synthesize#1': 'Recommendation: split billing out. Confidence: medium.',
};

const tr = (t: TransitionRecord): ServerMessage => ({ type: 'job.transition', jobId: JOB, seq: t.seq, transition: t });
const viewMsg = (view: JobView): ServerMessage => ({ type: 'job.view', jobId: JOB, seq: view.seq, view });
const delta = (key: string, offset: number, text: string): ServerMessage => {
  const [stepId, attempt] = key.split('#') as [string, string];
  return { type: 'step.delta', jobId: JOB, stepId, attempt: Number(attempt), offset, text };
};
const done = (seq: number, status: 'succeeded' | 'failed' | 'cancelled', reason?: string): ServerMessage => ({ type: 'job.done', jobId: JOB, seq, status, ...(reason ? { reason } : {}) });

/** The view the server would show after `seq` transitions (the last one enriched as a refetch would be). */
function serverView(seq: number): JobView {
  return HISTORY.slice(0, seq).reduce(applyTransition, queuedView());
}

function finalServerView(): JobView {
  const view = serverView(HISTORY.length);
  view.ranking = [{ advisorId: 'claude', meanPosition: 1, votes: 1 }, { advisorId: 'mistral', meanPosition: 1, votes: 1 }];
  view.synthesis = { ...view.synthesis!, text: ANSWERS['synthesize#1'], recommendation: 'split billing out', agreement: 'a', dissent: 'd', confidence: 'medium' };
  view.adviceQuality = 'complete';
  return view;
}

/** Streams each text in pieces of `size`, plus a resend from offset 0 as a reconnect's catch-up sends. */
function deltasOf(size: number): ServerMessage[] {
  const out: ServerMessage[] = [];
  for (const [key, text] of Object.entries(ANSWERS)) {
    for (let i = 0; i < text.length; i += size) out.push(delta(key, i, text.slice(i, i + size)));
    out.push(delta(key, 0, text.slice(0, Math.ceil(text.length / 2))));
  }
  return out;
}

/** What a subscriber of the whole job receives, in order. */
function validSequence(): ServerMessage[] {
  return [viewMsg(serverView(0)), ...HISTORY.map(tr), ...deltasOf(7), done(9, 'succeeded'), viewMsg(finalServerView())];
}

const decodeAll = (frames: string[]) => {
  const decoder = new FrameDecoder();
  return frames.flatMap((f) => decoder.decode(f));
};

describe('FrameDecoder', () => {
  it('reads a single message, an array in order, and chunks joined by id', () => {
    const big = delta('advise.claude#1', 0, 'x'.repeat(3000));
    const frames = packFrames([tr(HISTORY[0]!), tr(HISTORY[1]!), big, tr(HISTORY[2]!)], 1000);
    expect(frames.length).toBeGreaterThan(3);
    expect(decodeAll(frames)).toEqual([tr(HISTORY[0]!), tr(HISTORY[1]!), big, tr(HISTORY[2]!)]);
  });

  it('joins chunks of two messages that arrive interleaved', () => {
    const a = packFrames([delta('advise.claude#1', 0, 'a'.repeat(2000))], 800);
    const b = packFrames([delta('advise.mistral#1', 0, 'b'.repeat(2000))], 800);
    const interleaved = a.flatMap((f, i) => [f, b[i]!]);
    const out = decodeAll(interleaved);
    expect(out).toHaveLength(2);
    expect(out.map((m) => (m as { stepId: string }).stepId).sort()).toEqual(['advise.claude', 'advise.mistral']);
  });

  it('ignores garbage: bad JSON, non-messages, malformed chunks, a chunked payload that is not JSON', () => {
    const decoder = new FrameDecoder();
    const garbage = [
      'not json',
      'null',
      '42',
      '"text"',
      '[1, null, {"no":"type"}]',
      '{"type":"chunk","id":"x","index":5,"count":2,"data":"{"}',
      '{"type":"chunk","id":"x","index":0,"count":"2","data":"{"}',
      '{"type":"chunk","id":"y","index":0,"count":2,"data":"{oops"}',
      '{"type":"chunk","id":"y","index":1,"count":2,"data":"!"}',
    ];
    for (const raw of garbage) expect(decoder.decode(raw)).toEqual([]);
    expect(decoder.decode(JSON.stringify(done(1, 'failed')))).toEqual([done(1, 'failed')]);
  });

  it('never throws on arbitrary input', () => {
    const decoder = new FrameDecoder();
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify([v, { type: 'chunk', id: 'z', index: 0, count: 1, data: JSON.stringify(v) }]))), (raw) => {
        for (const m of decoder.decode(raw)) expect(typeof m.type).toBe('string');
      }),
      { numRuns: 300 },
    );
  });
});

describe('applyMessage', () => {
  it('applies transitions to the view in seq order and tracks the resubscribe seq', () => {
    const s = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), tr(HISTORY[0]!), tr(HISTORY[1]!)]);
    expect(s.seq).toBe(2);
    expect(s.view!.status).toBe('running');
    expect(s.view!.stage).toBe('advising');
    expect(s.view!.advisors[0]!.answer).toMatchObject({ status: 'succeeded', attempt: 1, usage: { outputTokens: 120 }, costUsd: 0.12 });
    expect(s.view!.advisors[1]!.answer.status).toBe('running');
    expect(s.view!.usage).toEqual({ inputTokens: 1200, outputTokens: 120 });
    expect(subscribeMessage(s)).toEqual({ action: 'subscribe', jobId: JOB, afterSeq: 2 });
  });

  it('drops duplicated transitions', () => {
    const once = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), tr(HISTORY[0]!), tr(HISTORY[1]!)]);
    const twice = applyMessages(once, [tr(HISTORY[0]!), tr(HISTORY[1]!), tr(HISTORY[1]!)]);
    expect(twice).toBe(once);
    expect(twice.transitions.map((t) => t.seq)).toEqual([1, 2]);
  });

  it('holds a transition that arrives early and applies it once the gap closes', () => {
    let s = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), tr(HISTORY[0]!), tr(HISTORY[2]!)]);
    expect(s.seq).toBe(1);
    expect(gapAfter(s)).toBe(1);
    expect(s.view!.advisors[1]!.answer.status).toBe('running');
    s = applyMessage(s, tr(HISTORY[1]!));
    expect(gapAfter(s)).toBeUndefined();
    expect(s.transitions.map((t) => t.seq)).toEqual([1, 2, 3]);
    expect(s.view!.advisors[1]!.answer).toMatchObject({ status: 'retrying', attempt: 1, dueAt: T0 + 9000, error: { error: 'ThrottlingException' } });
  });

  it('reports a missing seq as a gap to resubscribe after, and heals from the backlog', () => {
    let s = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), ...HISTORY.slice(0, 3).map(tr), ...HISTORY.slice(4).map(tr), done(9, 'succeeded')]);
    expect(gapAfter(s)).toBe(3);
    expect(isComplete(s)).toBe(false);
    expect(subscribeMessage(s)).toEqual({ action: 'subscribe', jobId: JOB, afterSeq: 3 });
    // The resubscription answers with the view and the backlog after seq 3.
    s = applyMessages(s, [viewMsg(serverView(9)), ...HISTORY.slice(3).map(tr), done(9, 'succeeded')]);
    expect(gapAfter(s)).toBeUndefined();
    expect(isComplete(s)).toBe(true);
    expect(s.transitions.map((t) => t.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('replays later transitions over a view that arrives after them', () => {
    const s = applyMessages(createJobStream(JOB), [...HISTORY.slice(0, 4).map(tr), viewMsg(serverView(2))]);
    expect(s.view!.seq).toBe(4);
    expect(s.view!.advisors[1]!.answer).toMatchObject({ status: 'running', attempt: 2 });
    expect(s.view!.advisors[1]!.answer.dueAt).toBeUndefined();
  });

  it('keeps the newer view when an older one arrives late', () => {
    const s = applyMessages(createJobStream(JOB), [viewMsg(finalServerView()), viewMsg(serverView(3))]);
    expect(s.view!.ranking).toHaveLength(2);
    expect(s.view!.status).toBe('succeeded');
  });

  it('ignores messages about another job', () => {
    const s = createJobStream(JOB);
    const other = { ...tr(HISTORY[0]!), jobId: 'job-2' } as ServerMessage;
    expect(applyMessage(s, other)).toBe(s);
    expect(applyMessage(s, { ...delta('advise.claude#1', 0, 'hi'), jobId: 'job-2' } as ServerMessage)).toBe(s);
  });

  it('shows a failed advisor with its error and asks for a fresh view', () => {
    const before = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), ...HISTORY.slice(0, 4).map(tr)]);
    const after = applyMessage(before, tr(HISTORY[4]!));
    expect(after.view!.advisors[2]!.answer).toMatchObject({ status: 'failed', error: { error: 'ModelError', cause: 'the model refused' } });
    expect(needsRefetch(before, after)).toBe(true);
    expect(needsRefetch(after, applyMessage(after, delta('advise.mistral#2', 0, 'Re')))).toBe(false);
  });

  it('asks for a fresh view when the stage changes and when the job ends', () => {
    const advising = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), ...HISTORY.slice(0, 5).map(tr)]);
    const reviewing = applyMessage(advising, tr(HISTORY[5]!));
    expect(needsRefetch(advising, reviewing)).toBe(true);
    const reviewed = applyMessage(reviewing, tr(HISTORY[6]!));
    expect(needsRefetch(reviewing, reviewed)).toBe(false);
    const ended = applyMessages(reviewed, [tr(HISTORY[7]!), tr(HISTORY[8]!)]);
    expect(isComplete(ended)).toBe(true);
    expect(needsRefetch(reviewed, ended)).toBe(true);
  });

  it('ends a cancelled job: status, reason, and its unfinished steps cancelled', () => {
    const cancel = transition(5, 'job.cancelled', 'done', [], 'cancelled', 'Cancelled by its owner.');
    const s = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), ...HISTORY.slice(0, 4).map(tr), tr(cancel), done(5, 'cancelled', 'Cancelled by its owner.')]);
    expect(isComplete(s)).toBe(true);
    expect(s.end).toEqual({ status: 'cancelled', reason: 'Cancelled by its owner.', seq: 5 });
    expect(s.view).toMatchObject({ status: 'cancelled', stage: 'done', reason: 'Cancelled by its owner.' });
    expect(s.view!.advisors.map((a) => a.answer.status)).toEqual(['succeeded', 'cancelled', 'cancelled']);
    expect(s.view!.advisors.map((a) => a.review.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
  });

  it('is not complete on job.done until the transitions up to it are applied', () => {
    let s = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), ...HISTORY.slice(0, 7).map(tr), done(9, 'succeeded')]);
    expect(isComplete(s)).toBe(false);
    expect(s.view!.status).toBe('running');
    s = applyMessages(s, [tr(HISTORY[7]!), tr(HISTORY[8]!)]);
    expect(isComplete(s)).toBe(true);
    expect(s.view!.status).toBe('succeeded');
  });

  it('ends a job that a job.done alone reports (no transition behind it)', () => {
    const view = { ...serverView(0), status: 'cancelled' as const, stage: 'done' as const, reason: 'Cancelled before it started.' };
    const s = applyMessages(createJobStream(JOB), [viewMsg(view), done(0, 'cancelled', 'Cancelled before it started.')]);
    expect(isComplete(s)).toBe(true);
    expect(s.view!.reason).toBe('Cancelled before it started.');
  });
});

describe('a redriven job', () => {
  const FAILED_AT = 5;
  const failedRun = [...HISTORY.slice(0, 4), transition(FAILED_AT, 'job.failed', 'done', [change('advise.llama', 'failed', 1)], 'failed', 'Only 1 of 3 advisors answered.')];
  const redrive = transition(6, 'job.redriven', 'queued', [], 'queued');
  const rerun = transition(7, 'job.started', 'advising', [change('advise.llama', 'running', 2)]);

  it('reopens when a later transition says it runs again, and ends again at its new end', () => {
    let s = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), ...failedRun.map(tr), done(FAILED_AT, 'failed', 'Only 1 of 3 advisors answered.')]);
    expect(isComplete(s)).toBe(true);
    s = applyMessages(s, [tr(redrive), tr(rerun)]);
    expect(isComplete(s)).toBe(false);
    expect(s.end).toBeUndefined();
    expect(s.view).toMatchObject({ status: 'running', stage: 'advising', seq: 7 });
    expect(s.view!.advisors.find((a) => a.id === 'llama')!.answer).toMatchObject({ status: 'running', attempt: 2 });
    // A late job.done of the first end does not end it again.
    s = applyMessage(s, done(FAILED_AT, 'failed', 'Only 1 of 3 advisors answered.'));
    expect(isComplete(s)).toBe(false);
    s = applyMessages(s, [tr(transition(8, 'job.succeeded', 'done', [change('advise.llama', 'succeeded', 2)], 'succeeded')), done(8, 'succeeded')]);
    expect(isComplete(s)).toBe(true);
    expect(s.view).toMatchObject({ status: 'succeeded', seq: 8 });
  });

  it('is not complete when a fresh subscriber gets the view of the redrive before the old end in the backlog', () => {
    const queued = { ...serverView(0), status: 'queued' as const, stage: 'queued' as const, seq: 6 };
    // However the backlog is framed, the newer view says the job runs again.
    for (const split of [1, 3, FAILED_AT, FAILED_AT + 1]) {
      const backlog = [...failedRun, redrive].map(tr);
      let s = applyMessages(createJobStream(JOB), [viewMsg(queued), ...backlog.slice(0, split)]);
      expect(isComplete(s), `after ${split} transitions`).toBe(false);
      s = applyMessages(s, backlog.slice(split));
      expect(isComplete(s)).toBe(false);
      expect(s.view).toMatchObject({ status: 'queued', seq: 6 });
    }
  });

  it('stays ended when a view at the end\'s own seq still says running (read as the end was committed)', () => {
    const racing = { ...serverView(0), status: 'running' as const, stage: 'advising' as const, seq: FAILED_AT };
    const s = applyMessages(createJobStream(JOB), [viewMsg(racing), ...failedRun.map(tr)]);
    expect(isComplete(s)).toBe(true);
    expect(s.view!.status).toBe('failed');
  });
});

describe('streamed text', () => {
  it('joins deltas by offset and cuts resends after a reconnect at their offset: nothing lost or doubled', () => {
    const key = 'advise.claude#1';
    const s = applyMessages(createJobStream(JOB), [
      delta(key, 0, 'Keep the '),
      delta(key, 9, 'monolith'),
      // The new connection's catch-up repeats everything so far, then the stream goes on.
      delta(key, 0, 'Keep the monolith'),
      delta(key, 9, 'monolith; carve'),
      delta(key, 24, ' out one service.'),
    ]);
    expect(s.texts[key]).toBe('Keep the monolith; carve out one service.');
  });

  it('holds a piece that arrives ahead of a hole until the hole fills', () => {
    const key = 'synthesize#1';
    let s = applyMessages(createJobStream(JOB), [delta(key, 0, 'Split '), delta(key, 13, ' out.')]);
    expect(s.texts[key]).toBe('Split ');
    s = applyMessage(s, delta(key, 6, 'billing'));
    expect(s.texts[key]).toBe('Split billing out.');
    expect(s.pieces[key]).toBeUndefined();
  });

  it('shows the latest attempt while streaming and the stored text once the view has it', () => {
    let s = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), ...HISTORY.slice(0, 4).map(tr), delta('advise.mistral#1', 0, 'Rewr'), delta('advise.mistral#2', 0, 'Rewrite only')]);
    expect(stepText(s, 'advise.mistral')).toBe('Rewrite only');
    const stored = finalServerView();
    stored.advisors[1]!.answer.text = 'Rewrite only the billing module, then measure.';
    s = applyMessage(s, viewMsg(stored));
    expect(stepText(s, 'advise.mistral')).toBe('Rewrite only the billing module, then measure.');
    expect(stepText(s, 'advise.llama')).toBeUndefined();
  });
});

describe('a repair', () => {
  it('replaces the unusable text streamed so far with the repair\'s, in the same attempt', () => {
    const key = 'synthesize#1';
    const history = HISTORY.slice(0, 8);
    let s = applyMessages(createJobStream(JOB), [viewMsg(serverView(0)), ...history.map(tr), delta(key, 0, 'I think you should split.')]);
    expect(stepText(s, 'synthesize')).toBe('I think you should split.');
    s = applyMessages(s, [
      tr(transition(9, 'job.updated', 'synthesizing', [change('synthesize', 'running', 1, { ...usage(30), repair: true })])),
      delta(key, 0, 'Recommendation: split'),
      delta(key, 21, ' billing out.'),
    ]);
    expect(stepText(s, 'synthesize')).toBe('Recommendation: split billing out.');
    expect(s.view?.synthesis).toMatchObject({ status: 'running', attempt: 1, costUsd: 0.03 });
  });
});

describe('a job stream', () => {
  it('ends in the same state whatever the order, duplication and framing of a valid message sequence', () => {
    const messages = validSequence();
    const expected = applyMessages(createJobStream(JOB), messages);
    expect(isComplete(expected)).toBe(true);
    expect(expected.texts).toEqual(ANSWERS);
    expect(expected.view!.ranking).toHaveLength(2);

    const delivery = fc
      .array(fc.nat({ max: messages.length - 1 }), { maxLength: 25 })
      .chain((dups) => {
        const all = [...messages, ...dups.map((i) => messages[i]!)];
        return fc.tuple(fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }), fc.integer({ min: 300, max: 4000 }));
      });
    fc.assert(
      fc.property(delivery, ([order, frameBytes]) => {
        const received = decodeAll(packFrames(order, frameBytes));
        const actual: JobStream = applyMessages(createJobStream(JOB), received);
        expect(actual).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});
