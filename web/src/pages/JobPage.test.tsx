import { act, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobView } from '../contracts';
import { fakeApi, type FakeApi } from '../test/fake-network';
import { JOB_ID, change, circleSummary, delta, done, finishedView, jobView, started, transition, viewMessage } from '../test/fixtures';
import { setViewportWidth } from '../test/media';
import { CONFIG, renderApp } from '../test/render-app';

/** The API answering GET /jobs/{id} with whatever `current()` is. */
function apiServing(current: () => JobView): FakeApi {
  const api = fakeApi(CONFIG.apiUrl);
  api.on('GET', `/jobs/${JOB_ID}`, () => ({ status: 200, body: current() }));
  api.on('GET', '/advisors', { status: 200, body: circleSummary(4000) });
  return api;
}

/** Opens the job page and the socket's handshake; returns the socket once it has subscribed. */
async function openJob(view: JobView, options: { api?: FakeApi } = {}) {
  const app = await renderApp(`/jobs/${JOB_ID}`, { api: options.api ?? apiServing(() => view) });
  const socket = app.sockets.last();
  expect(socket.url).toBe('ws://ws.test/local?token=token-alice');
  act(() => socket.open());
  expect(socket.sent).toEqual([{ action: 'subscribe', jobId: JOB_ID, afterSeq: 0 }]);
  return { ...app, socket };
}

const card = (name: string) => screen.getByRole('article', { name: new RegExp(`^${name}`) });
const statusRegion = () => screen.getByRole('status');

afterEach(() => setViewportWidth(1280));

/** The transitions of a job that failed at seq 5: claude answered, mistral and llama could not. */
const failedRun = (reason: string) => [
  started(),
  transition(2, 'step.succeeded', 'advising', [change('advise.claude', 'succeeded')]),
  transition(3, 'step.failed', 'advising', [change('advise.mistral', 'failed', 3)]),
  transition(4, 'step.failed', 'advising', [change('advise.llama', 'failed', 3)]),
  transition(5, 'job.failed', 'done', [], 'failed', reason),
];

