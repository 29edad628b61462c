import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../services/cli/cli-args.js';
import { UsageError } from '../../services/cli/errors.js';
import { renderMarkdown } from '../../services/cli/markdown.js';
import { createRenderer, renderJobsPage, renderJobView } from '../../services/cli/render.js';
import { styleFor } from '../../services/cli/terminal-text.js';
import type { JobView, TransitionRecord } from '../../services/shared/contracts/job.js';

const plain = styleFor(false);
const hint = (command: string) => `npm run ask -- ${command}`;
const JOB = '3f0c2a6e-1111-4222-8333-444455556666';
const EVIL = '\x1b]0;owned\x07\x1b[2J\x9b31m\r';

function view(overrides: Partial<JobView> = {}): JobView {
  const step = { status: 'succeeded' as const, attempt: 1, text: '## Plan\n\n- **one**\n- two', usage: { inputTokens: 10, outputTokens: 20 } };
  return {
    jobId: JOB,
    status: 'succeeded',
    stage: 'done',
    mode: 'full',
    question: 'Should I?',
    conversationId: JOB,
    createdAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:01:00.000Z',
    seq: 9,
    advisors: [{ id: 'claude', name: 'Claude', modelId: 'm', answer: step, review: { status: 'succeeded', attempt: 1 } }],
    chair: { id: 'chair', name: 'Chair', modelId: 'm' },
    ranking: [{ advisorId: 'claude', meanPosition: 1, votes: 2 }],
    synthesis: { ...step, text: '## Recommendation\n\nGo **slowly**.\n\n## Confidence\n\nHigh.', confidence: 'high' },
    usage: { inputTokens: 100, outputTokens: 50 },
    costUsd: 0.0123,
    notes: [],
    ...overrides,
  };
}

function sink(): { out: Writable; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { out, text: () => text };
}

