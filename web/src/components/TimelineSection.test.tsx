import { act, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { JobTimeline } from '../contracts';
import { fakeApi, type FakeApi } from '../test/fake-network';
import { JOB_ID, T0, circleSummary, done, finishedView, viewMessage } from '../test/fixtures';
import { CONFIG, renderApp } from '../test/render-app';

const TIMELINE_PATH = `/jobs/${JOB_ID}/timeline`;

/** A job that waited 0.4 s, had one throttled attempt retried after 1 s, and finished in 9.5 s. */
const timeline: JobTimeline = {
  jobId: JOB_ID,
  traceId: '1-6776a0b0-0123456789abcdef01234567',
  summary: {
    status: 'succeeded',
    createdAt: T0,
    endedAt: T0 + 9500,
    latencyMs: 9500,
    criticalPathMs: 8200,
    overheadMs: 1300,
    queueWaitMs: 400,
    stages: { advising: 4100, reviewing: 2600, synthesizing: 1500 },
    runs: 1,
    modelCalls: 8,
    retries: 1,
    costUsd: 0.0412,
  },
  entries: [
    { type: 'queued', at: T0, ms: 400 },
    { type: 'lease', at: T0 + 400, run: 1, resumed: false, delivery: 1, waitedMs: 380 },
    { type: 'model-call', at: T0 + 450, run: 1, stepId: 'advise.mistral', attempt: 1, advisorId: 'mistral', modelId: '<img src=x onerror=alert(1)>', ms: 300, outcome: 'ThrottlingException', inputTokens: 0, outputTokens: 0, costUsd: 0 },
    { type: 'retry', at: T0 + 760, stepId: 'advise.mistral', attempt: 1, error: 'ThrottlingException', dueAt: T0 + 1760, backoffMs: 1000 },
    { type: 'model-call', at: T0 + 1760, run: 1, stepId: 'advise.mistral', attempt: 2, advisorId: 'mistral', modelId: 'mistral.large', ms: 2100, ttftMs: 640, outcome: 'ok', inputTokens: 1200, outputTokens: 300, costUsd: 0.0061 },
    { type: 'commit', at: T0 + 3900, seq: 4, event: 'step.succeeded', status: 'running', stage: 'advising', ms: 12, run: 1 },
    { type: 'push', at: T0 + 3912, run: 1, seq: 4, ms: 8, connections: 2, gone: 1 },
    { type: 'run-end', at: T0 + 9520, run: 1, outcome: 'finished' },
  ],
};

function apiWithTimeline(answer: { status: number; body?: unknown }): FakeApi {
  const api = fakeApi(CONFIG.apiUrl);
  api.on('GET', `/jobs/${JOB_ID}`, { status: 200, body: finishedView() });
  api.on('GET', '/advisors', { status: 200, body: circleSummary(4000) });
  api.on('GET', TIMELINE_PATH, answer);
  return api;
}

/** Opens a finished job's page; the timeline is still closed. */
async function openFinishedJob(api: FakeApi) {
  const app = await renderApp(`/jobs/${JOB_ID}`, { api });
  const socket = app.sockets.last();
  act(() => socket.open());
  act(() => socket.push(viewMessage(finishedView()), done(12, 'succeeded')));
  const toggle = await screen.findByRole('heading', { name: 'Timeline' });
  return { ...app, toggle };
}

const timelineRequests = (api: FakeApi) => api.requests.filter((r) => r.path === TIMELINE_PATH);

describe('the timeline section', () => {
  it('fetches the timeline only when opened, as the signed-in owner, and shows its summary and events', async () => {
    const api = apiWithTimeline({ status: 200, body: timeline });
    const { user, toggle } = await openFinishedJob(api);
    expect(timelineRequests(api)).toEqual([]);

    await user.click(toggle);
    const dl = await screen.findByLabelText('Timeline summary');
    const figures = Object.fromEntries(within(dl).getAllByRole('term').map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    expect(figures).toEqual({
      Latency: '9.500 s (succeeded)',
      'Models (critical path)': '8.200 s',
      Overhead: '1.300 s',
      'Queue wait': '400 ms',
      Stages: 'advising 4.100 s, reviewing 2.600 s, synthesizing 1.500 s',
      Work: '1 run, 8 model calls, 1 retry',
      Cost: '$0.0412',
      'X-Ray trace': timeline.traceId,
    });

    const table = screen.getByRole('table', { name: /What happened/ });
    const rows = within(table)
      .getAllByRole('row')
      .slice(1)
      .map((r) => Array.from(r.children, (c) => c.textContent));
    expect(rows).toHaveLength(timeline.entries.length);
    expect(rows).toContainEqual(['+0.760 s', 'Retry', 'advise.mistral attempt 1 failed (ThrottlingException); next attempt after 1.000 s']);
    expect(rows).toContainEqual(['+1.760 s', 'Model call', 'advise.mistral attempt 2, mistral (mistral.large): first token 640 ms, 2.100 s, 1,200→300 tokens, $0.0061']);
    expect(rows).toContainEqual(['+0.400 s', 'Lease', 'run 1, delivery 1, message waited 380 ms']);
    expect(rows).toContainEqual(['+3.900 s', 'Commit #4', 'step.succeeded (advising), written in 12 ms']);
    expect(rows).toContainEqual(['+3.912 s', 'Push #4', '2 connections, 1 gone, 8 ms']);
    // A model id that looks like markup stays text.
    expect(within(table).getByText(/<img src=x onerror=alert\(1\)>/)).toBeInTheDocument();
    expect(table.querySelector('img')).toBeNull();

    expect(timelineRequests(api)).toEqual([{ method: 'GET', path: TIMELINE_PATH, body: undefined, authorization: 'Bearer token-alice' }]);
    // Closing and opening again does not fetch again.
    await user.click(toggle);
    await user.click(toggle);
    expect(screen.getByRole('table', { name: /What happened/ })).toBeInTheDocument();
    expect(timelineRequests(api)).toHaveLength(1);
  });

  it('says there is no timeline when the API has none for the caller', async () => {
    const api = apiWithTimeline({ status: 404, body: { error: { code: 'not_found', message: 'No such job.' } } });
    const { user, toggle } = await openFinishedJob(api);
    await user.click(toggle);
    expect(await screen.findByRole('alert')).toHaveTextContent('No timeline for this job.');
    expect(screen.queryByRole('table', { name: /What happened/ })).not.toBeInTheDocument();
  });

  it('shows the API’s own error and loads again on request', async () => {
    let calls = 0;
    const api = fakeApi(CONFIG.apiUrl);
    api.on('GET', `/jobs/${JOB_ID}`, { status: 200, body: finishedView() });
    api.on('GET', '/advisors', { status: 200, body: circleSummary(4000) });
    api.on('GET', TIMELINE_PATH, () => (++calls === 1 ? { status: 503, body: { error: { code: 'unavailable', message: 'The Runs table is not answering; try again.' } } } : { status: 200, body: { ...timeline, entries: [] } }));
    const { user, toggle } = await openFinishedJob(api);
    await user.click(toggle);
    expect(await screen.findByRole('alert')).toHaveTextContent('The Runs table is not answering; try again.');

    await user.click(screen.getByRole('button', { name: 'Load the timeline again' }));
    expect(await screen.findByText('Nothing was recorded for this job yet.')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(timelineRequests(api)).toHaveLength(2);
  });
});
