/**
 * The web app's accessibility in Debian's Chromium against the whole local stack: axe-core's
 * WCAG 2.1 A/AA rules on every state a person meets (signed out, asking, a job streaming,
 * a finished job, a failed job), each at desktop width (1280×800) and at 320 px, with a
 * screenshot of each under test-artifacts/web-app/. At 320 px the circle is a set of tabs
 * that the arrow keys, Home and End move through.
 *
 * The tests share one signed-in page and run in order.
 */
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { withLocalStack } from '../support/local-stack.js';
import { VIEWPORTS, axeViolations, pageProblems, saveScreenshot, withBrowser } from '../support/browser.js';
import { bedrockOf } from '../support/jobs.js';
import {
  PAGE_WAIT_MS,
  askQuestion,
  askingPageReady,
  markdownRendered,
  signInThroughApp,
  waitForAdvice,
  waitForOutcome,
  waitForStreamingAnswer,
} from '../support/web-app.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));
const local = withLocalStack({ workers: 1, web: true, bedrock: { firstTokenDelayMs: 50, tokenDelayMs: 4 }, env: { COT_CIRCLE_FILE: TEST_CIRCLE } });
const web = withBrowser();
const bedrock = () => bedrockOf(local.stack);
beforeEach(() => bedrock().reset());

/** axe on a full page takes seconds on a loaded 2-core machine (not a timing assertion). */
const A11Y_TEST_MS = 240_000;

let session: { page: Page; problems: string[] } | undefined;
const signedIn = (): Page => {
  if (!session) throw new Error('the first test opens the page and the second signs in');
  return session.page;
};

type Width = keyof typeof VIEWPORTS;

/**
 * At each width: axe's violations, plus a line if the page is wider than the window
 * (a phone would scroll sideways), and a full-page screenshot test-artifacts/web-app/<state>-<width>.png.
 */
