/**
 * `npm run bench:web`: the web app in Debian's Chromium against the whole local stack (built
 * and served as `npm start` does), measured from the outside. Prints, and writes to
 * bench/results/web-latest.json:
 *
 * - the JavaScript and CSS the first load downloads, raw and gzip, and what signing in and
 *   opening a job add;
 * - the time from navigation to a usable asking page, signed in (a new browser context each
 *   time, and a reload);
 * - the delay from a token leaving the Bedrock stand-in to its text in the page's DOM, for
 *   one job at a time and for 10 jobs at once watched by 10 pages.
 *
 * It asserts nothing (see bench/README.md). COT_BENCH_VERBOSE=1 relays every service log line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { CircleSummary } from '../services/shared/contracts/api.js';
import { launchBrowser, signInAs, VIEWPORTS } from '../test/support/browser.js';
import { startBenchStack, type BenchStack } from './lib/bench-stack.js';
import { domDelays, type DomDelays } from './lib/dom-delay.js';
import { assetsLoadedBy, totalOf, type Asset } from './lib/first-load.js';
import { benchQuestions } from './lib/jobs.js';
import { installProbes, localClockOffset, mainThreadMeter, navigationTiming, pageClockOffset, pageRecords, scriptedAnswer, usableAfterMs } from './lib/page-probes.js';
import { fmt, formatRows, type Row } from './lib/report.js';
import { summarise, type Summary } from './lib/stats.js';
import { runBench } from './lib/cli.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const settings = {
  workers: 2,
  workerConcurrency: 16,
  /** The first token waits long enough for the page to have subscribed; then a token every 15 ms, as the stand-in's default pace. */
  bedrock: { firstTokenDelayMs: 1000, tokenDelayMs: 15, badDay: null },
  /** Words in each advisor's scripted answer. */
  answerWords: 150,
  loadRuns: 7,
  aloneJobs: 3,
  concurrentPages: 10,
  user: 'bench',
} as const;

/** Generous waits on a loaded machine; never a measurement. */
const WAIT_MS = 180_000;
const KB = 1024;
const log = (line: string): void => void process.stderr.write(`[bench:web] ${line}\n`);

interface Results {
  /** What each step downloaded that the steps before it had not. */
  assets: { landing: Asset[]; signIn: Asset[]; jobPage: Asset[] };
  usable: { cold: number[]; reload: number[]; coldNavigation: Record<string, number>[] };
  alone: DomDelays;
  concurrent: DomDelays;
  /** The watching pages' main threads: busy seconds per second from Ask to the last advice (summed over the pages), per job alone and for the 10 at once. */
  busy: { alone: number[]; concurrent: number };
}

