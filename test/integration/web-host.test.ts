/**
 * The local web host over real HTTP, serving a real Vite build of a placeholder app: build
 * once and only when stale, one build at a time, a failed build leaves the last good one,
 * and the host's answers (fallback, types, caching, headers, config.json).
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebConfig } from '../../services/shared/contracts/web-config.js';
import { WebBuildError } from '../../services/local/web-host/errors.js';
import { BUILD_STAMP_FILE, ensureWebBuild, webSourceHash } from '../../services/local/web-host/web-build.js';
import { startWebHost, type WebHost } from '../../services/local/web-host/web-host.js';
import { createPlaceholderWebApp, type PlaceholderWebApp } from '../support/placeholder-web-app.js';

const CONFIG: WebConfig = {
  apiUrl: 'http://127.0.0.1:18080',
  wsUrl: 'ws://127.0.0.1:18081/local',
  oidc: { authority: 'http://127.0.0.1:18082', clientId: 'cot-web', scope: 'openid cot.api', resource: 'urn:circle-of-trust' },
  simulated: true,
};

let app: PlaceholderWebApp;
let host: WebHost;

beforeAll(() => {
  app = createPlaceholderWebApp();
});
afterAll(async () => {
  await host?.close();
  app?.remove();
});

const stamp = async (dir: string) => JSON.parse(await readFile(join(dir, 'dist', BUILD_STAMP_FILE), 'utf8')) as { hash: string };

describe('ensureWebBuild', () => {
  it('builds a missing dist/ once, however many callers ask at the same time', async () => {
    const results = await Promise.all([ensureWebBuild({ webDir: app.dir }), ensureWebBuild({ webDir: app.dir }), ensureWebBuild({ webDir: app.dir })]);
    expect(results.filter((r) => r.built)).toHaveLength(1);
    expect(new Set(results.map((r) => r.hash)).size).toBe(1);
    expect((await stamp(app.dir)).hash).toBe(results[0]!.hash);
    const assets = await readdir(join(app.dir, 'dist/assets'));
    expect(assets.some((f) => /^index-[\w-]+\.js$/.test(f))).toBe(true);
    expect(assets.some((f) => /^index-[\w-]+\.css$/.test(f))).toBe(true);
    // Nothing of the build's scratch space is left beside it.
    expect((await readdir(app.dir)).filter((f) => f.startsWith('.dist-'))).toEqual([]);
  });

  it('leaves an up-to-date build alone and rebuilds when a source changes', async () => {
    expect((await ensureWebBuild({ webDir: app.dir })).built).toBe(false);
    const before = await webSourceHash(app.dir);
    await writeFile(join(app.dir, 'src/style.css'), 'body { color: #111; }\n');
    const after = await ensureWebBuild({ webDir: app.dir });
    expect(after.hash).not.toBe(before);
    expect(after.built).toBe(true);
    expect((await stamp(app.dir)).hash).toBe(after.hash);
  });

  it('takes over a lock whose owner has died', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = dead.pid!;
    await new Promise((resolve) => dead.once('exit', resolve));
    await mkdir(join(app.dir, '.dist-lock'));
    await writeFile(join(app.dir, '.dist-lock/owner.json'), JSON.stringify({ pid, host: (await import('node:os')).hostname(), since: 'then' }));
    await writeFile(join(app.dir, 'src/extra.txt'), 'a change, so a build is due\n');
    expect((await ensureWebBuild({ webDir: app.dir })).built).toBe(true);
  });

  it('reports a failed build with Vite\'s output and keeps the last good build', async () => {
    const good = await stamp(app.dir);
    const main = join(app.dir, 'src/main.js');
    const source = await readFile(main, 'utf8');
    await writeFile(main, `import './does-not-exist.js';\n${source}`);
    try {
      const failure = await ensureWebBuild({ webDir: app.dir }).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(WebBuildError);
      expect((failure as Error).message).toMatch(/does-not-exist/);
      expect(await stamp(app.dir)).toEqual(good);
    } finally {
      await writeFile(main, source);
    }
  });
});

describe('web host', () => {
  beforeAll(async () => {
    host = await startWebHost({ port: 0 });
  });

  it('answers 503 until it is given a build', async () => {
    const res = await fetch(`${host.url}/`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const build = await ensureWebBuild({ webDir: app.dir });
    host.serve({ distDir: build.distDir, config: CONFIG });
    expect((await fetch(`${host.url}/`)).status).toBe(200);
  });

  it('serves index.html for the app\'s routes, uncached, under the CSP', async () => {
    const index = await (await fetch(`${host.url}/`)).text();
    for (const path of ['/', '/callback?code=x&state=y', '/jobs/3f0c2a1e-8b7d-4c5e-9f10-1a2b3c4d5e6f', '/history']) {
      const res = await fetch(`${host.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toBe(index);
    }
    expect(index).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
  });

  it('serves hashed assets with their type, cached for a year, and revalidates by ETag', async () => {
    const index = await (await fetch(`${host.url}/`)).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index)![1]!;
    const style = /href="(\/assets\/[^"]+\.css)"/.exec(index)![1]!;
    const js = await fetch(`${host.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await js.text()).toContain('/config.json');
    const css = await fetch(`${host.url}${style}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const again = await fetch(`${host.url}${script}`, { headers: { 'if-none-match': js.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('serves unhashed files from public/ with their type, revalidated every time', async () => {
    const icon = await fetch(`${host.url}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(icon.headers.get('cache-control')).toBe('no-cache');
    expect(await icon.text()).toMatch(/^<svg /);
  });

  it('answers 404 for a missing file, the build stamp and paths leaving the build', async () => {
    for (const path of ['/assets/index-missing.js', `/${BUILD_STAMP_FILE}`, '/%2e%2e/package.json', '/favicon.ico']) {
      const res = await fetch(`${host.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    }
  });

  it('serves config.json, uncached', async () => {
    const res = await fetch(`${host.url}/config.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.json()).toEqual(CONFIG);
  });

  it('sends the security headers on every answer, with a CSP that admits exactly the API, WebSocket and issuer origins', async () => {
    for (const path of ['/', '/config.json', '/assets/index-missing.js']) {
      const res = await fetch(`${host.url}${path}`);
      await res.body?.cancel();
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
      expect(directives.get('connect-src')).toEqual(["'self'", 'http://127.0.0.1:18080', 'ws://127.0.0.1:18081', 'http://127.0.0.1:18082']);
      expect(directives.get('script-src')).toEqual(["'self'"]);
      expect(directives.get('default-src')).toEqual(["'self'"]);
      expect(directives.get('object-src')).toEqual(["'none'"]);
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(csp).not.toMatch(/unsafe-(inline|eval)/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('refuses methods other than GET and HEAD', async () => {
    const res = await fetch(`${host.url}/`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${host.url}/history`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });
});
