/**
 * What `npm run ask` prints. Live: one line per thing a person cares about (an advisor
 * starts, answers, retries, fails; the reviews; the chair), each answer rendered when it is
 * complete, the chair's advice rendered a line at a time as it streams. Static: a whole
 * job (`show`) and a page of jobs (`list`). Every string from the API or a model passes
 * through `cleanDeep` as it comes in (and `oneLine` where a line must stay one line), so
 * none can drive the terminal.
 */
import type { Writable } from 'node:stream';
import type { JobsPage } from '../shared/contracts/api.js';
import type { JobView, StepView, TransitionRecord } from '../shared/contracts/job.js';
import type { FollowEvent } from './job-follower.js';
import { MarkdownStream, renderMarkdown } from './markdown.js';
import { clean, cleanDeep, oneLine, type Style } from './terminal-text.js';

export interface Renderer {
  submitted(jobId: string, question: string): void;
  event(e: FollowEvent): void;
  finished(view: JobView): void;
  /** Ends a half-written line (before printing something else, e.g. on Ctrl-C). */
  interrupt(): void;
}

const ANSWER_INDENT = '    ';

/** `npm run ask -- …` as the person should type it again (with their --user, if they gave one). */
export type Hint = (command: string) => string;

const reason = (view: Pick<JobView, 'reason'>) => (view.reason ? oneLine(view.reason) : '');
const who = (names: Map<string, string>, stepId: string) => {
  const id = stepId.split('.')[1] ?? 'chair';
  return names.get(id) ?? id;
};
const stepErrorText = (step: Pick<StepView, 'error'>) => oneLine(`${step.error?.error ?? ''} ${step.error?.cause ?? ''}`);

/** Ranking, confidence, notes, cost and the follow-up hint: the end of a finished job. */
function footer(view: JobView, s: Style, hint: Hint): string[] {
  const lines: string[] = [];
  const names = new Map(view.advisors.map((a) => [a.id, oneLine(a.name)]));
  if (view.ranking?.length) {
    lines.push(`${s.bold('Ranking by the circle:')} ${view.ranking.map((r) => `${names.get(r.advisorId) ?? oneLine(r.advisorId)} (${r.meanPosition.toFixed(1)})`).join(' > ')}`);
  }
  if (view.synthesis?.confidence) lines.push(`${s.bold('Confidence:')} ${view.synthesis.confidence}`);
  for (const note of view.notes) lines.push(s.dim(`note: ${oneLine(note)}`));
  lines.push(s.dim(`${view.usage.inputTokens + view.usage.outputTokens} tokens, about $${view.costUsd.toFixed(4)}`));
  if (view.conversationId) lines.push(s.dim(`follow up: ${hint(`--conversation ${shellWord(view.conversationId)} "…"`)}`));
  return lines;
}

/** How to run a failed job's failed steps again. */
const redriveHint = (view: JobView, s: Style, hint: Hint) => s.dim(`run the steps that failed again: ${hint(`redrive ${view.jobId}`)}`);

