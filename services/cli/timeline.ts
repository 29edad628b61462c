/**
 * `npm run ask -- --timeline <jobId>`: a job's timeline (GET /jobs/{id}/timeline) as text —
 * why was it slow, where did it wait, what did it cost. Pure rendering; ask.ts fetches.
 */
import type { JobTimeline, TimelineEntry } from '../shared/contracts/timeline.js';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`;
const millis = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : seconds(ms));
const usd = (v: number): string => `$${v.toFixed(4)}`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The timeline as lines of text: a summary, then one line per entry, at seconds since POST /chat. */
export function renderTimeline(timeline: JobTimeline): string {
  const { summary } = timeline;
  const lines = [`Timeline of job ${timeline.jobId}${timeline.traceId ? ` (X-Ray trace ${timeline.traceId})` : ''}`];
  const head = [
    summary.latencyMs !== undefined ? `${summary.status} in ${seconds(summary.latencyMs)}` : summary.status,
    summary.criticalPathMs !== undefined && summary.overheadMs !== undefined
      ? `models ${seconds(summary.criticalPathMs)} (critical path), overhead ${seconds(summary.overheadMs)}`
      : undefined,
    summary.queueWaitMs !== undefined ? `queue wait ${millis(summary.queueWaitMs)}` : undefined,
    `${plural(summary.runs, 'run')}, ${plural(summary.modelCalls, 'model call')}, ${summary.retries} ${summary.retries === 1 ? 'retry' : 'retries'}`,
    usd(summary.costUsd),
  ];
  lines.push(head.filter(Boolean).join('; '));
  const stages = Object.entries(summary.stages).map(([stage, ms]) => `${stage} ${seconds(ms)}`);
  if (stages.length) lines.push(`stages: ${stages.join(', ')}`);
  lines.push('');
  for (const entry of timeline.entries) lines.push(`  +${((entry.at - summary.createdAt) / 1000).toFixed(3).padStart(8)} s  ${describe(entry)}`);
  return `${lines.join('\n')}\n`;
}

function describe(e: TimelineEntry): string {
  switch (e.type) {
    case 'queued':
      return `queued       ${millis(e.ms)} until a worker took it`;
    case 'lease':
      return `lease        run ${e.run}${e.resumed ? ' (resumes the job)' : ''}${e.delivery ? `, delivery ${e.delivery}` : ''}${e.waitedMs !== undefined ? `, message waited ${millis(e.waitedMs)}` : ''}`;
    case 'commit':
      return `commit #${e.seq}`.padEnd(13) + `${e.event} (${e.stage})${e.ms !== undefined ? `, ${millis(e.ms)}` : ''}`;
    case 'model-call': {
      const timing = `${e.ttftMs !== undefined ? `first token ${millis(e.ttftMs)}, ` : ''}${millis(e.ms)}`;
      const result = e.outcome === 'ok' ? `${e.inputTokens}→${e.outputTokens} tokens, ${usd(e.costUsd)}` : e.outcome;
      return `model call   ${e.stepId} #${e.attempt} ${e.advisorId} (${e.modelId}): ${timing}, ${result}`;
    }
    case 'retry':
      return `retry        ${e.stepId} #${e.attempt} failed (${e.error}); next attempt after ${millis(e.backoffMs)}`;
    case 'push':
      return `push #${e.seq ?? '-'}`.padEnd(13) + `${plural(e.connections, 'connection')}${e.gone ? `, ${e.gone} gone` : ''}, ${millis(e.ms)}`;
    case 'run-end':
      return `run end      run ${e.run} ${e.outcome === 'lost' ? 'ended without a word (its worker died or lost the lease)' : e.outcome}`;
  }
}
