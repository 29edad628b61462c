/**
 * What `npm run ask` prints: one line per thing a person cares about (an advisor starts,
 * answers, retries, fails; the reviews; the chair), each answer when it is complete, and
 * the chair's advice streamed as it is written.
 */
import type { Writable } from 'node:stream';
import type { JobView, TransitionRecord } from '../shared/contracts/job.js';
import type { FollowEvent } from './job-follower.js';

export interface Renderer {
  submitted(jobId: string, question: string): void;
  event(e: FollowEvent): void;
  finished(view: JobView, transitions: TransitionRecord[]): void;
}

const indent = (text: string) => text.trim().split('\n').map((l) => `    ${l}`).join('\n');

/** A renderer writing to `out`; `color` adds ANSI emphasis for terminals. */
export function createRenderer(out: Writable, color: boolean): Renderer {
  const names = new Map<string, string>();
  const texts = new Map<string, string>();
  let chairStreaming = false;
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);
  const line = (s: string) => {
    if (chairStreaming) out.write('\n');
    chairStreaming = false;
    out.write(`${s}\n`);
  };
  const who = (stepId: string) => {
    const id = stepId.split('.')[1] ?? 'chair';
    return names.get(id) ?? id;
  };

  function onTransition(t: TransitionRecord): void {
    // The step that completed a stage commits together with the next stage: report it first.
    for (const c of t.changes) {
      const [kind] = c.stepId.split('.');
      const name = who(c.stepId);
      if (c.status === 'running' && c.attempt === 1 && kind === 'advise') line(dim(`◦ ${name} is thinking…`));
      if (c.status === 'retrying') {
        const wait = c.dueAt ? ` in ${Math.max(0, Math.round((c.dueAt - t.at) / 100) / 10)} s` : '';
        line(`↻ ${name}: ${c.error?.error ?? 'error'}, trying again${wait} (attempt ${c.attempt + 1})`);
      }
      if (c.status === 'failed') line(`✗ ${name} ${kind === 'review' ? 'could not review' : 'could not answer'}: ${c.error?.error ?? ''} ${c.error?.cause ?? ''}`.trim());
      if (c.status === 'succeeded' && kind === 'advise') {
        line(`● ${bold(name)} answered${c.usage ? dim(` (${c.usage.outputTokens} tokens)`) : ''}`);
        const text = texts.get(`${c.stepId}#${c.attempt}`);
        if (text) line(indent(text));
      }
      if (c.status === 'succeeded' && kind === 'review') line(`● ${name} reviewed the others`);
    }
    if (t.event === 'stage.reviewing') line(bold('\nThe circle reviews each other’s answers, anonymously…'));
    if (t.event === 'stage.synthesizing') line(bold('\nThe chair weighs the circle’s answers…'));
  }

  return {
    submitted(jobId, question) {
      line(`${bold('You asked:')} ${question}\n${dim(`job ${jobId}`)}`);
    },
    event(e) {
      switch (e.type) {
        case 'view':
          for (const a of e.view.advisors) names.set(a.id, a.name);
          names.set(e.view.chair.id, e.view.chair.name);
          if (e.view.stage === 'queued') line(dim(`Waiting for a worker… the circle: ${e.view.advisors.map((a) => a.name).join(', ')}`));
          return;
        case 'transition':
          onTransition(e.transition);
          return;
        case 'delta':
          texts.set(`${e.stepId}#${e.attempt}`, e.full);
          if (e.stepId === 'synthesize') {
            if (!chairStreaming) out.write('\n');
            chairStreaming = true;
            out.write(e.text);
          }
          return;
        case 'reconnecting':
          line(dim(`(connection lost; reconnecting from #${e.afterSeq}…)`));
          return;
        case 'error':
          line(`! ${e.message}`);
          return;
      }
    },
    finished(view) {
      line('');
      if (view.status !== 'succeeded') {
        line(`${bold(`The job ${view.status}.`)} ${view.reason ?? ''}`.trim());
        return;
      }
      if (view.ranking?.length) {
        line(`${bold('Ranking by the circle:')} ${view.ranking.map((r) => `${names.get(r.advisorId) ?? r.advisorId} (${r.meanPosition.toFixed(1)})`).join(' > ')}`);
      }
      const s = view.synthesis;
      // Shown live as it streamed; print it whole if the stream was missed (e.g. a late reconnect).
      const streamed = [...texts.entries()].find(([k]) => k.startsWith('synthesize#'))?.[1] ?? '';
      if (s?.text && streamed.length < s.text.length) line(`\n${s.text.trim()}\n`);
      if (s?.confidence) line(`${bold('Confidence:')} ${s.confidence}`);
      for (const note of view.notes) line(dim(`note: ${note}`));
      line(dim(`${view.usage.inputTokens + view.usage.outputTokens} tokens, about $${view.costUsd.toFixed(4)}`));
      if (view.conversationId) line(dim(`follow up: npm run ask -- --conversation ${view.conversationId} "…"`));
    },
  };
}
