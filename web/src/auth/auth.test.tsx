import { screen } from '@testing-library/react';
import type { INavigator } from 'oidc-client-ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Auth } from './auth';
import { fakeApi } from '../test/fake-network';
import { CONFIG, renderApp } from '../test/render-app';

const ISSUER = CONFIG.oidc.authority;

/** The provider's discovery and token endpoints, answering like oidc-provider. */
function fakeProvider() {
  const idp = fakeApi(ISSUER);
  const tokenRequests: URLSearchParams[] = [];
  idp.on('GET', '/.well-known/openid-configuration', {
    status: 200,
    body: { issuer: ISSUER, authorization_endpoint: `${ISSUER}/auth`, token_endpoint: `${ISSUER}/token`, end_session_endpoint: `${ISSUER}/session/end`, jwks_uri: `${ISSUER}/jwks` },
  });
  const payload = btoa(JSON.stringify({ sub: 'alice', preferred_username: 'alice', iss: ISSUER, aud: 'cot-web', iat: 1, exp: 9_999_999_999 })).replace(/=+$/, '');
  const fetchImpl: typeof fetch = async (input, init) => {
    if (String(input) === `${ISSUER}/token`) {
      tokenRequests.push(new URLSearchParams(String(init?.body)));
      return new Response(JSON.stringify({ access_token: 'jwt-for-the-api', id_token: `e30.${payload}.sig`, token_type: 'Bearer', expires_in: 3600, scope: 'openid cot.api' }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }
    return idp.fetch(input, init);
  };
  return { fetch: fetchImpl, tokenRequests };
}

/** Records where the app sends the browser instead of leaving the page. */
function recordingNavigator(): INavigator & { urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    prepare: async () => ({
      navigate: async ({ url }) => {
        urls.push(url);
        return { url };
      },
      close: () => undefined,
    }),
    callback: async () => undefined,
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe('Auth', () => {
  it('signs in with code + PKCE, asks for the API resource, and keeps nothing in localStorage', async () => {
    const provider = fakeProvider();
    vi.stubGlobal('fetch', provider.fetch);
    const redirect = recordingNavigator();
    const auth = new Auth(CONFIG.oidc, 'http://localhost:3000', { redirect });
    await auth.init();
    expect(auth.state.get()).toEqual({ status: 'signed-out' });

    await auth.signIn('/jobs/job-9');
    const authorize = new URL(redirect.urls[0]!);
    expect(authorize.origin + authorize.pathname).toBe(`${ISSUER}/auth`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: 'cot-web',
      response_type: 'code',
      redirect_uri: 'http://localhost:3000/callback',
      scope: 'openid cot.api',
      code_challenge_method: 'S256',
      resource: 'urn:circle-of-trust',
    });
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(localStorage.length).toBe(0);
    expect(Object.keys(sessionStorage).some((k) => k.startsWith('oidc.'))).toBe(true);
  });

  it('completes the sign-in on /callback, sends the resource and verifier, and leaves no ?code in the address bar', async () => {
    const provider = fakeProvider();
    vi.stubGlobal('fetch', provider.fetch);
    const redirect = recordingNavigator();
    const first = new Auth(CONFIG.oidc, 'http://localhost:3000', { redirect });
    await first.init();
    await first.signIn('/jobs/job-9');
    const state = new URL(redirect.urls[0]!).searchParams.get('state')!;

    // The provider sends the browser back; the page loads afresh at /callback.
    await renderApp(`/callback?code=the-code&state=${state}&iss=${encodeURIComponent(ISSUER)}`, { signedIn: false, api: fakeApi(CONFIG.apiUrl) });
    expect(await screen.findByText(/Loading the job|This job cannot be shown/)).toBeInTheDocument();
    expect(window.location.pathname).toBe('/jobs/job-9');
    expect(window.location.search).toBe('');
    expect(screen.getByRole('button', { name: 'Sign out' })).toBeInTheDocument();

    const token = provider.tokenRequests[0]!;
    expect(token.get('grant_type')).toBe('authorization_code');
    expect(token.get('code')).toBe('the-code');
    expect(token.get('resource')).toBe('urn:circle-of-trust');
    expect(token.get('code_verifier')).toMatch(/^[\w-]{43,128}$/);
    expect(localStorage.length).toBe(0);
  });

  it('signs out here and at the provider, coming back to the landing page', async () => {
    vi.stubGlobal('fetch', fakeProvider().fetch);
    await renderApp('/', { api: fakeApi(CONFIG.apiUrl) });
    const redirect = recordingNavigator();
    const auth = new Auth(CONFIG.oidc, 'http://localhost:3000', { redirect });
    await auth.init();
    expect(auth.state.get()).toEqual({ status: 'signed-in', name: 'alice' });
    await auth.signOut();
    expect(auth.state.get()).toEqual({ status: 'signed-out' });
    expect(Object.keys(sessionStorage).filter((k) => k.startsWith('oidc.user'))).toEqual([]);
    const end = new URL(redirect.urls[0]!);
    expect(end.origin + end.pathname).toBe(`${ISSUER}/session/end`);
    expect(end.searchParams.get('id_token_hint')).toBe('id-token-alice');
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe('http://localhost:3000/');
    expect(end.searchParams.has('resource')).toBe(false);
  });

  it('refuses a callback it did not start, and offers to sign in again', async () => {
    vi.stubGlobal('fetch', fakeProvider().fetch);
    await renderApp('/callback?code=stolen&state=unknown', { signedIn: false });
    expect(await screen.findByRole('heading', { name: 'Sign-in did not complete' })).toBeInTheDocument();
    expect(window.location.search).toBe('');
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeInTheDocument();
  });

  it('treats a stored session whose token ran out as expired', async () => {
    await renderApp('/', { expiresIn: -60, api: fakeApi(CONFIG.apiUrl) });
    expect(await screen.findByRole('button', { name: 'Sign in again' })).toBeInTheDocument();
    expect(screen.getByText(/Your session has expired/)).toBeInTheDocument();
  });
});
