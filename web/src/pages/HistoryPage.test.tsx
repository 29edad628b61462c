import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { JobSummary } from '../contracts';
import { fakeApi } from '../test/fake-network';
import { CONFIG, renderApp } from '../test/render-app';

const summary = (n: number, status: JobSummary['status']): JobSummary => ({
  jobId: `job-${n}`,
  status,
  stage: status === 'running' ? 'advising' : 'done',
  mode: 'full',
  questionPreview: `Question number ${n}?`,
  createdAt: new Date(Date.UTC(2026, 0, n, 12)).toISOString(),
  updatedAt: new Date(Date.UTC(2026, 0, n, 12)).toISOString(),
});

describe('the history page', () => {
  it('lists the caller’s jobs newest first, a page at a time', async () => {
    const api = fakeApi(CONFIG.apiUrl);
    api.on('GET', '/jobs?limit=20', { status: 200, body: { items: [summary(9, 'running'), summary(8, 'succeeded')], cursor: 'c1' } });
    api.on('GET', '/jobs?limit=20&cursor=c1', { status: 200, body: { items: [summary(7, 'failed')] } });
    const { user } = await renderApp('/history', { api });
    const table = await screen.findByRole('table', { name: 'Your questions, newest first' });
    expect(within(table).getAllByRole('link').map((a) => [a.textContent, a.getAttribute('href')])).toEqual([
      ['Question number 9?', '/jobs/job-9'],
      ['Question number 8?', '/jobs/job-8'],
    ]);
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getAllByRole('cell')[1]!.textContent)).toEqual(['◔ Running', '✓ Succeeded']);

    await user.click(screen.getByRole('button', { name: 'Show older questions' }));
    expect(await screen.findByRole('link', { name: 'Question number 7?' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Show older questions' })).not.toBeInTheDocument();
  });

  it('cancels a running job from the list, and only running ones offer it', async () => {
    const api = fakeApi(CONFIG.apiUrl);
    api.on('GET', '/jobs?limit=20', { status: 200, body: { items: [summary(9, 'running'), summary(8, 'succeeded')] } });
    api.on('POST', '/jobs/job-9/cancel', { status: 202, body: { jobId: 'job-9', status: 'cancelling' } });
    const { user } = await renderApp('/history', { api });
    const cancels = await screen.findAllByRole('button', { name: /^Cancel/ });
    expect(cancels).toHaveLength(1);
    await user.click(screen.getByRole('button', { name: 'Cancel “Question number 9?”' }));
    expect(await screen.findByText('Cancel requested')).toBeInTheDocument();
    expect(api.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/jobs/job-9/cancel']);
  });

  it('opens a job from the list without reloading the page', async () => {
    const api = fakeApi(CONFIG.apiUrl);
    api.on('GET', '/jobs?limit=20', { status: 200, body: { items: [summary(8, 'succeeded')] } });
    const { user } = await renderApp('/history', { api });
    await user.click(await screen.findByRole('link', { name: 'Question number 8?' }));
    expect(window.location.pathname).toBe('/jobs/job-8');
    expect(await screen.findByRole('heading', { name: 'This job cannot be shown' })).toBeInTheDocument();
  });

  it('says so when there is nothing yet', async () => {
    const api = fakeApi(CONFIG.apiUrl);
    api.on('GET', '/jobs?limit=20', { status: 200, body: { items: [] } });
    await renderApp('/history', { api });
    expect(await screen.findByText(/You have not asked the circle anything yet/)).toBeInTheDocument();
  });
});
