import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { fakeApi } from '../test/fake-network';
import { circleSummary } from '../test/fixtures';
import { CONFIG, renderApp } from '../test/render-app';

function apiWithCircle(max = 60) {
  const api = fakeApi(CONFIG.apiUrl);
  api.on('GET', '/advisors', { status: 200, body: circleSummary(max) });
  return api;
}

describe('the asking page', () => {
  it('shows the signed-out landing with one sentence and a Sign in button', async () => {
    await renderApp('/', { signedIn: false });
    expect(screen.getByRole('heading', { level: 1, name: 'Circle of Trust' })).toBeInTheDocument();
    expect(screen.getByText(/a circle of AI advisors answers it independently/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Sign out' })).not.toBeInTheDocument();
  });

  it('counts characters against the API’s limit and refuses to send past it', async () => {
    const { user } = await renderApp('/', { api: apiWithCircle(20) });
    const box = await screen.findByRole('textbox', { name: 'Your question' });
    expect(screen.getByText('0 of 20 characters')).toBeInTheDocument();
    const send = screen.getByRole('button', { name: 'Ask the circle' });
    expect(send).toBeDisabled();

    await user.type(box, 'Buy or lease a car?');
    expect(screen.getByText('19 of 20 characters')).toBeInTheDocument();
    expect(send).toBeEnabled();

    await user.type(box, ' Why?');
    expect(screen.getByText('24 of 20 characters')).toBeInTheDocument();
    expect(screen.getByText('4 characters over the limit.')).toBeInTheDocument();
    expect(box).toHaveAttribute('aria-invalid', 'true');
    expect(box).toHaveAccessibleDescription(/24 of 20 characters.*4 characters over the limit/);
    expect(send).toBeDisabled();
  });

  it('sends the question with the chosen advisors and mode, then opens the job', async () => {
    const api = apiWithCircle();
    api.on('POST', '/chat', { status: 202, body: { jobId: 'job-42', status: 'queued', conversationId: 'job-42' } });
    api.on('GET', '/jobs/job-42', { status: 404, body: { error: { code: 'not_found', message: 'No such job among yours.' } } });
    const { user } = await renderApp('/', { api });
    const advisors = await screen.findByRole('group', { name: 'Advisors' });
    expect(within(advisors).getAllByRole('checkbox').map((c) => (c as HTMLInputElement).checked)).toEqual([true, true, true]);

    await user.type(screen.getByRole('textbox', { name: 'Your question' }), 'Buy or lease?');
    await user.click(within(advisors).getByRole('checkbox', { name: /Mistral/ }));
    await user.click(screen.getByRole('radio', { name: /Quick/ }));
    await user.click(screen.getByRole('button', { name: 'Ask the circle' }));

    const chat = api.requests.find((r) => r.method === 'POST' && r.path === '/chat');
    expect(chat?.body).toEqual({ question: 'Buy or lease?', mode: 'quick', advisors: ['claude', 'llama'] });
    expect(chat?.authorization).toBe('Bearer token-alice');
    expect(window.location.pathname).toBe('/jobs/job-42');
  });

  it('asks for at least one advisor', async () => {
    const { user } = await renderApp('/', { api: apiWithCircle() });
    const advisors = await screen.findByRole('group', { name: 'Advisors' });
    for (const box of within(advisors).getAllByRole('checkbox')) await user.click(box);
    await user.type(screen.getByRole('textbox', { name: 'Your question' }), 'Hello?');
    expect(screen.getByText('Choose at least one advisor.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Ask the circle' })).toBeDisabled();
  });

  it('shows the API’s error as a sentence, never a stack', async () => {
    const api = apiWithCircle();
    api.on('POST', '/chat', { status: 429, body: { error: { code: 'rate_limited', message: 'Too many questions; try again in a minute.' } } });
    const { user } = await renderApp('/', { api });
    await user.type(await screen.findByRole('textbox', { name: 'Your question' }), 'Again?');
    await user.click(screen.getByRole('button', { name: 'Ask the circle' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Too many questions; try again in a minute.');
    expect(window.location.pathname).toBe('/');
  });

  it('says an expired session expired, offers to sign in again, and keeps the question', async () => {
    const api = apiWithCircle();
    api.on('POST', '/chat', { status: 401, body: { error: { code: 'unauthorized', message: 'token expired' } } });
    const first = await renderApp('/', { api });
    await first.user.type(await screen.findByRole('textbox', { name: 'Your question' }), 'Keep me');
    await first.user.click(screen.getByRole('button', { name: 'Ask the circle' }));
    expect(await screen.findByText(/Your session has expired/, { selector: 'div[role=alert] p' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Sign in again' })).toBeInTheDocument();
    expect(screen.getByRole('textbox', { name: 'Your question' })).toHaveValue('Keep me');

    // The sign-in round trip reloads the page: the draft comes back from sessionStorage.
    const draft: Record<string, string> = { ...sessionStorage };
    first.unmount();
    sessionStorage.clear();
    for (const [k, v] of Object.entries(draft)) if (k.startsWith('cot.')) sessionStorage.setItem(k, v);
    await renderApp('/', { api });
    expect(await screen.findByRole('textbox', { name: 'Your question' })).toHaveValue('Keep me');
  });
});
