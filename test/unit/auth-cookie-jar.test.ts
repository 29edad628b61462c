import { describe, expect, it } from 'vitest';
import { CookieJar } from '../../services/local/oidc/cookie-jar.js';

function responseSetting(...cookies: string[]): Response {
  const headers = new Headers();
  for (const cookie of cookies) headers.append('set-cookie', cookie);
  return new Response(null, { headers });
}

describe('CookieJar', () => {
  const origin = 'http://127.0.0.1:4000';
  const now = 1_000_000;

  it('sends a cookie back only under its path', () => {
    const jar = new CookieJar();
    jar.store(new URL(`${origin}/auth`), responseSetting('_interaction=abc; path=/interaction/uid1; httponly', '_session=s1; path=/'), now);

    expect(jar.header(new URL(`${origin}/interaction/uid1`), now)).toBe('_interaction=abc; _session=s1');
    expect(jar.header(new URL(`${origin}/interaction/uid1/login`), now)).toBe('_interaction=abc; _session=s1');
    expect(jar.header(new URL(`${origin}/interaction/uid10`), now)).toBe('_session=s1');
    expect(jar.header(new URL(`${origin}/token`), now)).toBe('_session=s1');
  });

  it('forgets a cookie the server expires', () => {
    const jar = new CookieJar();
    jar.store(new URL(`${origin}/`), responseSetting('a=1; path=/', 'b=2; path=/'), now);
    jar.store(new URL(`${origin}/`), responseSetting('a=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT'), now);

    expect(jar.header(new URL(`${origin}/`), now)).toBe('b=2');
  });

  it('stops sending a cookie once its Max-Age has passed', () => {
    const jar = new CookieJar();
    jar.store(new URL(`${origin}/`), responseSetting('a=1; path=/; max-age=60'), now);

    expect(jar.header(new URL(`${origin}/`), now + 59_000)).toBe('a=1');
    expect(jar.header(new URL(`${origin}/`), now + 60_000)).toBeUndefined();
  });

  it('replaces a cookie set again', () => {
    const jar = new CookieJar();
    jar.store(new URL(`${origin}/`), responseSetting('a=1; path=/'), now);
    jar.store(new URL(`${origin}/`), responseSetting('a=2; path=/'), now);

    expect(jar.header(new URL(`${origin}/x`), now)).toBe('a=2');
  });
});
