/**
 * Driving the real web app (web/) in Chromium the way a person does, by the roles and
 * accessible names web/README.md lists: sign in through the app, ask, follow a job, read
 * the page. Also a recorder that samples every advisor's answer panel each time the DOM
 * changes, so a test can see text grow while it streams.
 */
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Page } from 'playwright-core';
import { INDEX } from '../../services/shared/contracts/names.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../services/local/dynamodb-local.js';
import type { TestStack } from './local-stack.js';
import { signInAs } from './browser.js';
import { eventually } from './jobs.js';

/** A page walks through several pages and a provider on a loaded 2-core machine: generous waits (never timing assertions). */
export const PAGE_WAIT_MS = 90_000;

/** The final line of the job page's status bar, by outcome. */
export const OUTCOME_TEXT = {
  succeeded: 'The advice is ready.',
  failed: 'The job failed.',
  cancelled: 'The job was cancelled.',
} as const;

/** From the landing page: Sign in, the provider's login page, back to the asking page. */
export async function signInThroughApp(page: Page, user: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click({ timeout: PAGE_WAIT_MS });
  await signInAs(page, user, { timeoutMs: PAGE_WAIT_MS });
  await askingPageReady(page);
}

/** The asking page with its form (the circle loaded). */
export async function askingPageReady(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Ask the circle' }).waitFor({ timeout: PAGE_WAIT_MS });
  await page.getByRole('button', { name: 'Ask the circle' }).waitFor({ timeout: PAGE_WAIT_MS });
}

/** Asks from the asking page (opened through the Ask link when elsewhere); resolves with the new job's id once its page shows. */
export async function askQuestion(page: Page, question: string, opts: { mode?: 'full' | 'quick' } = {}): Promise<string> {
  if (new URL(page.url()).pathname !== '/') await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Ask' }).click();
  await askingPageReady(page);
  await page.getByRole('textbox', { name: 'Your question' }).fill(question);
  if (opts.mode === 'quick') await page.getByRole('radio', { name: /^Quick/ }).check();
  await page.getByRole('button', { name: 'Ask the circle' }).click();
  await page.waitForURL((url) => url.pathname.startsWith('/jobs/'), { timeout: PAGE_WAIT_MS });
  await page.getByRole('heading', { name: 'Your question', level: 1 }).waitFor({ timeout: PAGE_WAIT_MS });
  return jobIdOf(page);
}

/** The job id in the page's address (/jobs/<id>). */
export function jobIdOf(page: Page): string {
  const id = new URL(page.url()).pathname.match(/^\/jobs\/([^/]+)$/)?.[1];
  if (!id) throw new Error(`not on a job page: ${page.url()}`);
  return decodeURIComponent(id);
}

/** Waits until the job page says the job ended as `outcome` (its status line). */
export async function waitForOutcome(page: Page, outcome: keyof typeof OUTCOME_TEXT, timeoutMs = PAGE_WAIT_MS): Promise<void> {
  await page.locator('main').getByText(OUTCOME_TEXT[outcome]).first().waitFor({ timeout: timeoutMs });
}

/**
 * Waits for a succeeded job's final page: the status line, the chair's advice in its
 * sections with the confidence (read from the whole view the page fetches once the job
 * has ended; until then it shows the advice as streamed), the follow-up form, and every
 * text rendered as Markdown (the renderer loads on demand and shows plain text until then).
 */
export async function waitForAdvice(page: Page, timeoutMs = PAGE_WAIT_MS): Promise<void> {
  await waitForOutcome(page, 'succeeded', timeoutMs);
  await page.getByRole('region', { name: 'Advice', exact: true }).getByText('Confidence:').waitFor({ timeout: timeoutMs });
  await page.getByRole('button', { name: 'Ask the follow-up' }).waitFor({ timeout: timeoutMs });
  await markdownRendered(page, timeoutMs);
}

/** Every Markdown text in <main> is rendered (the lazily loaded renderer's plain-text fallback is gone). */
export async function markdownRendered(page: Page, timeoutMs = PAGE_WAIT_MS): Promise<void> {
  await page.waitForFunction(() => document.querySelectorAll('main [class*="_plain_"]').length === 0, undefined, { timeout: timeoutMs });
}

