/** The scripts and stylesheets a page downloads from the web app's origin, with their raw and gzip sizes. */
import { gzipSync } from 'node:zlib';
import type { Page, Response } from 'playwright-core';

export interface Asset {
  path: string;
  kind: 'js' | 'css';
  raw: number;
  /** gzip at zlib's default level, as `vite build` reports it. */
  gzip: number;
}

/** Runs `action` (a navigation, a click) and returns the JS and CSS files from `origin` that the page loaded meanwhile. */
export async function assetsLoadedBy(page: Page, origin: string, action: () => Promise<void>): Promise<Asset[]> {
  const pending: Promise<Asset | undefined>[] = [];
  const onResponse = (res: Response): void => {
    const type = res.request().resourceType();
    if (new URL(res.url()).origin !== origin || (type !== 'script' && type !== 'stylesheet')) return;
    pending.push(
      res.body().then(
        (body) => ({ path: new URL(res.url()).pathname, kind: type === 'script' ? 'js' : 'css', raw: body.length, gzip: gzipSync(body).length }),
        () => undefined,
      ),
    );
  };
  page.on('response', onResponse);
  try {
    await action();
  } finally {
    page.off('response', onResponse);
  }
  return (await Promise.all(pending)).filter((a): a is Asset => a !== undefined);
}

/** Total raw and gzip bytes of the assets of one kind. */
export function totalOf(assets: readonly Asset[], kind: Asset['kind']): { files: number; raw: number; gzip: number } {
  const of = assets.filter((a) => a.kind === kind);
  return { files: of.length, raw: of.reduce((n, a) => n + a.raw, 0), gzip: of.reduce((n, a) => n + a.gzip, 0) };
}
