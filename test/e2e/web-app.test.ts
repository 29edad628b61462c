/**
 * The web app end to end: Debian's Chromium against the whole local stack, built and served
 * the way `npm start` does it. Alice signs in through the provider's login page, asks, watches
 * three answers stream, reads the ranking, the matrix and the advice, reloads mid-job, loses
 * her connection, reopens a job from History, exports it, cancels one and signs out; Bob
 * sees none of it. Model text with markup stays text.
 *
 * The tests of the first describe share Alice's signed-in page and run in order (signing in
 * takes seconds on a loaded machine). The simulated advisors stream a token every few ms.
 */
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobView } from '../../services/shared/contracts/job.js';
import { withLocalStack } from '../support/local-stack.js';
import { confirmSignOut, pageProblems, withBrowser } from '../support/browser.js';
import { bedrockOf } from '../support/jobs.js';
import {
  PAGE_WAIT_MS,
  answerSamples,
  askQuestion,
  dropConnections,
  mainText,
  recordAnswers,
  signInThroughApp,
  waitForAdvice,
  waitForOutcome,
  waitForStreamingAnswer,
  watchForText,
  type AnswerSample,
} from '../support/web-app.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));
const ADVISORS = ['Claude', 'Mistral', 'Llama'] as const;

/** Fast, but slow enough that every answer arrives in many deltas over a second or two. */
const STREAMING = { firstTokenDelayMs: 100, tokenDelayMs: 12 } as const;

const local = withLocalStack({ workers: 1, web: true, bedrock: STREAMING, env: { COT_CIRCLE_FILE: TEST_CIRCLE } });
const web = withBrowser();
const bedrock = () => bedrockOf(local.stack);

/** A whole job on a loaded 2-core machine, and the browser around it (not a timing assertion). */
const JOB_TEST_MS = 240_000;

beforeEach(() => bedrock().reset());

const webUrl = (): string => {
  const url = local.stack.webUrl;
  if (!url) throw new Error('the stack serves no web app');
  return url;
};

/** Alice's page, signed in once by the first test and used by the tests after it. */
let alice: { page: Page; problems: string[] } | undefined;
const alicePage = (): Page => {
  if (!alice) throw new Error('Alice is not signed in (the first test signs her in)');
  return alice.page;
};
/** Alice's jobs, in the order she asked them. */
const asked: { jobId: string; question: string }[] = [];

async function aliceView(jobId: string): Promise<JobView> {
  const res = await (await local.client('alice')).get<JobView>(`/jobs/${jobId}`);
  if (res.status !== 200) throw new Error(`GET /jobs/${jobId} answered ${res.status}`);
  return res.body;
}

/** Only the letters of a text: what rendered Markdown keeps of its source whatever the markup (list numbers, `**`, `#`). */
const letters = (text: string): string => text.replace(/[^\p{L}]/gu, '');

/** Each advisor's answer panel as it is now (finished jobs show them inside the collapsed "Answers"). */
async function answerPanels(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() =>
    Object.fromEntries(
      Array.from(document.querySelectorAll('main [aria-label^="Answer from "]')).map((el) => [(el.getAttribute('aria-label') ?? '').slice('Answer from '.length), el.textContent ?? '']),
    ),
  );
}

/** Every panel shows exactly the stored answer (nothing lost or doubled), and every earlier look at it was a beginning of it. */
async function expectAnswersComplete(page: Page, view: JobView, samples: AnswerSample[] = []): Promise<void> {
  const panels = await answerPanels(page);
  for (const advisor of view.advisors) {
    const final = letters(advisor.answer.text ?? '');
    expect(final.length, `${advisor.name}'s stored answer`).toBeGreaterThan(100);
    expect(letters(panels[advisor.name] ?? ''), `${advisor.name}'s panel`).toBe(final);
    for (const sample of samples.filter((s) => s.advisor === advisor.name)) {
      expect(final.startsWith(letters(sample.text)), `${advisor.name}'s panel at ${Math.round(sample.at)} ms is a beginning of the answer`).toBe(true);
    }
  }
}

