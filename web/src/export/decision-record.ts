/**
 * The whole decision record of a job as Markdown, for keeping: the question, each
 * advisor's answer, the ranking and the review matrix, the chair's advice, usage and cost.
 * Pure: the page passes the view and any text it has only from the stream.
 */
import type { AdvisorView, JobView } from '../contracts';
import { formatCost, formatTokens, totalTokens } from '../format/format';

/** Text of a step by id when the view has none (streamed so far). */
export type StreamedText = (stepId: string) => string | undefined;

const cell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ').trim();

const CONFIDENCE: Record<string, string> = { high: 'High', medium: 'Medium', low: 'Low', unstated: 'Not stated' };

const QUALITY_NOTE: Record<string, string> = {
  unranked: 'Every review failed: the chair wrote the advice without a ranking.',
  unstructured: 'The chair’s advice could not be read into sections; it is shown as written.',
  unsynthesized: 'The chair could not write the advice: the answers and the ranking are the advice.',
};

export function decisionRecord(view: JobView, streamed: StreamedText = () => undefined): string {
  const name = (id: string) => view.advisors.find((a) => a.id === id)?.name ?? id;
  const textOf = (stepId: string, text: string | undefined) => text ?? streamed(stepId);
  const out: string[] = [];
  out.push('# Decision record', '');
  out.push(`- Asked: ${view.createdAt}`, `- Status: ${view.status}`, `- Mode: ${view.mode}`, `- Job: ${view.jobId}`);
  if (view.conversationId && view.conversationId !== view.jobId) out.push(`- Conversation: ${view.conversationId}`);
  if (view.simulated) out.push('- The advisors were simulated: this text is a template, not advice.');
  out.push('', '## Question', '', view.question.trim(), '');

  out.push('## Advice', '');
  const s = view.synthesis;
  if (view.adviceQuality && QUALITY_NOTE[view.adviceQuality]) out.push(`> ${QUALITY_NOTE[view.adviceQuality]}`, '');
  if (s?.recommendation) {
    out.push('### Recommendation', '', s.recommendation.trim(), '');
    if (s.agreement) out.push('### Where the circle agrees', '', s.agreement.trim(), '');
    if (s.dissent) out.push('### Where the circle disagrees', '', s.dissent.trim(), '');
  } else {
    const text = textOf('synthesize', s?.text);
    out.push(text ? text.trim() : `_No advice${view.reason ? `: ${view.reason}` : '.'}_`, '');
  }
  if (s?.confidence) out.push(`**Confidence:** ${CONFIDENCE[s.confidence] ?? s.confidence}`, '');
  if (view.reason && view.status !== 'succeeded') out.push(`**Why the job ${view.status}:** ${view.reason}`, '');
  if (view.notes.length > 0) out.push('### Notes', '', ...view.notes.map((n) => `- ${n}`), '');

  out.push('## Answers', '');
  for (const a of view.advisors) {
    out.push(`### ${a.name} (${a.modelId})`, '');
    const text = textOf(`advise.${a.id}`, a.answer.text);
    if (a.answer.status === 'failed') out.push(`_Could not answer: ${a.answer.error ? `${a.answer.error.error}: ${a.answer.error.cause}` : 'unknown error'}_`, '');
    else out.push(text ? text.trim() : `_No answer (${a.answer.status})._`, '');
    if (a.answer.truncated) out.push('_The answer was cut short at the model’s length limit._', '');
  }

  if (view.ranking?.length) {
    out.push('## Ranking', '', 'Mean position over the reviewers (lower is better).', '', '| Rank | Advisor | Mean position | Votes |', '|---:|---|---:|---:|');
    view.ranking.forEach((r, i) => out.push(`| ${i + 1} | ${cell(name(r.advisorId))} | ${r.meanPosition.toFixed(2)} | ${r.votes} |`));
    out.push('');
  }
  const reviewers = view.advisors.filter((a) => a.review.ranking?.length);
  if (reviewers.length > 0) {
    out.push('## Reviews', '', 'Position each reviewer gave each answer (1 = best; — = own answer or not ranked).', '');
    out.push(`| Reviewer | ${view.advisors.map((a) => cell(a.name)).join(' | ')} |`, `|---|${view.advisors.map(() => '---:').join('|')}|`);
    for (const r of reviewers) out.push(`| ${cell(r.name)} | ${view.advisors.map((a) => positionCell(r, a)).join(' | ')} |`);
    out.push('');
    for (const r of reviewers) {
      const critiques = Object.entries(r.review.critiques ?? {});
      if (critiques.length === 0) continue;
      out.push(`### ${r.name}’s critiques`, '', ...critiques.map(([id, text]) => `- **${name(id)}:** ${cell(text)}`), '');
    }
  }

  out.push('## Usage and cost', '', '| Member | Tokens in | Tokens out | Cost |', '|---|---:|---:|---:|');
  for (const a of view.advisors) {
    const steps = [a.answer, a.review];
    const input = steps.reduce((n, st) => n + (st.usage?.inputTokens ?? 0), 0);
    const output = steps.reduce((n, st) => n + (st.usage?.outputTokens ?? 0), 0);
    const cost = steps.reduce((n, st) => n + (st.costUsd ?? 0), 0);
    out.push(`| ${cell(a.name)} | ${formatTokens(input)} | ${formatTokens(output)} | ${formatCost(cost)} |`);
  }
  if (s) out.push(`| ${cell(view.chair.name)} (chair) | ${formatTokens(s.usage?.inputTokens ?? 0)} | ${formatTokens(s.usage?.outputTokens ?? 0)} | ${formatCost(s.costUsd ?? 0)} |`);
  out.push(`| **Total** | ${formatTokens(view.usage.inputTokens)} | ${formatTokens(view.usage.outputTokens)} | ${formatCost(view.costUsd)} |`, '');
  out.push(`_${formatTokens(totalTokens(view.usage))} tokens in all._`, '');
  return out.join('\n');
}

function positionCell(reviewer: AdvisorView, advisor: AdvisorView): string {
  if (reviewer.id === advisor.id) return '—';
  const i = reviewer.review.ranking?.indexOf(advisor.id) ?? -1;
  return i < 0 ? '—' : String(i + 1);
}

/** The advice alone, as plain text for the clipboard. */
export function adviceText(view: JobView, streamed: StreamedText = () => undefined): string {
  const s = view.synthesis;
  if (s?.recommendation) {
    const parts = [`Recommendation: ${s.recommendation.trim()}`];
    if (s.agreement) parts.push(`Where the circle agrees: ${s.agreement.trim()}`);
    if (s.dissent) parts.push(`Where the circle disagrees: ${s.dissent.trim()}`);
    if (s.confidence) parts.push(`Confidence: ${CONFIDENCE[s.confidence] ?? s.confidence}`);
    return parts.join('\n\n');
  }
  return (s?.text ?? streamed('synthesize') ?? '').trim();
}

/** A file name for the record: the date and the first words of the question. */
export function recordFileName(view: JobView): string {
  const words = view.question.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return `decision-${view.createdAt.slice(0, 10)}${words ? `-${words}` : ''}.md`;
}
