/**
 * The web app in the whole local stack, seen from Debian's Chromium: the stack builds and
 * serves a placeholder app (the same path `npm start` takes for web/), whose page signs in
 * with authorization code + PKCE through the local provider's login page and calls the API
 * across origins under the host's CSP.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { WebConfig } from '../../services/shared/contracts/web-config.js';
import { withLocalStack } from '../support/local-stack.js';
import { axeViolations, confirmSignOut, pageProblems, saveScreenshot, signInAs, withBrowser } from '../support/browser.js';
import { createPlaceholderWebApp } from '../support/placeholder-web-app.js';

const app = createPlaceholderWebApp();
const local = withLocalStack({ workers: 0, web: { dir: app.dir } });
const web = withBrowser();
afterAll(() => app.remove());

/** Sign-in tests walk several pages and run axe: generous on a loaded 2-core machine (not a timing assertion). */
const SIGN_IN_TIMEOUT_MS = 150_000;

const webUrl = () => {
  const url = local.stack.webUrl;
  if (!url) throw new Error('the stack serves no web app');
  return url;
};

describe('web app in the local stack', () => {
  it('serves index.html to the browser at webUrl, with a config.json naming this stack\'s endpoints', async () => {
    const { page } = await web.newUser({ baseURL: webUrl() });
    const problems = pageProblems(page);
    const res = await page.goto('/');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');
    await page.getByText('signed out').waitFor();

    const config = (await page.evaluate(() => fetch('/config.json').then((r) => r.json()))) as WebConfig;
    const { stack } = local;
    expect(config).toEqual({
      apiUrl: stack.apiUrl,
      wsUrl: stack.wsUrl,
      oidc: { authority: stack.oidc.issuer, clientId: 'cot-web', scope: 'openid profile cot.api', resource: `urn:${stack.oidc.audience}` },
      simulated: true,
    });
    expect(config).toEqual(stack.webConfig);
    expect(problems).toEqual([]);
  });

  it('answers a deep link with the app and a missing asset with a 404', async () => {
    const { page } = await web.newUser({ baseURL: webUrl() });
    const deep = await page.goto('/jobs/x');
    expect(deep?.status()).toBe(200);
    await page.getByText('signed out').waitFor();
    expect(await page.title()).toBe('Circle of Trust (placeholder)');
    const missing = await page.request.get('/assets/index-missing.js');
    expect(missing.status()).toBe(404);
  });

  it('runs no inline script: the CSP blocks it and reports the violation', async () => {
    const { page } = await web.newUser({ baseURL: webUrl() });
    await page.goto('/');
    const violated = await page.evaluate(
      () =>
        new Promise<string>((resolve) => {
          document.addEventListener('securitypolicyviolation', (event) => resolve(event.effectiveDirective));
          const script = document.createElement('script');
          script.textContent = 'window.inlineScriptRan = true';
          document.head.append(script);
        }),
    );
    expect(violated).toBe('script-src-elem');
    expect(await page.evaluate(() => (window as unknown as { inlineScriptRan?: boolean }).inlineScriptRan)).toBeUndefined();
  });

  it('lets pages from the web origin call the API across origins, and only them', async () => {
    const origin = new URL(webUrl()).origin;
    const preflight = await fetch(`${local.stack.apiUrl}/chat`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);

    const { page } = await web.newUser({ baseURL: webUrl() });
    await page.goto('/');
    // A preflighted request (Authorization, JSON body) whose 401 the page can read.
    const answer = await page.evaluate(
      (api) =>
        fetch(`${api}/chat`, { method: 'POST', headers: { authorization: 'Bearer not-a-token', 'content-type': 'application/json' }, body: '{}' }).then(
          async (r) => ({ status: r.status, body: (await r.json()) as { error: { code: string } } }),
        ),
      local.stack.apiUrl,
    );
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('invalid_token');

    const foreign = await fetch(`${local.stack.apiUrl}/chat`, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:1', 'access-control-request-method': 'POST' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('signs a demo user in through the provider\'s login page and back to /callback with a code, then calls the API', async () => {
    const { page } = await web.newUser({ baseURL: webUrl() });
    const problems = pageProblems(page);
    await page.goto('/');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
    expect(await axeViolations(page)).toEqual([]);
    await saveScreenshot(page, 'web-host/provider-login');

    const callback = page.waitForRequest((req) => req.url().startsWith(`${webUrl()}/callback?`));
    await signInAs(page, 'alice');
    const params = new URL((await callback).url()).searchParams;
    expect(params.get('code')).toMatch(/^[\w-]{20,}$/);
    expect(params.get('iss')).toBe(local.stack.oidc.issuer);
    // The page redeems the code with its PKCE verifier at the token endpoint (CORS), calls the API
    // with the token (CORS) and pings the WebSocket API with it: all three origins the CSP admits.
    await page.getByText('signed in as alice; GET /jobs answered 200; WebSocket answered pong').waitFor();
    await saveScreenshot(page, 'web-host/signed-in');
    expect(problems).toEqual([]);
  }, SIGN_IN_TIMEOUT_MS);

  it('signs in a name typed on the login page, and signs out back to the app', async () => {
    const { page } = await web.newUser({ baseURL: webUrl() });
    await page.goto('/');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await signInAs(page, 'dave.k');
    await page.getByText('signed in as dave.k; GET /jobs answered 200; WebSocket answered pong').waitFor();

    const { end_session_endpoint: endSession } = (await (await fetch(`${local.stack.oidc.issuer}/.well-known/openid-configuration`)).json()) as {
      end_session_endpoint: string;
    };
    const logout = new URL(endSession);
    logout.searchParams.set('client_id', 'cot-web');
    logout.searchParams.set('post_logout_redirect_uri', `${webUrl()}/`);
    await page.goto(logout.href);
    expect(await axeViolations(page)).toEqual([]);
    await confirmSignOut(page);
    expect(page.url()).toBe(`${webUrl()}/`);
    await page.getByText('signed out').waitFor();

    // The provider's session is gone: signing in again asks for a name.
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
    await page.getByLabel('Username').waitFor();
  }, SIGN_IN_TIMEOUT_MS);
});