describe('the job page, live', () => {
  it('streams each answer into its own busy panel and announces milestones, not tokens', async () => {
    const { socket } = await openJob(jobView());
    act(() => socket.push(viewMessage(jobView()), started(), delta('advise.claude', 0, 'Keep the '), delta('advise.claude', 9, 'monolith')));

    const answer = await screen.findByRole('region', { name: 'Answer from Claude' });
    expect(answer).toHaveAttribute('aria-busy', 'true');
    await waitFor(() => expect(answer).toHaveTextContent('Keep the monolith'));
    expect(within(card('Claude')).getByText('Writing')).toBeInTheDocument();
    expect(within(card('Claude')).getByText(/≈ 5 tokens so far/)).toHaveTextContent('(estimate)');
    expect(within(card('Mistral')).getByText('Thinking')).toBeInTheDocument();
    expect(within(card('Chair')).getByText('Waiting')).toBeInTheDocument();
    expect(screen.getByText('The advisors are answering.')).toBeInTheDocument();
    expect(statusRegion()).not.toHaveTextContent('Keep the');

    act(() => socket.push(delta('advise.claude', 17, '; carve out billing.'), transition(2, 'step.succeeded', 'advising', [change('advise.claude', 'succeeded', 1, { usage: { inputTokens: 300, outputTokens: 30 }, costUsd: 0.03 })])));
    await waitFor(() => expect(statusRegion()).toHaveTextContent('Claude answered.'));
    expect(screen.getByRole('region', { name: 'Answer from Claude' })).toHaveAttribute('aria-busy', 'false');
    expect(within(card('Claude')).getByText('Answered')).toBeInTheDocument();
    expect(within(card('Claude')).getByText('330 tokens · $0.0300')).toBeInTheDocument();
    expect(screen.getByRole('region', { name: 'Answer from Claude' })).toHaveTextContent('Keep the monolith; carve out billing.');
    expect(statusRegion()).not.toHaveTextContent('carve');
  });

  it('shows a retrying advisor with its attempt and next try, and a failed one with the real error', async () => {
    const { socket } = await openJob(jobView());
    const dueAt = new Date(2026, 0, 5, 10, 4, 5).getTime();
    act(() => socket.push(viewMessage(jobView()), started()));
    await screen.findByRole('article', { name: /^Mistral/ });
    act(() =>
      socket.push(
        transition(2, 'step.retrying', 'advising', [change('advise.mistral', 'retrying', 1, { error: { error: 'ThrottlingException', cause: 'Rate exceeded' }, dueAt })]),
        transition(3, 'step.failed', 'advising', [change('advise.llama', 'failed', 1, { error: { error: 'ModelError', cause: 'the model refused to answer' } })]),
      ),
    );
    await waitFor(() => expect(within(card('Mistral')).getByText('Retrying')).toBeInTheDocument());
    expect(within(card('Mistral')).getByText(/Attempt 1 failed \(ThrottlingException: Rate exceeded\)\. Trying again at 10:04:05 \(attempt 2\)\./)).toBeInTheDocument();
    expect(within(card('Llama')).getByText('Could not answer: ModelError — the model refused to answer')).toBeInTheDocument();
    expect(screen.getByText('2 of 3 advisors still answering')).toBeInTheDocument();
    await waitFor(() => expect(statusRegion()).toHaveTextContent('Llama could not answer.'));
  });

  it('shows the quorum badge and the notes once the answers are in', async () => {
    let current = jobView();
    const { socket } = await openJob(current, { api: apiServing(() => current) });
    act(() => socket.push(viewMessage(current), started(), transition(2, 'step.failed', 'advising', [change('advise.llama', 'failed', 1, { error: { error: 'ModelError', cause: 'refused' } })])));
    // The stage change makes the page fetch the view, which carries the notes.
    current = { ...finishedView(), status: 'running', stage: 'reviewing', seq: 4, synthesis: undefined, ranking: undefined, agreement: undefined, notes: ['Llama could not answer (ModelError: refused); the advice is based on 2 of 3 advisors.'] };
    current.advisors = current.advisors.map((a) => (a.id === 'llama' ? { ...a, answer: { status: 'failed', attempt: 1, error: { error: 'ModelError', cause: 'refused' } }, review: { status: 'skipped', attempt: 0 } } : { ...a, review: { status: 'running', attempt: 1 } }));
    act(() =>
      socket.push(
        transition(3, 'step.succeeded', 'advising', [change('advise.claude', 'succeeded')]),
        transition(4, 'stage.reviewing', 'reviewing', [change('advise.mistral', 'succeeded'), change('review.claude', 'running'), change('review.mistral', 'running')]),
      ),
    );
    expect(await screen.findByText('2 of 3 advisors answered')).toBeInTheDocument();
    expect(await screen.findByText(/the advice is based on 2 of 3 advisors/)).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Reviews' })).toBeInTheDocument();
  });

  it('cancels a running job and shows it cancelled', async () => {
    const api = apiServing(() => jobView({ status: 'running', stage: 'advising', seq: 1 }));
    api.on('POST', `/jobs/${JOB_ID}/cancel`, { status: 202, body: { jobId: JOB_ID, status: 'cancelling' } });
    const { socket, user } = await openJob(jobView(), { api });
    act(() => socket.push(viewMessage(jobView()), started(), delta('advise.claude', 0, 'Half an answer')));
    await user.click(await screen.findByRole('button', { name: 'Cancel job' }));
    expect(api.requests.some((r) => r.method === 'POST' && r.path === `/jobs/${JOB_ID}/cancel`)).toBe(true);
    expect(await screen.findByText('Cancel requested; the circle is stopping.')).toBeInTheDocument();

    act(() => socket.push(transition(2, 'job.cancelled', 'done', [], 'cancelled', 'Cancelled by its owner.'), done(2, 'cancelled', 'Cancelled by its owner.')));
    await waitFor(() => expect(statusRegion()).toHaveTextContent('The job was cancelled.'));
    expect(screen.getByText('The job was cancelled. Cancelled by its owner.')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Cancel job' })).not.toBeInTheDocument();
    for (const name of ['Claude', 'Mistral', 'Llama', 'Chair']) expect(within(card(name)).getByText('Cancelled')).toBeInTheDocument();
    expect(screen.getByText('No advice: the job was cancelled.')).toBeInTheDocument();
    expect(socket.closedByClient).toBe(true);
  });

  it('says which final status a job already had when the cancel comes too late', async () => {
    const api = apiServing(() => jobView({ status: 'running', stage: 'synthesizing', seq: 1 }));
    api.on('POST', `/jobs/${JOB_ID}/cancel`, { status: 409, body: { error: { code: 'conflict', message: 'The job already succeeded.' } } });
    const { user } = await openJob(jobView(), { api });
    await user.click(await screen.findByRole('button', { name: 'Cancel job' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The job already succeeded.');
  });

  it('tries a failed job again: only the failed steps run, and the page follows it live again', async () => {
    const reason = 'Only 1 of 3 advisors answered (quorum is 2): mistral failed with InternalServerException; llama failed with InternalServerException';
    const failedStep = { status: 'failed' as const, attempt: 3, error: { error: 'InternalServerException', cause: 'The model is down' } };
    const answered = { status: 'succeeded' as const, attempt: 1, text: 'Keep the monolith.' };
    const failed = jobView({
      status: 'failed',
      stage: 'done',
      seq: 5,
      reason,
      advisors: jobView().advisors.map((a) => (a.id === 'claude' ? { ...a, answer: answered } : { ...a, answer: failedStep, review: { status: 'skipped', attempt: 0 } })),
    });
    let current = failed;
    const api = apiServing(() => current);
    api.on('POST', `/jobs/${JOB_ID}/redrive`, () => {
      // The redrive is committed as seq 6: the job is queued again, the failed steps pending.
      current = jobView({ ...failed, status: 'queued', stage: 'queued', seq: 6, reason: undefined, advisors: failed.advisors.map((a) => (a.id === 'claude' ? a : { ...a, answer: { status: 'pending', attempt: 3 }, review: { status: 'pending', attempt: 0 } })) });
      return { status: 202, body: { jobId: JOB_ID, status: 'queued' } };
    });
    const { socket, sockets, user } = await openJob(failed, { api });
    act(() => socket.push(viewMessage(failed), ...failedRun(reason), done(5, 'failed', reason)));
    await waitFor(() => expect(socket.closedByClient).toBe(true));
    expect(await screen.findByText(`The job failed. ${reason}`)).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(api.requests.filter((r) => r.method === 'POST' && r.path === `/jobs/${JOB_ID}/redrive`)).toHaveLength(1);
    expect(await screen.findByText('Trying again: only the steps that failed run again.')).toBeInTheDocument();
    // It subscribes again after what it has seen, and the job comes back to running.
    await waitFor(() => expect(sockets.all).toHaveLength(2));
    const again = sockets.last();
    act(() => again.open());
    expect(again.sent).toEqual([{ action: 'subscribe', jobId: JOB_ID, afterSeq: 5 }]);
    act(() =>
      again.push(
        transition(6, 'job.redriven', 'queued', [], 'queued'),
        transition(7, 'job.started', 'advising', [change('advise.mistral', 'running', 4), change('advise.llama', 'running', 4)]),
        delta('advise.mistral', 0, 'Rewrite billing first', 4),
      ),
    );
    await waitFor(() => expect(screen.getByText('The advisors are answering.')).toBeInTheDocument());
    expect(screen.queryByRole('button', { name: 'Try again' })).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Cancel job' })).toBeInTheDocument();
    expect(within(card('Claude')).getByText('Answered')).toBeInTheDocument();
    expect(await screen.findByText('Rewrite billing first')).toBeInTheDocument();
    expect(again.closedByClient).toBe(false);
  });

  it('says why a job cannot be tried again, and leaves it as it was', async () => {
    const failed = jobView({ status: 'failed', stage: 'done', seq: 5, reason: 'None of the 3 advisors answered.' });
    const api = apiServing(() => failed);
    api.on('POST', `/jobs/${JOB_ID}/redrive`, { status: 409, body: { error: { code: 'job_not_failed', message: 'only a failed job can be redriven; this one is already queued to run again' } } });
    const { socket, user } = await openJob(failed, { api });
    act(() => socket.push(viewMessage(failed), ...failedRun(failed.reason!), done(5, 'failed', failed.reason)));
    await user.click(await screen.findByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('only a failed job can be redriven; this one is already queued to run again');
    expect(screen.getByText(`The job failed. ${failed.reason}`)).toBeInTheDocument();
  });

  it('shows it is reconnecting with the time of the last event, then resumes with no lost or doubled text', async () => {
    const { socket, sockets } = await openJob(jobView());
    act(() => socket.push(viewMessage(jobView()), started(), delta('advise.claude', 0, 'Keep the ')));
    await screen.findByText('Keep the');
    act(() => socket.drop());
    expect(await screen.findByText(/^Reconnecting… \(last event at \d\d:\d\d:\d\d\)$/)).toBeInTheDocument();

    await waitFor(() => expect(sockets.all).toHaveLength(2), { timeout: 3000 });
    const again = sockets.last();
    act(() => again.open());
    expect(again.sent).toEqual([{ action: 'subscribe', jobId: JOB_ID, afterSeq: 1 }]);
    // The new subscription repeats the view and everything streamed so far, then goes on.
    act(() => again.push(viewMessage({ ...jobView(), status: 'running', stage: 'advising', seq: 1 }), delta('advise.claude', 0, 'Keep the monolith'), delta('advise.claude', 9, 'monolith; carve out billing.')));
    const answer = screen.getByRole('region', { name: 'Answer from Claude' });
    await waitFor(() => expect(answer).toHaveTextContent(/^Keep the monolith; carve out billing\.$/));
    expect(screen.queryByText(/Reconnecting/)).not.toBeInTheDocument();
  });

  it('heals a gap in seq by resubscribing from the last seq it has', async () => {
    const { socket } = await openJob(jobView());
    act(() => socket.push(viewMessage(jobView()), started(), transition(3, 'step.succeeded', 'advising', [change('advise.mistral', 'succeeded')])));
    await waitFor(() => expect(socket.sent).toContainEqual({ action: 'subscribe', jobId: JOB_ID, afterSeq: 1 }), { timeout: 4000 });
    act(() => socket.push(transition(2, 'step.succeeded', 'advising', [change('advise.claude', 'succeeded')]), transition(3, 'step.succeeded', 'advising', [change('advise.mistral', 'succeeded')])));
    await waitFor(() => expect(within(card('Mistral')).getByText('Answered')).toBeInTheDocument());
    expect(within(card('Claude')).getByText('Answered')).toBeInTheDocument();
  });

  it('makes the advisors tabs at narrow widths, with arrow keys, Home and End', async () => {
    setViewportWidth(320);
    const { socket, user } = await openJob(jobView());
    act(() => socket.push(viewMessage(jobView()), started()));
    const tablist = await screen.findByRole('tablist', { name: 'The circle at work' });
    const tabs = within(tablist).getAllByRole('tab');
    expect(tabs.map((t) => t.textContent)).toEqual(['Claude ◔', 'Mistral ◔', 'Llama ◔', 'Chair ○']);
    expect(tabs.map((t) => t.getAttribute('aria-label'))).toEqual(['Claude: Thinking', 'Mistral: Thinking', 'Llama: Thinking', 'Chair: Waiting']);
    expect(tabs.map((t) => t.getAttribute('aria-selected'))).toEqual(['true', 'false', 'false', 'false']);
    expect(tabs.map((t) => t.tabIndex)).toEqual([0, -1, -1, -1]);
    const panel = screen.getByRole('tabpanel');
    expect(panel).toHaveAccessibleName('Claude: Thinking');
    expect(tabs[0]).toHaveAttribute('aria-controls', panel.id);

    await user.click(tabs[0]!);
    await user.keyboard('{ArrowRight}');
    expect(tabs[1]).toHaveFocus();
    expect(tabs[1]).toHaveAttribute('aria-selected', 'true');
    expect(screen.getByRole('tabpanel')).toHaveAccessibleName('Mistral: Thinking');
    await user.keyboard('{End}');
    expect(tabs[3]).toHaveFocus();
    expect(within(screen.getByRole('tabpanel')).getByRole('article', { name: /Chair/ })).toBeInTheDocument();
    await user.keyboard('{ArrowRight}');
    expect(tabs[0]).toHaveFocus();
    await user.keyboard('{Home}{ArrowLeft}');
    expect(tabs[3]).toHaveAttribute('aria-selected', 'true');
    expect(screen.queryByRole('list', { name: 'The circle at work' })).not.toBeInTheDocument();
  });
});

describe('the job page, finished', () => {
  it('puts the advice first, clearly sectioned, with the deliberation collapsed below', async () => {
    const view = finishedView();
    const { socket } = await openJob(view);
    act(() => socket.push(viewMessage(view), done(12, 'succeeded')));
    const advice = await screen.findByRole('region', { name: 'Advice' });
    for (const heading of ['Recommendation', 'Where the circle agrees', 'Where the circle disagrees']) expect(within(advice).getByRole('heading', { name: heading })).toBeInTheDocument();
    expect(within(advice).getByText('Nobody wants a big-bang rewrite.')).toBeInTheDocument();
    expect(advice).toHaveTextContent('Confidence: ●●○ Medium');

    const answers = screen.getByText('Answers', { selector: 'summary h2' }).closest('details')!;
    const reviews = screen.getByText('Reviews', { selector: 'summary h2' }).closest('details')!;
    expect(answers.open).toBe(false);
    expect(reviews.open).toBe(false);
    expect(advice.compareDocumentPosition(answers) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Copy advice' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Export Markdown' })).toBeInTheDocument();
    expect(screen.getByText('Total: 1,540 tokens · $0.1400')).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Ask a follow-up' })).toBeInTheDocument();
    expect(await screen.findByRole('textbox', { name: 'Your follow-up question' })).toBeInTheDocument();
  });

  it('shows the ranking with its legend and the review matrix with critiques on click', async () => {
    const view = finishedView();
    const { socket, user } = await openJob(view);
    act(() => socket.push(viewMessage(view), done(12, 'succeeded')));

    const ranking = await screen.findByRole('table', { name: 'Ranking by the circle' });
    const rows = within(ranking).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getAllByRole('cell').map((c) => c.textContent))).toEqual([['1', '1.00', '2'], ['2', '1.50', '2'], ['3', '2.00', '2']]);
    expect(rows.map((r) => within(r).getByRole('rowheader').textContent)).toEqual(['Claude', 'Llama', 'Mistral']);
    expect(screen.getByText(/Mean position: lower is better/)).toBeInTheDocument();

    const matrix = screen.getByRole('table', { name: 'How each reviewer ranked the others’ answers' });
    expect(within(matrix).getAllByRole('columnheader').map((c) => c.textContent)).toEqual(['Reviewer', 'Claude', 'Mistral', 'Llama']);
    const claudeRow = within(matrix).getByRole('row', { name: /^Claude/ });
    const cells = within(claudeRow).getAllByRole('cell');
    expect(cells[0]).toHaveTextContent('own answer');
    expect(within(cells[0]!).queryByRole('button')).not.toBeInTheDocument();
    expect(cells.slice(1).map((c) => c.textContent?.charAt(0))).toEqual(['2', '1']);

    const onMistral = within(cells[1]!).getByRole('button', { name: '2 — Claude on Mistral: show critique' });
    expect(onMistral).toHaveAttribute('aria-expanded', 'false');
    await user.click(onMistral);
    expect(onMistral).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByRole('heading', { name: 'Claude on Mistral’s answer' })).toBeInTheDocument();
    expect(await screen.findByText('Too eager to rewrite.')).toBeInTheDocument();

    const agreement = screen.getByRole('table', { name: 'How alike the reviewers ranked' });
    const mistral = within(agreement).getByRole('row', { name: /^Mistral/ });
    expect(within(mistral).getAllByRole('cell').map((c) => c.textContent)).toEqual(['0%', '—same reviewer', '100%']);
  });

  it('says plainly when the advice is degraded and when the advisors were simulated', async () => {
    const view = finishedView({ adviceQuality: 'unranked', simulated: true, ranking: undefined });
    const { socket } = await openJob(view);
    act(() => socket.push(viewMessage(view), done(12, 'succeeded')));
    expect(await screen.findByText('Every review failed, so the chair wrote this advice without a ranking.')).toBeInTheDocument();
    expect(screen.getByText(/come from a local simulation, not real models/)).toBeInTheDocument();
  });

  it('shows a failed job’s reason and each advisor’s real error', async () => {
    const failed = finishedView({
      status: 'failed',
      synthesis: undefined,
      ranking: undefined,
      reason: 'Only 1 of 3 advisors answered; 2 are needed.',
      adviceQuality: undefined,
    });
    failed.advisors[1] = { ...failed.advisors[1]!, answer: { status: 'failed', attempt: 3, error: { error: 'ThrottlingException', cause: 'Rate exceeded' } } };
    const { socket } = await openJob(failed);
    act(() => socket.push(viewMessage(failed), done(12, 'failed', failed.reason)));
    expect(await screen.findByText('No advice: the job failed. Only 1 of 3 advisors answered; 2 are needed.')).toBeInTheDocument();
    expect(within(card('Mistral')).getByText('Could not answer: ThrottlingException — Rate exceeded')).toBeInTheDocument();
  });

  it('refuses a job that is not the caller’s in words', async () => {
    const api = fakeApi(CONFIG.apiUrl);
    api.on('GET', `/jobs/${JOB_ID}`, { status: 404, body: { error: { code: 'not_found', message: 'No such job among yours.' } } });
    await renderApp(`/jobs/${JOB_ID}`, { api });
    expect(await screen.findByRole('heading', { name: 'This job cannot be shown' })).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('No such job among yours.');
  });
});

describe('model text on the job page', () => {
  it('renders HTML and script URLs from a model inert', async () => {
    const view = finishedView();
    const text = 'Before.\n\n<script>window.pwned=1</script>\n\nAn image <img src=x onerror="window.pwned=1"> and [click](javascript:alert(1)) and <a href="https://evil.test">raw</a>.';
    view.advisors[0] = { ...view.advisors[0]!, answer: { ...view.advisors[0]!.answer, text } };
    const { socket, container } = await openJob(view);
    act(() => socket.push(viewMessage(view), done(12, 'succeeded')));
    const answer = await screen.findByRole('region', { name: 'Answer from Claude' });
    await waitFor(() => expect(within(answer).getByText('click')).toBeInTheDocument());
    expect(answer).toHaveTextContent('Before. An image and click and raw.');
    expect(container.querySelector('script, img, iframe, [onerror]')).toBeNull();
    expect(within(answer).queryByRole('link')).not.toBeInTheDocument();
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });
});