/** What the page shows in <main>, as rendered text (collapsed sections excluded), whitespace folded. */
export async function mainText(page: Page): Promise<string> {
  return (await page.locator('main').innerText()).replace(/\s+/g, ' ').trim();
}

/** Waits until some advisor's answer is streaming (aria-busy) with text in it. */
export async function waitForStreamingAnswer(page: Page, timeoutMs = PAGE_WAIT_MS): Promise<void> {
  await page.waitForFunction(
    () => Array.from(document.querySelectorAll('main [aria-label^="Answer from "][aria-busy="true"]')).some((el) => (el.textContent ?? '').trim().length > 0),
    undefined,
    { timeout: timeoutMs },
  );
}

/** One look at an answer panel: its advisor, text, whether it was streaming, and when (page clock). */
export interface AnswerSample {
  advisor: string;
  text: string;
  busy: boolean;
  at: number;
}

/**
 * Starts recording every advisor's answer panel whenever the DOM changes (a MutationObserver),
 * from now until the page unloads; a client-side navigation keeps it running.
 */
export async function recordAnswers(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __answerSamples?: AnswerSample[] };
    if (w.__answerSamples) return;
    const samples: AnswerSample[] = [];
    w.__answerSamples = samples;
    const last = new Map<string, string>();
    const sample = (): void => {
      for (const el of Array.from(document.querySelectorAll('main [aria-label^="Answer from "]'))) {
        const advisor = (el.getAttribute('aria-label') ?? '').slice('Answer from '.length);
        const text = el.textContent ?? '';
        const busy = el.getAttribute('aria-busy') === 'true';
        const key = `${busy}:${text}`;
        if (last.get(advisor) === key) continue;
        last.set(advisor, key);
        samples.push({ advisor, text, busy, at: performance.now() });
      }
    };
    new MutationObserver(sample).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-busy'] });
    sample();
  });
}

/** The samples recorded since recordAnswers, oldest first. */
export async function answerSamples(page: Page): Promise<AnswerSample[]> {
  return page.evaluate(() => (window as unknown as { __answerSamples?: AnswerSample[] }).__answerSamples ?? []);
}

/**
 * Starts watching <main> for `text` on every DOM change from now on, so that a state shown
 * only briefly is not missed; the returned function waits until it has appeared and
 * resolves with what followed it (up to 80 characters) at that moment.
 */
export async function watchForText(page: Page, text: string): Promise<(timeoutMs?: number) => Promise<string>> {
  const key = `__seen_${Math.random().toString(36).slice(2)}`;
  await page.evaluate(
    ({ key, text }) => {
      const w = window as unknown as Record<string, string | undefined>;
      const check = (): void => {
        const all = document.querySelector('main')?.textContent ?? '';
        const at = all.indexOf(text);
        if (at < 0) return;
        w[key] = all.slice(at, at + text.length + 80);
        observer.disconnect();
      };
      const observer = new MutationObserver(check);
      observer.observe(document.body, { subtree: true, childList: true, characterData: true });
      check();
    },
    { key, text },
  );
  return async (timeoutMs = PAGE_WAIT_MS) => {
    const seen = await page.waitForFunction((k) => (window as unknown as Record<string, string | undefined>)[k], key, { timeout: timeoutMs });
    return String(await seen.jsonValue());
  };
}

/** The ids of the WebSocket connections subscribed to a job (the API's connections table). */
export async function subscribedConnections(stack: TestStack, jobId: string): Promise<string[]> {
  const out = await stack.aws.doc.send(
    new QueryCommand({ TableName: stack.tables.connections, IndexName: INDEX.connectionsByJob, KeyConditionExpression: 'jobId = :j', ExpressionAttributeValues: { ':j': jobId } }),
  );
  return (out.Items ?? []).map((i) => i.connectionId as string);
}

/** Closes a job's WebSocket connections from the gateway's side (DeleteConnection), as API Gateway may at any time; resolves with their ids. */
export async function dropConnections(stack: TestStack, jobId: string): Promise<string[]> {
  const ids = await eventually(async () => {
    const found = await subscribedConnections(stack, jobId);
    return found.length > 0 ? found : undefined;
  }, `a connection subscribed to job ${jobId}`);
  const management = new ApiGatewayManagementApiClient({ endpoint: stack.managementEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const ConnectionId of ids) await management.send(new DeleteConnectionCommand({ ConnectionId }));
  } finally {
    management.destroy();
  }
  return ids;
}
