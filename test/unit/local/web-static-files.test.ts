import fc from 'fast-check';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CACHE_CONTROL, cacheControlOf, contentTypeOf, routeOf } from '../../../services/local/web-host/static-files.js';

describe('routeOf', () => {
  it.each(['/', '/callback', '/jobs/3f0c2a1e-8b7d-4c5e-9f10-1a2b3c4d5e6f', '/history', '/jobs/', '/assets'])('serves the app for its route %s', (path) => {
    expect(routeOf(path)).toEqual({ kind: 'app' });
  });

  it('serves files by their path inside the build', () => {
    expect(routeOf('/assets/index-IW7W9BLY.js')).toEqual({ kind: 'file', file: 'assets/index-IW7W9BLY.js' });
    expect(routeOf('/favicon.ico')).toEqual({ kind: 'file', file: 'favicon.ico' });
    expect(routeOf('/assets/a%20b.css')).toEqual({ kind: 'file', file: 'assets/a b.css' });
  });

  it('never serves hidden files or anything outside the build', () => {
    for (const path of ['/.cot-build.json', '/assets/.secret.js', '/../package.json', '/%2e%2e/package.json', '/assets/%2E%2E/%2E%2E/x.js', '/./index.html']) {
      expect(routeOf(path), path).toEqual({ kind: 'not-found' });
    }
    for (const path of ['/%E0%A4%A.js', '/a%00.js', '/a%5c..%5cb.js', 'index.html']) {
      expect(routeOf(path), path).toEqual({ kind: 'bad-request' });
    }
  });

  it('maps any request path to a file inside the build or to no file at all', () => {
    const segment = fc.oneof(fc.constantFrom('..', '.', '%2e%2e', '%2E.', 'assets', 'index.html', '.env', '%2f', '%5c', '%00'), fc.string({ maxLength: 12 }));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const route = routeOf(`/${segments.join('/')}`);
        if (route.kind !== 'file') return;
        const resolved = posix.normalize(`/dist/${route.file}`);
        expect(resolved.startsWith('/dist/')).toBe(true);
        expect(route.file.split('/').some((s) => s.startsWith('.'))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('cacheControlOf', () => {
  it('caches Vite\'s hashed assets for a year and makes everything else revalidate', () => {
    expect(cacheControlOf('/assets/index-IW7W9BLY.js')).toBe(CACHE_CONTROL.immutable);
    expect(CACHE_CONTROL.immutable).toMatch(/max-age=31536000.*immutable/);
    for (const path of ['/', '/index.html', '/config.json', '/favicon.ico', '/jobs/x']) expect(cacheControlOf(path)).toBe('no-cache');
  });
});

describe('contentTypeOf', () => {
  it('names the types a Vite build emits and never guesses HTML for unknown files', () => {
    expect(contentTypeOf('index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeOf('assets/index-x.js')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('assets/index-x.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeOf('assets/logo.SVG')).toBe('image/svg+xml');
    expect(contentTypeOf('assets/font.woff2')).toBe('font/woff2');
    expect(contentTypeOf('notes.unknown')).toBe('application/octet-stream');
  });
});