async function main(): Promise<void> {
  const started = Date.now();
  log(`starting the stack with the web app: ${settings.workers} workers × concurrency ${settings.workerConcurrency}`);
  const bench = await startBenchStack({
    workers: settings.workers,
    workerConcurrency: settings.workerConcurrency,
    rateLimitPerMinute: 1_000_000,
    bedrock: settings.bedrock,
    user: settings.user,
    log,
    verbose: process.env.COT_BENCH_VERBOSE === '1',
    web: true,
  });
  let browser: Browser | undefined;
  let results: Results;
  try {
    browser = await launchBrowser();
    browser.on('disconnected', () => log('Chromium went away'));
    results = await measure(bench, browser);
  } finally {
    log('stopping');
    await browser?.close();
    await bench.stop();
  }
  const rows = report(results);
  if (bench.problems.length) process.stdout.write(`service warnings/errors: ${bench.problems.length} (see web-latest.json)\n`);
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  process.stdout.write(
    `\nDebian Chromium on loopback, ${os.availableParallelism()} cores, load average ${load}; simulated advisors: first token ${settings.bedrock.firstTokenDelayMs} ms, then a token every ${settings.bedrock.tokenDelayMs} ms; ${settings.workers} workers\n\n`,
  );
  process.stdout.write(`${formatRows(rows)}\n\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'web-latest.json');
  const summary = (d: DomDelays) => ({ dom: summarise(d.delays), socket: summarise(d.socket), render: summarise(d.render), emitted: d.emitted });
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        at: new Date(started).toISOString(),
        machine: { cores: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, loadAverage: os.loadavg(), node: process.version },
        settings,
        assets: results.assets,
        usableMs: { cold: summarise(results.usable.cold), reload: summarise(results.usable.reload), runs: results.usable },
        tokenToDomMs: { alone: summary(results.alone), concurrent: summary(results.concurrent) },
        mainThreadBusy: results.busy,
        rows,
        problems: bench.problems.slice(0, 50),
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`written to ${file} (${Math.round((Date.now() - started) / 1000)} s)\n`);
}

async function measure(bench: BenchStack, browser: Browser): Promise<Results> {
  const webUrl = bench.stack.webUrl;
  if (!webUrl) throw new Error('the stack serves no web app (is web/index.html there?)');
  const origin = new URL(webUrl).origin;
  const advisorOf = await advisorNames(bench);

  // First load, in an empty context: the landing page, then what signing in adds.
  log('first load and sign-in');
  const first = await newContext(browser, webUrl);
  const landing = await assetsLoadedBy(first.page, origin, async () => {
    await first.page.goto('/', { waitUntil: 'networkidle' });
  });
  const signIn = await assetsLoadedBy(first.page, origin, async () => {
    await first.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await signInAs(first.page, settings.user, { timeoutMs: WAIT_MS });
    await usableAfterMs(first.page, WAIT_MS);
  });
  const session = await first.page.evaluate(() => Object.entries(sessionStorage));

  log(`time to a usable asking page: ${settings.loadRuns} new contexts, ${settings.loadRuns} reloads`);
  const cold: number[] = [];
  const coldNavigation: Record<string, number>[] = [];
  for (let i = 0; i < settings.loadRuns; i++) {
    const { context, page } = await newContext(browser, webUrl, session);
    await page.goto('/');
    cold.push(await usableAfterMs(page, WAIT_MS));
    coldNavigation.push(await navigationTiming(page));
    await context.close();
  }
  const reload: number[] = [];
  for (let i = 0; i < settings.loadRuns; i++) {
    await first.page.reload();
    reload.push(await usableAfterMs(first.page, WAIT_MS));
  }

  // Every advisor answers numbered words, so the page's DOM says which token it shows.
  const answer = scriptedAnswer(settings.answerWords);
  bench.bedrock.replies.inject({ match: { kind: 'advise' }, text: answer, times: -1 });
  const questions = benchQuestions(1 + settings.aloneJobs + settings.concurrentPages);
  const watch = async (page: Page, jobId: string): Promise<DomDelays> => {
    const records = await pageRecords(page);
    return domDelays(bench.bedrock.callsOf(jobId), records, answer, advisorOf, { page: await pageClockOffset(page), local: localClockOffset() });
  };

  log('warm-up job (its page loads the Markdown renderer)');
  const jobPage = await assetsLoadedBy(first.page, origin, async () => {
    await prepare([first.page], [questions[0]!]);
    await askAll([first.page]);
  });

  log(`${settings.aloneJobs} jobs one at a time, each watched by one page`);
  const alone: DomDelays = { delays: [], socket: [], render: [], emitted: 0 };
  const aloneBusy: number[] = [];
  for (let i = 0; i < settings.aloneJobs; i++) {
    await prepare([first.page], [questions[1 + i]!]);
    const [jobId] = await busyWhile([first.page], (share) => aloneBusy.push(share), () => askAll([first.page]));
    merge(alone, await watch(first.page, jobId!));
  }

  log(`${settings.concurrentPages} jobs at once, each watched by its own page`);
  const many = await newContext(browser, webUrl, session);
  const pages = [many.page, ...(await Promise.all(Array.from({ length: settings.concurrentPages - 1 }, () => many.context.newPage())))];
  const concurrentQuestions = questions.slice(1 + settings.aloneJobs);
  await prepare(pages, concurrentQuestions);
  let concurrentBusy = NaN;
  const jobIds = await busyWhile(pages, (share) => (concurrentBusy = share), () => askAll(pages));
  const concurrent: DomDelays = { delays: [], socket: [], render: [], emitted: 0 };
  for (const [i, page] of pages.entries()) merge(concurrent, await watch(page, jobIds[i]!));
  await many.context.close();
  await first.context.close();

  const loaded = new Set(landing.map((a) => a.path));
  const fresh = (assets: Asset[]): Asset[] => {
    const out = assets.filter((a) => !loaded.has(a.path));
    for (const a of out) loaded.add(a.path);
    return out;
  };
  return { assets: { landing, signIn: fresh(signIn), jobPage: fresh(jobPage) }, usable: { cold, reload, coldNavigation }, alone, concurrent, busy: { alone: aloneBusy, concurrent: concurrentBusy } };
}

/** A new context (empty cache) with the probes, signed in when given a session's sessionStorage. */
async function newContext(browser: Browser, baseURL: string, session?: [string, string][]): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL, viewport: VIEWPORTS.desktop, locale: 'en-GB' });
  context.on('page', (page) => page.on('crash', () => log(`a page crashed at ${page.url()}`)));
  await installProbes(context);
  if (session) {
    // sessionStorage belongs to a tab: give every new tab the signed-in session before the app reads it.
    await context.addInitScript(
      ({ origin, entries }) => {
        if (location.origin !== origin) return;
        for (const [k, v] of entries) if (sessionStorage.getItem(k) === null) sessionStorage.setItem(k, v);
      },
      { origin: new URL(baseURL).origin, entries: session },
    );
  }
  return { context, page: await context.newPage() };
}

/** Opens the asking page in each page (a fresh document, so fresh probes) and types a question in each. */
async function prepare(pages: Page[], questions: string[]): Promise<void> {
  await Promise.all(
    pages.map(async (page, i) => {
      await page.goto('/');
      await usableAfterMs(page, WAIT_MS);
      await page.getByRole('textbox', { name: 'Your question' }).fill(questions[i]!);
    }),
  );
}

/** Asks in every prepared page at once and waits for every advice; resolves with the job ids. */
async function askAll(pages: Page[]): Promise<string[]> {
  await Promise.all(pages.map((page) => page.getByRole('button', { name: 'Ask the circle' }).click()));
  return Promise.all(
    pages.map(async (page) => {
      await page.waitForURL((url) => url.pathname.startsWith('/jobs/'), { timeout: WAIT_MS });
      await page.locator('main').getByText('The advice is ready.').first().waitFor({ timeout: WAIT_MS });
      return decodeURIComponent(new URL(page.url()).pathname.slice('/jobs/'.length));
    }),
  );
}

/** Runs `action` and reports the pages' main-thread seconds per second of it, summed over the pages (2.0 = two threads busy all along). */
async function busyWhile<T>(pages: Page[], report: (share: number) => void, action: () => Promise<T>): Promise<T> {
  const meters = await Promise.all(pages.map((page) => mainThreadMeter(page)));
  const started = performance.now();
  const result = await action();
  const seconds = (await Promise.all(meters.map((m) => m.seconds()))).reduce((s, x) => s + x, 0);
  report(seconds / ((performance.now() - started) / 1000));
  await Promise.all(meters.map((m) => m.stop()));
  return result;
}

/** `advise.<id>` → the advisor's name as the page shows it. */
async function advisorNames(bench: BenchStack): Promise<(step: string) => string | undefined> {
  const res = await fetch(`${bench.stack.apiUrl}/advisors`, { headers: { authorization: `Bearer ${bench.token}` } });
  if (!res.ok) throw new Error(`GET /advisors answered ${res.status}`);
  const circle = (await res.json()) as CircleSummary;
  const names = new Map(circle.advisors.map((a) => [`advise.${a.id}`, a.name]));
  return (step) => names.get(step);
}

function merge(into: DomDelays, more: DomDelays): void {
  into.delays.push(...more.delays);
  into.socket.push(...more.socket);
  into.render.push(...more.render);
  into.emitted += more.emitted;
}

function report(r: Results): Row[] {
  const size = (assets: Asset[], kind: Asset['kind']): string => {
    const t = totalOf(assets, kind);
    return t.files === 0 ? 'nothing new' : `${fmt(t.gzip / KB, 1)} KB gzip (${fmt(t.raw / KB, 1)} KB raw, ${t.files} file${t.files === 1 ? '' : 's'})`;
  };
  const landingJs = totalOf(r.assets.landing, 'js').gzip / KB;
  const ms = (s: Summary): string => `p50 ${fmt(s.p50)} ms, max ${fmt(s.max)} ms (n=${s.n})`;
  const dom = (d: DomDelays): Summary => summarise(d.delays);
  const delays = (d: DomDelays): string => {
    const toDom = summarise(d.delays);
    const toSocket = summarise(d.socket);
    const render = summarise(d.render);
    const share = (n: number) => (d.emitted ? `${Math.round((n / d.emitted) * 100)}%` : '–');
    return (
      `p50 ${fmt(toDom.p50, 1)} ms, p99 ${fmt(toDom.p99, 1)} ms, max ${fmt(toDom.max, 1)} ms (${share(d.delays.length)} of ${d.emitted} deltas); ` +
      `of which to the page's WebSocket p50 ${fmt(toSocket.p50, 1)} / p99 ${fmt(toSocket.p99, 1)} ms (${share(d.socket.length)}), ` +
      `WebSocket → DOM p50 ${fmt(render.p50, 1)} / p99 ${fmt(render.p99, 1)} ms`
    );
  };
  const alone = dom(r.alone);
  const coldNav = (key: string) => fmt(summarise(r.usable.coldNavigation.map((n) => n[key] ?? NaN).filter(Number.isFinite)).p50);
  return [
    { figure: 'first load (signed out): JavaScript', value: size(r.assets.landing, 'js'), goal: '≤ 150 KB gzip', met: landingJs <= 150 },
    { figure: 'first load (signed out): CSS', value: size(r.assets.landing, 'css'), goal: '' },
    { figure: 'signing in adds', value: `JS ${size(r.assets.signIn, 'js')}; CSS ${size(r.assets.signIn, 'css')}`, goal: '' },
    { figure: 'the first job page adds', value: `JS ${size(r.assets.jobPage, 'js')}; CSS ${size(r.assets.jobPage, 'css')}`, goal: '' },
    {
      figure: 'navigation → usable asking page, new context',
      value: `${ms(summarise(r.usable.cold))}; p50 of response end ${coldNav('responseEnd')} ms, DOM content loaded ${coldNav('domContentLoaded')} ms`,
      goal: '',
    },
    { figure: 'navigation → usable asking page, reload', value: ms(summarise(r.usable.reload)), goal: '' },
    { figure: 'token → page DOM, 1 job', value: delays(r.alone), goal: 'p99 ≤ 150 ms', met: alone.p99 !== undefined && alone.p99 <= 150 },
    { figure: "1 job: the page's main thread busy", value: `${r.busy.alone.map((b) => `${Math.round(b * 100)}%`).join(', ')} of each job (Ask → advice)`, goal: '' },
    { figure: `token → page DOM, ${settings.concurrentPages} jobs, ${settings.concurrentPages} pages`, value: delays(r.concurrent), goal: '' },
    { figure: `${settings.concurrentPages} jobs: the pages' main threads busy`, value: `${fmt(r.busy.concurrent, 2)} threads in all (Ask → last advice)`, goal: '' },
  ];
}

runBench('bench:web', main);
