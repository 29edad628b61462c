/**
 * What `npm run bench:web` measures inside Chromium, installed in every page before the app's
 * own scripts run (an init script):
 *
 * - when the asking page became usable: the first moment the question box is in the page
 *   (it renders only once the session, config.json and the circle are loaded);
 * - when each streamed word of an advisor's answer reached the DOM: the answers are scripted
 *   as numbered words (`w0001 w0002 …`, see scriptedAnswer), and a MutationObserver notes
 *   the time whenever an answer panel's last word number goes up;
 * - when each step.delta reached the page's WebSocket (the network part of that delay).
 *
 * Times are the page's `performance.timeOrigin + performance.now()`; clockOffset() relates
 * them to the bench process's clock through Date.now(), which both read from the same
 * system clock on loopback.
 */
import type { BrowserContext, Page } from 'playwright-core';

/** An answer of `words` numbered words: every streamed delta is whole words whose numbers say where they are. */
export function scriptedAnswer(words: number): string {
  return Array.from({ length: words }, (_, i) => `w${String(i + 1).padStart(4, '0')}`).join(' ');
}

/** The number of the last whole word in a prefix of a scripted answer (0 when none). */
export function lastWordIn(prefix: string): number {
  const words = prefix.match(/w\d{4}/g);
  return words ? Number(words[words.length - 1]!.slice(1)) : 0;
}

/** A word that reached an answer panel: the advisor's name, the word's number, epoch ms on the page's clock. */
export type WordSeen = [advisor: string, word: number, at: number];

/** A step.delta the page's WebSocket received: `<stepId>#<attempt>`, the end of its text in the answer, epoch ms on the page's clock. */
export type DeltaReceived = [step: string, end: number, at: number];

interface ProbeWindow {
  __usableAt?: number;
  __wordsSeen?: WordSeen[];
  __deltasReceived?: DeltaReceived[];
}

/** Installs the probes in every page of the context from its next navigation on. */
export async function installProbes(context: BrowserContext): Promise<void> {
  // tsx (esbuild's keepNames) wraps named functions in a `__name` helper, which a function
  // serialized into the page refers to but the page does not have.
  await context.addInitScript({ content: 'globalThis.__name ??= (fn) => fn;' });
  await context.addInitScript(() => {
    const w = window as unknown as ProbeWindow;
    const seen: WordSeen[] = [];
    w.__wordsSeen = seen;
    const highest: Record<string, number> = {};
    const look = (): void => {
      if (w.__usableAt === undefined && document.querySelector('main textarea')) w.__usableAt = performance.now();
      for (const el of Array.from(document.querySelectorAll('[aria-label^="Answer from "]'))) {
        const words = (el.textContent ?? '').match(/w\d{4}/g);
        if (!words) continue;
        const n = Number(words[words.length - 1]!.slice(1));
        const advisor = (el.getAttribute('aria-label') ?? '').slice('Answer from '.length);
        if (n <= (highest[advisor] ?? 0)) continue;
        highest[advisor] = n;
        seen.push([advisor, n, performance.timeOrigin + performance.now()]);
      }
    };
    new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true });

    // Each step.delta as the page's WebSocket receives it (before the app handles it).
    const received: DeltaReceived[] = [];
    w.__deltasReceived = received;
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener('message', (event: MessageEvent) => {
          const at = performance.timeOrigin + performance.now();
          if (typeof event.data !== 'string' || !event.data.includes('step.delta')) return;
          const parsed = JSON.parse(event.data) as unknown;
          for (const m of (Array.isArray(parsed) ? parsed : [parsed]) as { type?: string; stepId?: string; attempt?: number; offset?: number; text?: string }[]) {
            if (m.type === 'step.delta') received.push([`${m.stepId}#${m.attempt}`, (m.offset ?? 0) + (m.text ?? '').length, at]);
          }
        });
      }
    };
  });
}

/** Milliseconds from the navigation's start to a usable asking page, once it is usable. */
export async function usableAfterMs(page: Page, timeoutMs: number): Promise<number> {
  const handle = await page.waitForFunction(() => (window as unknown as ProbeWindow).__usableAt, undefined, { timeout: timeoutMs });
  return Number(await handle.jsonValue());
}

/** Every word seen in the page's answer panels, and every step.delta its WebSocket received, since it loaded. */
export async function pageRecords(page: Page): Promise<{ words: WordSeen[]; deltas: DeltaReceived[] }> {
  return page.evaluate(() => {
    const w = window as unknown as ProbeWindow;
    return { words: w.__wordsSeen ?? [], deltas: w.__deltasReceived ?? [] };
  });
}

/** Milestones of the page's navigation (ms from its start), from the Navigation Timing API. */
export async function navigationTiming(page: Page): Promise<Record<string, number>> {
  return page.evaluate((): Record<string, number> => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
    if (!nav) return {};
    return { responseEnd: nav.responseEnd, domInteractive: nav.domInteractive, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd };
  });
}

/**
 * `Date.now() − (timeOrigin + performance.now())` on the page: add it to a page time to get
 * wall-clock ms. Sampled over 30 ms and averaged, so Date.now()'s whole milliseconds
 * average out the same way as on the bench's side (localClockOffset).
 */
export async function pageClockOffset(page: Page): Promise<number> {
  return page.evaluate(() => {
    const samples: number[] = [];
    const end = performance.now() + 30;
    while (performance.now() < end) samples.push(Date.now() - (performance.timeOrigin + performance.now()));
    return samples.reduce((s, x) => s + x, 0) / samples.length;
  });
}

/** The same offset for the bench process's clock (stats.nowMs). */
export function localClockOffset(): number {
  const samples: number[] = [];
  const end = performance.now() + 30;
  while (performance.now() < end) samples.push(Date.now() - (performance.timeOrigin + performance.now()));
  return samples.reduce((s, x) => s + x, 0) / samples.length;
}

/** Reads how many seconds the page's main thread has spent running tasks (script, style, layout, paint) since the meter started, from Chromium's own metrics. */
export async function mainThreadMeter(page: Page): Promise<{ seconds(): Promise<number>; stop(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const read = async (): Promise<number> => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')?.value ?? NaN;
  const start = await read();
  return { seconds: async () => (await read()) - start, stop: () => cdp.detach() };
}