describe('web app, end to end, as a signed-in user', () => {
  it('signs a demo user in through the provider’s login page to the asking page, which says the advisors are simulated', async () => {
    const { page } = await web.newUser({ baseURL: webUrl() });
    alice = { page, problems: pageProblems(page) };
    await signInThroughApp(page, 'alice');

    expect(new URL(page.url()).pathname).toBe('/');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'Ask' }).getAttribute('aria-current')).resolves.toBe('page');
    expect(await nav.innerText()).toContain('alice');
    expect(await page.getByRole('note').first().innerText()).toMatch(/^Simulated advisors\./);
    for (const advisor of ADVISORS) expect(await page.getByRole('group', { name: 'Advisors' }).getByRole('checkbox', { name: new RegExp(`^${advisor}`) }).isChecked()).toBe(true);
    // The code and state of the sign-in never stay in the address bar.
    expect(page.url()).not.toMatch(/[?&](code|state)=/);
  }, JOB_TEST_MS);

  it('streams three answers as they are written, then shows the ranking, the review matrix and the advice', async () => {
    const page = alicePage();
    await recordAnswers(page);
    const question = 'Should our team of five move from a monolith to microservices this year?';
    const jobId = await askQuestion(page, question);
    asked.push({ jobId, question });
    await waitForAdvice(page, JOB_TEST_MS);
    const view = await aliceView(jobId);
    expect(view.status).toBe('succeeded');

    // Each answer panel was seen growing while it streamed (aria-busy), in many steps.
    const samples = await answerSamples(page);
    for (const advisor of ADVISORS) {
      const streaming = samples.filter((s) => s.advisor === advisor && s.busy && letters(s.text).length > 0);
      const lengths = streaming.map((s) => letters(s.text).length);
      expect(new Set(lengths).size, `${advisor}: distinct lengths seen while streaming`).toBeGreaterThanOrEqual(3);
      expect(lengths.at(-1)!, `${advisor}: the last streamed look is longer than the first`).toBeGreaterThan(lengths[0]!);
    }
    await expectAnswersComplete(page, view, samples);

    // The advice first: its sections and the confidence, as the chair wrote them.
    const advice = page.getByRole('region', { name: 'Advice', exact: true });
    for (const heading of ['Recommendation', 'Where the circle agrees', 'Where the circle disagrees']) {
      await expect(advice.getByRole('heading', { name: heading }).isVisible()).resolves.toBe(true);
    }
    const adviceText = await advice.innerText();
    expect(letters(adviceText)).toContain(letters(view.synthesis!.recommendation!));
    expect(adviceText).toMatch(new RegExp(`Confidence:\\s*(●|○)*\\s*${view.synthesis!.confidence}`, 'i'));

    // The deliberation below: open "Reviews" and read the ranking and the matrix.
    await page.locator('main summary', { hasText: 'Reviews' }).click();
    const ranking = page.getByRole('table', { name: 'Ranking by the circle' });
    const rows = await ranking.locator('tbody tr').allInnerTexts();
    expect(rows.map((r) => r.split('\t').map((c) => c.trim()))).toEqual(
      view.ranking!.map((r, i) => [String(i + 1), view.advisors.find((a) => a.id === r.advisorId)!.name, r.meanPosition.toFixed(2), String(r.votes)]),
    );
    const matrix = page.getByRole('table', { name: 'How each reviewer ranked the others’ answers' });
    expect(await matrix.locator('tbody tr').count()).toBe(3);
    const [reviewer, reviewed] = [view.advisors[0]!, view.advisors[1]!];
    const position = reviewer.review.ranking!.indexOf(reviewed.id) + 1;
    await matrix.getByRole('button', { name: `${position} — ${reviewer.name} on ${reviewed.name}: show critique` }).click();
    await page.getByRole('heading', { name: `${reviewer.name} on ${reviewed.name}’s answer` }).waitFor();
    expect(letters(await page.locator('#critique-panel').innerText())).toContain(letters(reviewer.review.critiques![reviewed.id]!));
  }, JOB_TEST_MS);

  it('continues a job reloaded in the middle to the same final page as a fresh load', async () => {
    const page = alicePage();
    const question = 'Should I rent or buy a flat in a city I may leave in three years?';
    const jobId = await askQuestion(page, question);
    asked.push({ jobId, question });
    await waitForStreamingAnswer(page);
    expect((await aliceView(jobId)).status).toBe('running');

    await page.reload();
    await waitForAdvice(page, JOB_TEST_MS);
    const continued = await mainText(page);
    await expectAnswersComplete(page, await aliceView(jobId));

    await page.reload();
    await waitForAdvice(page);
    expect(await mainText(page)).toBe(continued);
  }, JOB_TEST_MS);

  it('heals a connection the gateway closes: says it is reconnecting, then shows the same final page with nothing doubled', async () => {
    const page = alicePage();
    // Slower tokens, so the drop surely lands while the advisors are still writing.
    await bedrock().configure({ tokenDelayMs: 25 });
    const question = 'Is it worth learning to play the cello at forty?';
    const jobId = await askQuestion(page, question);
    asked.push({ jobId, question });
    await recordAnswers(page);
    await waitForStreamingAnswer(page);

    const reconnecting = await watchForText(page, 'Reconnecting…');
    const dropped = await dropConnections(local.stack, jobId);
    expect(dropped.length).toBe(1);
    expect(await reconnecting()).toMatch(/^Reconnecting… \(last event at \d\d:\d\d:\d\d\)/);
    await waitForAdvice(page, JOB_TEST_MS);
    const healed = await mainText(page);
    expect(healed).not.toContain('Reconnecting…');
    await expectAnswersComplete(page, await aliceView(jobId), await answerSamples(page));

    await page.reload();
    await waitForAdvice(page);
    expect(await mainText(page)).toBe(healed);
  }, JOB_TEST_MS);

  it('lists the jobs in History, newest first, reopens one and exports its decision record as Markdown', async () => {
    const page = alicePage();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
    const table = page.getByRole('table', { name: 'Your questions, newest first' });
    await table.waitFor({ timeout: PAGE_WAIT_MS });
    expect(await table.locator('tbody tr a').allInnerTexts()).toEqual(asked.map((a) => a.question).reverse());
    expect((await table.locator('tbody tr').allInnerTexts()).every((row) => row.includes('Succeeded'))).toBe(true);

    const first = asked[0]!;
    await table.getByRole('link', { name: first.question }).click();
    await page.waitForURL(`**/jobs/${first.jobId}`);
    await waitForAdvice(page);
    const view = await aliceView(first.jobId);
    await expectAnswersComplete(page, view);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export Markdown' }).click()]);
    // The date and the first 40 characters of the question, as a file name.
    expect(download.suggestedFilename()).toBe(`decision-${view.createdAt.slice(0, 10)}-should-our-team-of-five-move-from-a-mono.md`);
    const record = await readFile(await download.path(), 'utf8');
    expect(record).toContain(`## Question\n\n${first.question}\n`);
    for (const a of view.advisors) expect(record).toContain(`### ${a.name} (${a.modelId})\n\n${a.answer.text!.trim()}\n`);
    expect(record).toContain('| Rank | Advisor | Mean position | Votes |');
    view.ranking!.forEach((r, i) => expect(record).toContain(`| ${i + 1} | ${view.advisors.find((a) => a.id === r.advisorId)!.name} | ${r.meanPosition.toFixed(2)} | ${r.votes} |`));
    expect(record).toContain(`| Reviewer | ${view.advisors.map((a) => a.name).join(' | ')} |`);
    for (const reviewer of view.advisors) {
      const cells = view.advisors.map((a) => (a.id === reviewer.id ? '—' : String(reviewer.review.ranking!.indexOf(a.id) + 1)));
      expect(record).toContain(`| ${reviewer.name} | ${cells.join(' | ')} |`);
    }
    expect(record).toContain(`### Recommendation\n\n${view.synthesis!.recommendation!.trim()}\n`);
    expect(record).toContain(`### Where the circle agrees\n\n${view.synthesis!.agreement!.trim()}\n`);
    expect(record.toLowerCase()).toContain(`**confidence:** ${view.synthesis!.confidence}`);
    expect(record).toContain('## Usage and cost');
    const tokens = (n: number) => n.toLocaleString('en-US');
    expect(record).toContain(`| **Total** | ${tokens(view.usage.inputTokens)} | ${tokens(view.usage.outputTokens)} | $${view.costUsd.toFixed(4)} |`);
    expect(view.costUsd).toBeGreaterThan(0);
  }, JOB_TEST_MS);

  it('cancels a running job from its page', async () => {
    const page = alicePage();
    // The advisors think for a minute: the job is surely running when it is cancelled.
    await bedrock().configure({ firstTokenDelayMs: 60_000 });
    const question = 'Should we cancel the offsite?';
    const jobId = await askQuestion(page, question);
    asked.push({ jobId, question });
    await page.locator('main').getByText('Thinking').first().waitFor({ timeout: PAGE_WAIT_MS });

    await page.getByRole('button', { name: 'Cancel job' }).click();
    await waitForOutcome(page, 'cancelled', JOB_TEST_MS);
    expect(await page.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
    expect(await page.getByRole('region', { name: 'Advice', exact: true }).innerText()).toContain('No advice: the job was cancelled.');
    expect((await aliceView(jobId)).status).toBe('cancelled');
  }, JOB_TEST_MS);

  it('shows model and user text with <script>, <img onerror> and javascript: links as inert text', async () => {
    const page = alicePage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const marker = 'inert-probe';
    const hostile = [
      '**Bold start.** <script>window.__xss = "script"</script>',
      '',
      '<img src=x onerror="window.__xss = \'img\'; alert(\'img\')">',
      '',
      'A [link that must not run](javascript:window.__xss=\'link\') and a raw <a href="javascript:alert(\'anchor\')">anchor</a>.',
      '',
      '![a picture](https://example.invalid/p.png) <svg onload="window.__xss=\'svg\'"></svg>',
    ].join('\n');
    const chair = [
      '## Recommendation',
      '',
      'Trust nothing. <img src=x onerror="window.__xss=\'chair\'"> [Chair link](javascript:alert(\'chair\'))',
      '',
      '## Where the circle agrees',
      '',
      'That <script>alert("agree")</script> is text.',
      '',
      '## Where the circle disagrees',
      '',
      'Nowhere.',
      '',
      '## Confidence',
      '',
      'High.',
    ].join('\n');
    await bedrock().script({ match: { question: marker, kind: 'advise' }, text: hostile, times: -1 });
    await bedrock().script({ match: { question: marker, kind: 'synthesize' }, text: chair, times: -1 });

    const question = `Is this shown safely? ${marker} <script>window.__xss='question'</script> <img src=x onerror="window.__xss='question-img'"> [question link](javascript:window.__xss='question-link')`;
    const jobId = await askQuestion(page, question);
    asked.push({ jobId, question });
    await waitForAdvice(page, JOB_TEST_MS);
    await page.locator('main summary', { hasText: 'Answers' }).click();
    await page.locator('main summary', { hasText: 'Reviews' }).click();

    const claude = page.getByRole('region', { name: 'Answer from Claude' });
    await claude.getByText('link that must not run').click();
    expect(await claude.innerText()).toContain('[image: a picture]');
    expect(await page.getByRole('region', { name: 'Advice', exact: true }).innerText()).toContain('Chair link');
    expect(await page.locator('main').innerText()).toContain('question link');

    const dom = await page.evaluate(() => ({
      ran: (window as unknown as { __xss?: string }).__xss,
      images: document.querySelectorAll('img, svg, iframe, object, embed').length,
      inlineScripts: Array.from(document.querySelectorAll('script')).filter((s) => !s.src).length,
      scriptLinks: Array.from(document.querySelectorAll('body [href], body [src], body [action], body [formaction]'))
        .flatMap((el) => ['href', 'src', 'action', 'formaction'].map((a) => el.getAttribute(a) ?? ''))
        .filter((url) => /^\s*(javascript|data|vbscript):/i.test(url)),
      handlers: Array.from(document.querySelectorAll('main *')).flatMap((el) => Array.from(el.attributes).map((a) => a.name)).filter((name) => name.startsWith('on')),
    }));
    expect(dom).toEqual({ ran: undefined, images: 0, inlineScripts: 0, scriptLinks: [], handlers: [] });
    expect(dialogs).toEqual([]);
  }, JOB_TEST_MS);

  it('signs out to the landing page; the app then shows nothing of the account', async () => {
    const page = alicePage();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await confirmSignOut(page, { timeoutMs: PAGE_WAIT_MS });
    expect(page.url()).toBe(`${webUrl()}/`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
    expect(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('oidc.user')))).toEqual([]);

    await page.goto(`/jobs/${asked[0]!.jobId}`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await mainText(page)).not.toContain(asked[0]!.question);
    expect(alice!.problems).toEqual([]);
  }, JOB_TEST_MS);
});

