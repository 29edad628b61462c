/**
 * A real browser for end-to-end tests: Debian's Chromium (`apt-get install chromium`)
 * driven by playwright-core — never a browser download. One browser per test file, a fresh
 * context (cookies, storage) per user, sign-in through the local provider's login page,
 * screenshots under the git-ignored test-artifacts/, and axe-core's WCAG 2.1 A/AA checks.
 *
 *   const web = withBrowser();
 *   it('…', async () => {
 *     const { page } = await web.newUser({ baseURL: local.stack.webUrl });
 *     await page.goto('/');
 *     await page.getByRole('button', { name: 'Sign in' }).click();
 *     await signInAs(page, 'alice');
 *     expect(await axeViolations(page)).toEqual([]);
 *   });
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { REPO_ROOT } from '../../services/local/stack.js';
import { DEMO_USERS } from '../../services/local/oidc/oidc.constants.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Headless, no sandbox (containers and CI run as root), and nothing that phones home or
 * updates itself while a test runs. Playwright gives every launch a fresh temporary
 * user-data dir and deletes it on close.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

/** Screenshots and other test output; git-ignored. */
export const ARTIFACTS_DIR = join(REPO_ROOT, 'test-artifacts');

/** The widths the app is checked at: a laptop and the narrowest phone. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 320, height: 640 },
} as const;

/** The WCAG 2.1 A and AA rules of axe-core. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] as const;

/** Launches Chromium; a clear error when the Debian package is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: install Debian's Chromium (sudo apt-get install -y chromium); tests never download a browser`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] });
}

export interface UserContextOptions extends Pick<BrowserContextOptions, 'baseURL' | 'reducedMotion' | 'locale'> {
  /** Default desktop. */
  viewport?: keyof typeof VIEWPORTS;
}

/** A new, empty browser context (its own cookies and storage: one signed-in user) and a page in it. */
export async function newUserContext(browser: Browser, opts: UserContextOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const { viewport = 'desktop', ...rest } = opts;
  const context = await browser.newContext({ ...rest, viewport: VIEWPORTS[viewport], locale: rest.locale ?? 'en-GB' });
  return { context, page: await context.newPage() };
}

export interface BrowserFixture {
  /** The file's browser (throws outside its tests). */
  readonly browser: Browser;
  /** A fresh context and page; closed after the file's tests. */
  newUser(opts?: UserContextOptions): Promise<{ context: BrowserContext; page: Page }>;
}

/** Launches one browser for the current test file (beforeAll) and closes it and every context afterwards. */
export function withBrowser(): BrowserFixture {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    browser = undefined;
  });
  const current = (): Browser => {
    if (!browser) throw new Error('the browser is not running (use it inside a test of the file that called withBrowser)');
    return browser;
  };
  return {
    get browser() {
      return current();
    },
    newUser: (opts) => newUserContext(current(), opts),
  };
}

/**
 * Signs in as `user` on the local provider's login page, which the page must be on or be
 * heading to (after the app sent it there): a demo user by its button, anyone else by
 * typing the name. Resolves once the browser has left the provider.
 */
export async function signInAs(page: Page, user: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 20_000;
  await page.waitForURL((url) => url.pathname.startsWith('/interaction/'), { timeout });
  const providerOrigin = new URL(page.url()).origin;
  if ((DEMO_USERS as readonly string[]).includes(user)) {
    await page.getByRole('button', { name: `Sign in as ${user}`, exact: true }).click();
  } else {
    await page.getByLabel('Username').fill(user);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }
  await page.waitForURL((url) => url.origin !== providerOrigin, { timeout });
}

/**
 * Confirms the sign-out on the local provider's logout page, which the page must be on or be
 * heading to (after the app sent it to the end-session endpoint); resolves once the browser
 * has left the provider (for the app's post-logout redirect URI).
 */
export async function confirmSignOut(page: Page, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 20_000;
  const button = page.getByRole('button', { name: 'Yes, sign me out', exact: true });
  await button.waitFor({ timeout });
  const providerOrigin = new URL(page.url()).origin;
  await button.click();
  await page.waitForURL((url) => url.origin !== providerOrigin, { timeout });
}

/** Writes a full-page PNG to test-artifacts/<name>.png (name may contain folders); returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const safe = name.split('/').map((part) => part.replace(/[^\w.-]+/g, '-')).join('/');
  const path = join(ARTIFACTS_DIR, `${safe}.png`);
  await mkdir(join(path, '..'), { recursive: true });
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  return path;
}

/**
 * axe-core's WCAG 2.1 A/AA violations on the page as it is now, one readable line per
 * violation and element (rule, impact, target, what is wrong), so `toEqual([])` says what to fix.
 */
export async function axeViolations(page: Page, opts: { include?: string; exclude?: string } = {}): Promise<string[]> {
  let builder = new AxeBuilder({ page }).withTags([...AXE_TAGS]);
  if (opts.include) builder = builder.include(opts.include);
  if (opts.exclude) builder = builder.exclude(opts.exclude);
  const results = await builder.analyze();
  return results.violations.flatMap((v) =>
    v.nodes.map((node) => `${v.id} (${v.impact ?? 'n/a'}) at ${node.target.join(' ')}: ${node.failureSummary?.replace(/\s+/g, ' ').trim() ?? v.help}`),
  );
}

/**
 * Collects what a page complains about — uncaught errors, console errors and CSP violations —
 * from now on; a test expects the list to stay empty.
 */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return problems;
}