async function checkAtBothWidths(page: Page, state: string, settle?: (page: Page, width: Width) => Promise<void>): Promise<Record<Width, string[]>> {
  const found = { desktop: [] as string[], phone: [] as string[] };
  for (const width of ['desktop', 'phone'] as const) {
    await page.setViewportSize(VIEWPORTS[width]);
    await settle?.(page, width);
    found[width] = await axeViolations(page);
    const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    if (pageWidth > VIEWPORTS[width].width) found[width].push(`the page is ${pageWidth} px wide in a ${VIEWPORTS[width].width} px window`);
    await saveScreenshot(page, `web-app/${state}-${width}`);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  return found;
}

/** At 320 px the members are tabs; on a desktop a list of cards. */
async function circleLaidOut(page: Page, width: Width, label: string): Promise<void> {
  const role = width === 'phone' ? 'tablist' : 'list';
  await page.getByRole(role, { name: label }).waitFor({ timeout: PAGE_WAIT_MS });
}

/** The id of the focused element and the name of the selected tab and its visible panel's heading. */
async function tabState(page: Page): Promise<{ focused: string; selected: string[]; panel: string }> {
  return page.evaluate(() => {
    const selected = Array.from(document.querySelectorAll('[role="tab"][aria-selected="true"]')).map((t) => t.getAttribute('aria-label') ?? '');
    const panel = Array.from(document.querySelectorAll('[role="tabpanel"]')).find((p) => !(p as HTMLElement).hidden);
    const labelledBy = panel?.getAttribute('aria-labelledby');
    return {
      focused: document.activeElement?.id ?? '',
      selected,
      panel: `${labelledBy ?? ''} ${panel?.querySelector('h3')?.textContent ?? ''}`,
    };
  });
}

describe('web app accessibility (WCAG 2.1 A/AA, desktop and 320 px)', () => {
  it('has no violation on the signed-out page', async () => {
    const { page } = await web.newUser({ baseURL: local.stack.webUrl });
    session = { page, problems: pageProblems(page) };
    await page.goto('/');
    const settle = () => page.getByRole('button', { name: 'Sign in', exact: true }).waitFor({ timeout: PAGE_WAIT_MS });
    expect(await checkAtBothWidths(page, 'signed-out', settle)).toEqual({ desktop: [], phone: [] });
  }, A11Y_TEST_MS);

  it('has no violation on the asking page', async () => {
    const page = signedIn();
    await signInThroughApp(page, 'carol');
    await page.getByRole('textbox', { name: 'Your question' }).fill('How should I plan a sabbatical?');
    expect(await checkAtBothWidths(page, 'asking', (p) => askingPageReady(p))).toEqual({ desktop: [], phone: [] });
  }, A11Y_TEST_MS);

  it('has no violation on a job while its answers stream; at 320 px the circle is tabs the arrow keys move through', async () => {
    const page = signedIn();
    // Slow tokens: the answers stream for a minute, through every check below; the job is cancelled after.
    await bedrock().configure({ tokenDelayMs: 400 });
    await askQuestion(page, 'Should I take a year off to travel before university?');
    await waitForStreamingAnswer(page);
    const settle = async (p: Page, width: Width) => {
      await circleLaidOut(p, width, 'The circle at work');
      await waitForStreamingAnswer(p);
      await markdownRendered(p);
    };
    expect(await checkAtBothWidths(page, 'job-streaming', settle)).toEqual({ desktop: [], phone: [] });

    await page.setViewportSize(VIEWPORTS.phone);
    const tablist = page.getByRole('tablist', { name: 'The circle at work' });
    await tablist.waitFor({ timeout: PAGE_WAIT_MS });
    const tabs = await tablist.getByRole('tab').evaluateAll((els) => els.map((el) => ({ id: el.id, name: el.getAttribute('aria-label') ?? '', tabIndex: (el as HTMLElement).tabIndex })));
    expect(tabs.map((t) => t.name.split(':')[0])).toEqual(['Claude', 'Mistral', 'Llama', 'Chair']);
    expect(tabs.map((t) => t.tabIndex)).toEqual([0, -1, -1, -1]);
    expect(tabs[0]!.name).toBe('Claude: Writing');
    const [claude, mistral, , chair] = tabs as [(typeof tabs)[0], (typeof tabs)[0], (typeof tabs)[0], (typeof tabs)[0]];

    await page.getByRole('tab', { name: claude.name }).focus();
    expect(await tabState(page)).toEqual({ focused: claude.id, selected: [claude.name], panel: `${claude.id} Claude` });
    await page.keyboard.press('ArrowRight');
    expect(await tabState(page)).toMatchObject({ focused: mistral.id, selected: [expect.stringMatching(/^Mistral: /)], panel: `${mistral.id} Mistral` });
    await page.keyboard.press('End');
    expect(await tabState(page)).toMatchObject({ focused: chair.id, panel: `${chair.id} Chair (chair)` });
    await page.keyboard.press('Home');
    expect(await tabState(page)).toMatchObject({ focused: claude.id, panel: `${claude.id} Claude` });
    await page.keyboard.press('ArrowLeft');
    expect(await tabState(page)).toMatchObject({ focused: chair.id, panel: `${chair.id} Chair (chair)` });
    await page.keyboard.press('ArrowRight');
    expect(await tabState(page)).toMatchObject({ focused: claude.id, panel: `${claude.id} Claude` });
    // Tab leaves the tablist for the panel, as the tabs pattern has it.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('tabpanel');
    // Everything above happened while the answers were still streaming.
    expect(await page.locator('main [aria-label^="Answer from "][aria-busy="true"]').count()).toBe(1);

    await page.setViewportSize(VIEWPORTS.desktop);
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await waitForOutcome(page, 'cancelled');
  }, A11Y_TEST_MS);

  it('has no violation on a finished job, its answers, reviews and a critique open', async () => {
    const page = signedIn();
    await askQuestion(page, 'Should our café start opening on Sundays?');
    await waitForAdvice(page);
    await page.locator('main summary', { hasText: 'Answers' }).click();
    await page.locator('main summary', { hasText: 'Reviews' }).click();
    await page.getByRole('table', { name: 'How each reviewer ranked the others’ answers' }).getByRole('button').first().click();
    const settle = (p: Page, width: Width) => circleLaidOut(p, width, 'The circle’s answers');
    expect(await checkAtBothWidths(page, 'job-finished', settle)).toEqual({ desktop: [], phone: [] });
  }, A11Y_TEST_MS);

  it('has no violation on a job that failed below the quorum', async () => {
    const page = signedIn();
    const marker = 'below-quorum';
    for (const step of ['advise.claude', 'advise.mistral']) await bedrock().inject({ type: 'internal', times: -1, match: { question: marker, step } });
    await askQuestion(page, `Should I sell my car? (${marker})`);
    await waitForOutcome(page, 'failed');
    await page.locator('main').getByText('Could not answer').first().waitFor({ timeout: PAGE_WAIT_MS });
    const main = await page.locator('main').innerText();
    expect(main).toMatch(/Could not answer: InternalServerException/);
    expect(main).toContain('1 of 3 advisors answered');
    const settle = async (p: Page, width: Width) => {
      await circleLaidOut(p, width, 'The circle’s answers');
      await markdownRendered(p);
    };
    expect(await checkAtBothWidths(page, 'job-failed', settle)).toEqual({ desktop: [], phone: [] });
    expect(session!.problems).toEqual([]);
  }, A11Y_TEST_MS);
});