describe('renderJobView', () => {
  it('shows the question, each answer and the advice rendered, then ranking, confidence, cost and the follow-up', () => {
    const out = renderJobView(view(), plain, hint);
    expect(out).toContain('You asked: Should I?');
    expect(out).toContain('● Claude answered (20 tokens)\n    Plan\n    ────\n\n      • one\n      • two');
    expect(out).toContain('Chair’s advice:\n\nRecommendation\n──────────────\n\nGo slowly.');
    expect(out).toContain('Ranking by the circle: Claude (1.0)\nConfidence: high\n150 tokens, about $0.0123');
    expect(out).toContain(`follow up: npm run ask -- --conversation ${JOB} "…"`);
  });

  it('says how to follow or cancel a running job, and why a failed one failed', () => {
    expect(renderJobView(view({ status: 'running', stage: 'advising', synthesis: undefined }), plain, hint)).toContain(`follow it live: npm run ask -- attach ${JOB}   cancel it: npm run ask -- cancel ${JOB}`);
    const failed = renderJobView(view({ status: 'failed', reason: 'Two advisors could not answer.' }), plain, hint);
    expect(failed).toContain('The job failed. Two advisors could not answer.');
    expect(failed).toContain(`run the steps that failed again: npm run ask -- redrive ${JOB}`);
    expect(renderJobView(view({ status: 'cancelled' }), plain, hint)).not.toContain('redrive');
  });

  it('prints no escape sequence or control character from any field, colour on or off', () => {
    const hostile = view({
      question: `Q${EVIL}`,
      reason: `R${EVIL}`,
      status: 'failed',
      notes: [`N${EVIL}`],
      advisors: [{ id: 'x', name: `Claude${EVIL}`, modelId: 'm', answer: { status: 'failed', attempt: 1, error: { error: `E${EVIL}`, cause: `C${EVIL}` } }, review: { status: 'skipped', attempt: 0 } }],
    });
    for (const style of [plain, styleFor(true)]) {
      const out = renderJobView(hostile, style, hint).replace(/\x1b\[\d+m/g, '');
      expect(out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      expect(out).toContain('✗ Claude could not answer: E C');
    }
  });
});

describe('renderJobsPage', () => {
  const page = {
    items: [{ jobId: JOB, status: 'running' as const, stage: 'advising' as const, mode: 'quick' as const, questionPreview: `Line one\nline two ${EVIL}`, createdAt: '2026-01-01T10:00:00.000Z', updatedAt: '2026-01-01T10:00:00.000Z' }],
    cursor: 'eyJvIjoiYWxpY2UifQ',
  };

  it('prints one line per job and the command for the next page', () => {
    expect(renderJobsPage(page, plain, hint, { limit: 5 })).toBe(`2026-01-01 10:00  running    quick  ${JOB}  Line one line two\nmore: npm run ask -- list --limit 5 --cursor eyJvIjoiYWxpY2UifQ\n`);
  });

  it('cuts the preview to the terminal’s width', () => {
    const line = renderJobsPage({ items: page.items }, plain, hint, { width: 90 }).trimEnd();
    expect([...line].length).toBe(90);
    expect(line.endsWith('…')).toBe(true);
  });
});

describe('the live renderer', () => {
  it('renders the chair’s streamed advice exactly as the whole text would render, however it is cut', () => {
    const final = view();
    const text = final.synthesis!.text!;
    const { out, text: printed } = sink();
    const r = createRenderer(out, plain, hint);
    r.event({ type: 'view', view: { ...final, status: 'running', stage: 'synthesizing', synthesis: { status: 'running', attempt: 1 } } });
    let full = '';
    for (const piece of text.match(/.{1,3}/gs)!) {
      full += piece;
      r.event({ type: 'delta', stepId: 'synthesize', attempt: 1, text: piece, full });
    }
    const done: TransitionRecord = { jobId: JOB, seq: 9, at: 0, event: 'job.succeeded', status: 'succeeded', stage: 'done', changes: [{ stepId: 'synthesize', status: 'succeeded', attempt: 1 }] };
    r.event({ type: 'transition', transition: done });
    r.finished(final);
    expect(printed()).toContain(renderMarkdown(text, plain));
    // Streamed once, not printed again at the end.
    expect(printed().split('Recommendation').length).toBe(2);
  });

  it('prints the advice whole when the stream was missed (attached after it)', () => {
    const { out, text: printed } = sink();
    const r = createRenderer(out, plain, hint);
    r.event({ type: 'view', view: view() });
    r.finished(view());
    expect(printed()).toContain(renderMarkdown(view().synthesis!.text!, plain));
  });
});

describe('parseCommandLine', () => {
  it('reads a question, and the commands with their options', () => {
    expect(parseCommandLine(['--quick', '--advisors', 'claude, llama', 'Rust', 'or', 'Go?'])).toEqual({ name: 'ask', question: 'Rust or Go?', quick: true, advisors: ['claude', 'llama'], json: false });
    expect(parseCommandLine(['list', '--limit', '5', '--cursor', 'abc', '--user', 'bob'])).toEqual({ name: 'list', limit: 5, cursor: 'abc', user: 'bob', json: false });
    expect(parseCommandLine(['attach', JOB.toUpperCase()])).toEqual({ name: 'attach', jobId: JOB, json: false });
    expect(parseCommandLine(['redrive', JOB, '--json'])).toEqual({ name: 'redrive', jobId: JOB, json: true });
    expect(parseCommandLine(['show me the way'])).toMatchObject({ name: 'ask', question: 'show me the way' });
    expect(parseCommandLine(['-h'])).toEqual({ name: 'help' });
  });

  it('refuses what does not fit, saying what to type instead', () => {
    const cases: [string[], RegExp][] = [
      [[], /ask a question/],
      [['show', 'me', 'the', 'way'], /show takes one job id/],
      [['show', 'me'], /"me" is not a job id.*quote it whole/],
      [['redrive'], /redrive takes one job id: npm run ask -- redrive <job-id>/],
      [['list', '--quick'], /--quick is for asking a question, not list/],
      [['--limit', '5', 'Why?'], /--limit is for list, not ask/],
      [['list', '--limit', '0'], /--limit must be a whole number from 1 to 100/],
      [['--nope', 'Why?'], /Unknown option '--nope'/],
    ];
    for (const [argv, message] of cases) expect(() => parseCommandLine(argv), argv.join(' ')).toThrow(expect.objectContaining({ name: UsageError.name, message: expect.stringMatching(message) }));
  });
});
