/**
 * A job's timeline as the job page shows it: the headline figures (why was it slow, where did
 * it wait, what did it cost), then one row per event at its offset from the job's creation.
 * Everything is React text: model ids, error names and events never become markup.
 */
import type { JobTimeline, TimelineEntry, TimelineSummary } from '../contracts';
import { formatCost, formatDuration, formatTokens } from '../format/format';
import styles from './ReviewTables.module.css';

const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

export default function TimelineView({ timeline }: { timeline: JobTimeline }) {
  const { summary } = timeline;
  return (
    <div className={styles.block}>
      <Summary summary={summary} traceId={timeline.traceId} />
      {timeline.entries.length === 0 ? (
        <p>Nothing was recorded for this job yet.</p>
      ) : (
        <div className={styles.scroll} tabIndex={0} role="group" aria-label="Timeline events">
          <table className={styles.table}>
            <caption>What happened, from the question to the last push</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {timeline.entries.map((e, i) => (
                <tr key={i}>
                  <td className={styles.num}>+{((e.at - summary.createdAt) / 1000).toFixed(3)} s</td>
                  <th scope="row">{label(e)}</th>
                  <td>{describe(e)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className={styles.legend}>Time is counted from when the question was sent. Critical path: the slowest model step of each stage, with its back-off waits; overhead is everything else.</p>
    </div>
  );
}

function Summary({ summary: s, traceId }: { summary: TimelineSummary; traceId?: string }) {
  const rows: [string, string | undefined][] = [
    ['Latency', s.latencyMs !== undefined ? `${formatDuration(s.latencyMs)} (${s.status})` : s.status],
    ['Models (critical path)', s.criticalPathMs !== undefined ? formatDuration(s.criticalPathMs) : undefined],
    ['Overhead', s.overheadMs !== undefined ? formatDuration(s.overheadMs) : undefined],
    ['Queue wait', s.queueWaitMs !== undefined ? formatDuration(s.queueWaitMs) : undefined],
    ['Stages', Object.entries(s.stages).map(([stage, ms]) => `${stage} ${formatDuration(ms)}`).join(', ') || undefined],
    ['Work', `${plural(s.runs, 'run')}, ${plural(s.modelCalls, 'model call')}, ${plural(s.retries, 'retry', 'retries')}`],
    ['Cost', formatCost(s.costUsd)],
    ['X-Ray trace', traceId],
  ];
  return (
    <dl aria-label="Timeline summary">
      {rows.map(([term, value]) =>
        value === undefined ? null : (
          <div key={term}>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ),
      )}
    </dl>
  );
}

function label(e: TimelineEntry): string {
  switch (e.type) {
    case 'queued':
      return 'Queued';
    case 'lease':
      return 'Lease';
    case 'model-call':
      return 'Model call';
    case 'commit':
      return `Commit #${e.seq}`;
    case 'retry':
      return 'Retry';
    case 'push':
      return e.seq === undefined ? 'Push (text)' : `Push #${e.seq}`;
    case 'run-end':
      return 'Run end';
  }
}

function describe(e: TimelineEntry): string {
  switch (e.type) {
    case 'queued':
      return `${formatDuration(e.ms)} until a worker took it`;
    case 'lease':
      return [`run ${e.run}${e.resumed ? ' (resumes the job)' : ''}`, e.delivery ? `delivery ${e.delivery}` : '', e.waitedMs !== undefined ? `message waited ${formatDuration(e.waitedMs)}` : ''].filter(Boolean).join(', ');
    case 'commit':
      return `${e.event} (${e.stage})${e.ms !== undefined ? `, written in ${formatDuration(e.ms)}` : ''}`;
    case 'model-call': {
      const timing = `${e.ttftMs !== undefined ? `first token ${formatDuration(e.ttftMs)}, ` : ''}${formatDuration(e.ms)}`;
      const result = e.outcome === 'ok' ? `${formatTokens(e.inputTokens)}→${formatTokens(e.outputTokens)} tokens, ${formatCost(e.costUsd)}` : e.outcome;
      return `${e.stepId} attempt ${e.attempt}, ${e.advisorId} (${e.modelId}): ${timing}, ${result}`;
    }
    case 'retry':
      return `${e.stepId} attempt ${e.attempt} failed (${e.error}); next attempt after ${formatDuration(e.backoffMs)}`;
    case 'push':
      return `${plural(e.connections, 'connection')}${e.gone ? `, ${e.gone} gone` : ''}, ${formatDuration(e.ms)}`;
    case 'run-end':
      return `run ${e.run} ${e.outcome === 'lost' ? 'ended without a word (its worker died or lost the lease)' : e.outcome}`;
  }
}