describe('web app, end to end, as another user', () => {
  it('shows a second user none of the first user’s jobs, and none by its address', async () => {
    expect(asked.length).toBeGreaterThan(0);
    const { page } = await web.newUser({ baseURL: webUrl() });
    await signInThroughApp(page, 'bob');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
    await page.getByText('You have not asked the circle anything yet.').waitFor({ timeout: PAGE_WAIT_MS });

    const target = asked[0]!;
    const stored = await aliceView(target.jobId);
    const answers: number[] = [];
    page.on('response', (res) => {
      if (res.url() === `${local.stack.apiUrl}/jobs/${target.jobId}`) answers.push(res.status());
    });
    const frames: string[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
    await page.goto(`/jobs/${target.jobId}`);
    await page.getByRole('heading', { name: 'This job cannot be shown' }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.locator('main').getByRole('alert').innerText()).toMatch(/No such job among yours/);

    const shown = await mainText(page);
    expect(shown).not.toContain(target.question);
    expect(letters(shown)).not.toContain(letters(stored.advisors[0]!.answer.text!).slice(0, 60));
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((status) => status === 404)).toBe(true);
    expect(frames.join('\n')).not.toContain(target.question);
    expect(frames.join('\n')).not.toContain(stored.advisors[0]!.answer.text!.slice(0, 40));
    // Nor through the API, whatever the page does.
    expect((await (await local.client('bob')).get(`/jobs/${target.jobId}`)).status).toBe(404);
  }, JOB_TEST_MS);
});
