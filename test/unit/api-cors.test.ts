import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { loadApiConfig } from '../../services/shared/config.js';
import { ConfigError } from '../../services/shared/errors.js';
import { silentLogger } from '../../services/shared/logging.js';
import { fakeVerifier, MemoryJobQueue, MemoryJobStore, MemoryResultStore, MemorySnapshotStore, serve } from './api-memory-ports.js';

const WEB = 'http://127.0.0.1:8085';
const OTHER_WEB = 'https://circle.example.org';
const JOB_ID = '3f0c2a1e-8b7d-4c5e-9f10-1a2b3c4d5e6f';

describe('COT_CORS_ORIGINS', () => {
  const base = { COT_JOB_QUEUE_URL: 'http://127.0.0.1:1/q', COT_OIDC_ISSUER: 'http://127.0.0.1:1', COT_OIDC_AUDIENCE: 'cot' };
  const origins = (value?: string) => loadApiConfig({ ...base, COT_CORS_ORIGINS: value }).corsOrigins;

  it('allows no origin when unset', () => {
    expect(origins()).toEqual([]);
    expect(origins('')).toEqual([]);
  });

  it('reads a comma-separated list and normalises each origin', () => {
    expect(origins(` ${WEB} , https://Circle.Example.org/, ${WEB}`)).toEqual([WEB, OTHER_WEB]);
    expect(origins('https://circle.example.org:443')).toEqual([OTHER_WEB]);
  });

  it.each([
    ['*', 'a wildcard'],
    ['https://circle.example.org/app', 'a path'],
    ['https://circle.example.org?x=1', 'a query'],
    ['https://user@circle.example.org', 'credentials'],
    ['ftp://circle.example.org', 'another scheme'],
    ['null', 'the opaque origin'],
    ['circle.example.org', 'a bare host'],
  ])('refuses %s (%s), naming the variable', (value) => {
    expect(() => origins(value)).toThrow(ConfigError);
    expect(() => origins(value)).toThrow(/COT_CORS_ORIGINS/);
  });
});

describe('cors middleware', () => {
  let api: { url: string; close(): Promise<void> };
  let closed: { url: string; close(): Promise<void> };

  const start = (corsOrigins?: string[]) => {
    const jobs = new MemoryJobStore();
    return serve(
      createApp({
        jobs,
        snapshots: new MemorySnapshotStore(jobs),
        results: new MemoryResultStore(),
        queue: new MemoryJobQueue(),
        circle: loadCircle(),
        verifier: fakeVerifier,
        logger: silentLogger(),
        config: { maxQuestionChars: 4000, rateLimitPerMinute: 1000, ...(corsOrigins ? { corsOrigins } : {}) },
      }),
    );
  };

  beforeAll(async () => {
    [api, closed] = await Promise.all([start([WEB, OTHER_WEB]), start()]);
  });
  afterAll(async () => {
    await Promise.all([api?.close(), closed?.close()]);
  });

  // A fresh connection per request: on a loaded machine a reused keep-alive socket may meet the server closing it (ECONNRESET).
  const fetch = (url: string, init: RequestInit = {}) => globalThis.fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), connection: 'close' } });
  const preflight = (url: string, path: string, origin: string, method = 'POST', headers = 'authorization,content-type') =>
    fetch(`${url}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
    });
  const corsHeaders = (res: Response) => {
    const names: string[] = [];
    res.headers.forEach((_value, name) => void (name.startsWith('access-control-') && names.push(name)));
    return names;
  };

  it.each([
    ['POST', '/chat'],
    ['GET', '/jobs'],
    ['GET', `/jobs/${JOB_ID}`],
    ['POST', `/jobs/${JOB_ID}/cancel`],
    ['GET', '/advisors'],
  ])('answers a preflight for %s %s from an allowed origin', async (method, path) => {
    const res = await preflight(api.url, path, WEB, method);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(WEB);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type');
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    // Bearer tokens, not cookies: no credentials mode, and no response header is exposed.
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toBeNull();
  });

  it('answers each allowed origin with itself, never with *', async () => {
    const res = await preflight(api.url, '/chat', OTHER_WEB);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(OTHER_WEB);
  });

  it('refuses a preflight from another origin with a 403 JSON error and no CORS header', async () => {
    const res = await preflight(api.url, '/chat', 'https://evil.example');
    expect(res.status).toBe(403);
    expect(corsHeaders(res)).toEqual([]);
    expect(await res.json()).toEqual({ error: { code: 'origin_not_allowed', message: expect.stringContaining('https://evil.example') } });
  });

  it('refuses every preflight when no origin is configured', async () => {
    const res = await preflight(closed.url, '/chat', WEB);
    expect(res.status).toBe(403);
    expect(corsHeaders(res)).toEqual([]);
  });

  it('answers a preflight for a route that does not exist with a 404', async () => {
    for (const [method, path] of [['GET', '/nowhere'], ['POST', '/jobs'], ['DELETE', `/jobs/${JOB_ID}`], ['POST', '/ws/connect']] as const) {
      const res = await preflight(api.url, path, WEB, method);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('access-control-allow-methods')).toBeNull();
    }
  });

  it('lets an allowed page read errors too, so it can tell a 401 from a network failure', async () => {
    const res = await fetch(`${api.url}/jobs`, { headers: { origin: WEB } });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(WEB);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('missing_token');
  });

  it('serves an allowed page its answers with the allow-origin header', async () => {
    const res = await fetch(`${api.url}/advisors`, { headers: { origin: WEB, authorization: 'Bearer user:alice' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(WEB);
    expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
  });

  it('answers other origins and clients without Origin as before, with no CORS header', async () => {
    for (const headers of [{ origin: 'https://evil.example' }, {}] as Record<string, string>[]) {
      const res = await fetch(`${api.url}/advisors`, { headers: { ...headers, authorization: 'Bearer user:alice' } });
      expect(res.status).toBe(200);
      expect(corsHeaders(res)).toEqual([]);
      expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    }
  });

  it('never gives an origin outside the allow-list a CORS header', async () => {
    const lookalikes = fc.oneof(
      fc.webUrl().map((u) => new URL(u).origin),
      fc.constantFrom('null', `${WEB}/`, `${WEB}.evil.example`, 'http://127.0.0.1:80850', 'http://localhost:8085', 'HTTP://127.0.0.1:8085', `${OTHER_WEB}:444`),
      fc.string({ maxLength: 40 }).filter((s) => /^[\x21-\x7e]+$/.test(s)),
    );
    await fc.assert(
      fc.asyncProperty(lookalikes, fc.boolean(), async (origin, isPreflight) => {
        fc.pre(origin !== WEB && origin !== OTHER_WEB);
        const res = isPreflight ? await preflight(api.url, '/chat', origin) : await fetch(`${api.url}/healthz`, { headers: { origin } });
        await res.body?.cancel();
        expect(corsHeaders(res)).toEqual([]);
        expect(res.status).toBe(isPreflight ? 403 : 200);
      }),
      { numRuns: 150 },
    );
  });
});