/** `word` as one shell word (API values are plain, but are never trusted to be). */
export function shellWord(word: string): string {
  const text = oneLine(word);
  return /^[\w.=+/:-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The live renderer of a followed job, writing to `out`. */
export function createRenderer(out: Writable, s: Style, hint: Hint): Renderer {
  const names = new Map<string, string>();
  /** Complete texts per `<stepId>#<attempt>`: streamed, or from the view (a re-attach). */
  const texts = new Map<string, string>();
  let chair: { stream: MarkdownStream; printed: number; key: string } | undefined;
  let waitingShown = false;
  const line = (text: string) => {
    endChair();
    out.write(`${text}\n`);
  };
  const endChair = () => {
    if (!chair) return;
    out.write(chair.stream.end());
    chair = undefined;
  };

  function onTransition(t: TransitionRecord): void {
    // The step that completed a stage commits together with the next stage: report it first.
    for (const c of t.changes) {
      const [kind] = c.stepId.split('.');
      const name = who(names, c.stepId);
      if (c.status === 'running' && c.attempt === 1 && kind === 'advise') line(s.dim(`◦ ${name} is thinking…`));
      if (c.status === 'retrying') {
        const wait = c.dueAt ? ` in ${Math.max(0, Math.round((c.dueAt - t.at) / 100) / 10)} s` : '';
        line(`↻ ${name}: ${oneLine(c.error?.error ?? 'error')}, trying again${wait} (attempt ${c.attempt + 1})`);
      }
      if (c.status === 'failed') line(`✗ ${name} ${kind === 'review' ? 'could not review' : 'could not answer'}: ${stepErrorText(c)}`.trim());
      if (c.status === 'succeeded' && kind === 'advise') {
        line(`● ${s.bold(name)} answered${c.usage ? s.dim(` (${c.usage.outputTokens} tokens)`) : ''}`);
        const text = texts.get(`${c.stepId}#${c.attempt}`);
        if (text) out.write(renderMarkdown(text, s, ANSWER_INDENT));
      }
      if (c.status === 'succeeded' && kind === 'review') line(`● ${name} reviewed the others`);
    }
    if (t.event === 'stage.reviewing') line(s.bold('\nThe circle reviews each other’s answers, anonymously…'));
    if (t.event === 'stage.synthesizing') line(s.bold('\nThe chair weighs the circle’s answers…'));
  }

  function onChairDelta(key: string, full: string): void {
    if (chair?.key !== key) {
      endChair();
      out.write('\n');
      chair = { stream: new MarkdownStream(s), printed: 0, key };
    }
    // A resend that rewrites text already shown cannot be unprinted: show only what is new.
    if (full.length > chair.printed) {
      out.write(chair.stream.push(full.slice(chair.printed)));
      chair.printed = full.length;
    }
  }

  return {
    submitted(jobId, question) {
      line(`${s.bold('You asked:')} ${clean(question)}\n${s.dim(`job ${oneLine(jobId)}`)}`);
    },
    event(raw) {
      const e = cleanDeep(raw);
      switch (e.type) {
        case 'view':
          for (const a of e.view.advisors) {
            names.set(a.id, oneLine(a.name));
            if (a.answer.text !== undefined) texts.set(`advise.${a.id}#${a.answer.attempt}`, a.answer.text);
          }
          names.set(e.view.chair.id, oneLine(e.view.chair.name));
          if (e.view.stage === 'queued' && !waitingShown) line(s.dim(`Waiting for a worker… the circle: ${e.view.advisors.map((a) => oneLine(a.name)).join(', ')}`));
          waitingShown = true;
          return;
        case 'transition':
          onTransition(e.transition);
          return;
        case 'delta':
          texts.set(`${e.stepId}#${e.attempt}`, e.full);
          if (e.stepId === 'synthesize') onChairDelta(`${e.stepId}#${e.attempt}`, e.full);
          return;
        case 'reconnecting':
          line(s.dim(`(connection lost; reconnecting from #${e.afterSeq}…)`));
          return;
        case 'error':
          line(`! ${oneLine(e.message)}`);
          return;
      }
    },
    finished(raw) {
      const view = cleanDeep(raw);
      const streamed = [...texts.entries()].find(([k]) => k.startsWith('synthesize#'))?.[1] ?? '';
      const missed = view.synthesis?.text && streamed.length < view.synthesis.text.length;
      endChair();
      out.write('\n');
      if (view.status !== 'succeeded') {
        line(`${s.bold(`The job ${view.status}.`)} ${reason(view)}`.trim());
        if (view.status === 'failed') line(redriveHint(view, s, hint));
        return;
      }
      // Shown live as it streamed; shown whole if the stream was missed (e.g. a late attach).
      if (missed) out.write(`${renderMarkdown(view.synthesis!.text!, s)}\n`);
      for (const l of footer(view, s, hint)) line(l);
    },
    interrupt() {
      if (chair) out.write('\n');
      chair = undefined;
    },
  };
}

/** A whole job as `show` prints it. */
export function renderJobView(raw: JobView, s: Style, hint: Hint): string {
  const view = cleanDeep(raw);
  const lines: string[] = [
    `${s.bold('You asked:')} ${clean(view.question)}`,
    s.dim(oneLine(`job ${view.jobId} · ${view.status}${view.status === 'running' ? ` (${view.stage})` : ''} · ${view.mode} · asked ${view.createdAt}`)),
    '',
  ];
  for (const a of view.advisors) {
    const name = s.bold(oneLine(a.name));
    const { answer } = a;
    if (answer.status === 'succeeded') {
      lines.push(`● ${name} answered${answer.usage ? s.dim(` (${answer.usage.outputTokens} tokens)`) : ''}`);
      if (answer.text) lines.push(renderMarkdown(answer.text, s, ANSWER_INDENT).replace(/\n$/, ''));
    } else if (answer.status === 'failed') lines.push(`✗ ${name} could not answer: ${stepErrorText(answer)}`);
    else lines.push(s.dim(`◦ ${oneLine(a.name)}: ${answer.status}`));
  }
  const synthesis = view.synthesis;
  if (synthesis?.text) lines.push('', s.bold(`${oneLine(view.chair.name)}’s advice:`), '', renderMarkdown(synthesis.text, s).replace(/\n$/, ''));
  lines.push('');
  if (view.status === 'succeeded') lines.push(...footer(view, s, hint));
  else if (view.status === 'failed' || view.status === 'cancelled') {
    lines.push(`${s.bold(`The job ${view.status}.`)} ${reason(view)}`.trim(), ...view.notes.map((n) => s.dim(`note: ${oneLine(n)}`)));
    if (view.status === 'failed') lines.push(redriveHint(view, s, hint));
  }
  else lines.push(...view.notes.map((n) => s.dim(`note: ${oneLine(n)}`)), s.dim(`follow it live: ${hint(`attach ${view.jobId}`)}   cancel it: ${hint(`cancel ${view.jobId}`)}`));
  return `${lines.join('\n')}\n`;
}

/** A page of jobs as `list` prints it: one line each, newest first, and how to get the next page. */
export function renderJobsPage(raw: JobsPage, s: Style, hint: Hint, options: { width?: number; limit?: number } = {}): string {
  const page = cleanDeep(raw);
  const { width, limit } = options;
  if (page.items.length === 0) return `${s.dim('No jobs yet: ask with npm run ask -- "your question"')}\n`;
  const lines = page.items.map((job) => {
    const when = job.createdAt.slice(0, 16).replace('T', ' ');
    const head = `${oneLine(when)}  ${oneLine(job.status).padEnd(9)}  ${oneLine(job.mode).padEnd(5)}  ${oneLine(job.jobId)}  `;
    const preview = oneLine(job.questionPreview);
    // On a terminal, one row per job; piped, the whole preview.
    const room = width ? Math.max(10, width - [...head].length) : Infinity;
    const shown = [...preview].length > room ? `${[...preview].slice(0, room - 1).join('')}…` : preview;
    return `${s.dim(head)}${shown}`;
  });
  if (page.cursor) lines.push(s.dim(`more: ${hint(`list${limit ? ` --limit ${limit}` : ''} --cursor ${shellWord(page.cursor)}`)}`));
  return `${lines.join('\n')}\n`;
}
