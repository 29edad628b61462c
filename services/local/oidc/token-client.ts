/**
 * Gets access tokens from an OpenID provider by standard grants, without a browser:
 * authorization code with PKCE for a user (signing in through the provider's own form), and
 * client credentials for scripts. Used by `npm run token`, tests and the CLI.
 */
import { createHash, randomBytes } from 'node:crypto';
import { fetchOpenIdConfiguration, type OpenIdConfiguration } from '../../shared/auth/discovery.js';
import { DiscoveryError } from '../../shared/auth/errors.js';
import { CookieJar } from './cookie-jar.js';
import { IdentityProviderError, LoginRejectedError } from './errors.js';
import { alertText, firstForm } from './html-form.js';
import { API_SCOPES, CLI_REDIRECT_URI, CLIENT_IDS, apiResourceIndicator } from './oidc.constants.js';

export interface AccessTokenOptions {
  issuer: string;
  user: string;
  /** A public client allowed the code flow; default 'cot-cli'. */
  clientId?: string;
  /** The API audience; when unset the provider's default resource decides. */
  audience?: string;
  /** Must be registered for the client; default the CLI's loopback URI. */
  redirectUri?: string;
  /** Default 'openid' plus the API's scopes. */
  scope?: string;
}

export interface ClientCredentialsOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  audience?: string;
  /** Default: the API's scopes. */
  scope?: string;
}

const REQUEST_TIMEOUT_MS = 10_000;
/** Redirects and form posts a sign-in may take: authorize → login → resume → consent → resume → callback. */
const MAX_SIGN_IN_STEPS = 12;

/** An access token for `user`, by authorization code + PKCE (S256) through the provider's sign-in form. */
export async function getAccessToken(opts: AccessTokenOptions): Promise<string> {
  const config = await discover(opts.issuer);
  const endpoints = requireEndpoints(config);
  const clientId = opts.clientId ?? CLIENT_IDS.cli;
  const redirectUri = opts.redirectUri ?? CLI_REDIRECT_URI;
  const resource = opts.audience === undefined ? undefined : apiResourceIndicator(opts.audience);
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');

  const authorize = new URL(endpoints.authorization);
  appendParams(authorize.searchParams, {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: opts.scope ?? ['openid', ...API_SCOPES].join(' '),
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource,
  });

  const callback = await signIn(authorize, opts.user, redirectUri);
  const code = codeFrom(callback, { state, issuer: config.issuer });
  return requestToken(endpoints.token, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: clientId,
    code_verifier: verifier,
    resource,
  });
}

/** An access token for a confidential client itself (client credentials grant, `sub` = client id). */
export async function getClientCredentialsToken(opts: ClientCredentialsOptions): Promise<string> {
  const endpoints = requireEndpoints(await discover(opts.issuer));
  const basic = Buffer.from(`${formEncode(opts.clientId)}:${formEncode(opts.clientSecret)}`).toString('base64');
  return requestToken(
    endpoints.token,
    {
      grant_type: 'client_credentials',
      scope: opts.scope ?? API_SCOPES.join(' '),
      resource: opts.audience === undefined ? undefined : apiResourceIndicator(opts.audience),
    },
    { authorization: `Basic ${basic}` },
  );
}

async function discover(issuer: string): Promise<OpenIdConfiguration> {
  try {
    return await fetchOpenIdConfiguration(issuer);
  } catch (err) {
    if (err instanceof DiscoveryError) throw new IdentityProviderError(err.message, { cause: err });
    throw err;
  }
}

function requireEndpoints(config: OpenIdConfiguration): { authorization: string; token: string } {
  const { authorization_endpoint: authorization, token_endpoint: token } = config;
  if (!authorization || !token) {
    throw new IdentityProviderError(`the identity provider at ${config.issuer} publishes no authorization or token endpoint`);
  }
  return { authorization, token };
}

/**
 * Walks the sign-in as a browser would: follows redirects, fills the username into the
 * login form, submits any other form (consent) as it stands, and stops at the redirect to
 * `redirectUri`, which it returns without visiting.
 */
async function signIn(start: URL, user: string, redirectUri: string): Promise<URL> {
  const jar = new CookieJar();
  let request: { url: URL; method: 'GET' | 'POST'; body?: URLSearchParams } = { url: start, method: 'GET' };
  let loginSubmitted = false;

  for (let step = 0; step < MAX_SIGN_IN_STEPS; step += 1) {
    const response = await send(request.url, {
      method: request.method,
      body: request.body,
      redirect: 'manual',
      headers: withCookie(jar, request.url, request.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    });
    jar.store(request.url, response);

    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, request.url);
      if (isRedirectTo(next, redirectUri)) return next;
      request = { url: next, method: 'GET' };
      continue;
    }

    const html = await response.text();
    const form = firstForm(html, request.url);
    if (form?.fields.has('username')) {
      if (loginSubmitted) {
        throw new LoginRejectedError(user, `the identity provider rejected the username ${JSON.stringify(user)}: ${alertText(html) ?? `status ${response.status}`}`);
      }
      form.fields.set('username', user);
      loginSubmitted = true;
    }
    if (!response.ok || !form) {
      throw new IdentityProviderError(`sign-in failed at ${request.url.pathname}: ${alertText(html) ?? `status ${response.status}`}`);
    }
    const body = new URLSearchParams([...form.fields]);
    request = form.method === 'POST' ? { url: form.action, method: 'POST', body } : { url: withQuery(form.action, body), method: 'GET' };
  }
  throw new IdentityProviderError(`sign-in did not reach ${redirectUri} within ${MAX_SIGN_IN_STEPS} steps`);
}

/** The authorization code of a callback, after checking state and (RFC 9207) the issuer. */
function codeFrom(callback: URL, expected: { state: string; issuer: string }): string {
  const params = callback.searchParams;
  const error = params.get('error');
  if (error) {
    const description = params.get('error_description');
    throw new IdentityProviderError(`sign-in was refused: ${error}${description ? ` (${description})` : ''}`);
  }
  if (params.get('state') !== expected.state) throw new IdentityProviderError('sign-in answered with a different state; start again');
  const iss = params.get('iss');
  if (iss !== null && iss !== expected.issuer) throw new IdentityProviderError('sign-in answered from a different issuer');
  const code = params.get('code');
  if (!code) throw new IdentityProviderError('sign-in returned no authorization code');
  return code;
}

/** Posts a token request and returns the access token of a successful answer. */
async function requestToken(endpoint: string, params: Record<string, string | undefined>, headers: Record<string, string> = {}): Promise<string> {
  const body = new URLSearchParams();
  appendParams(body, params);
  const response = await send(new URL(endpoint), {
    method: 'POST',
    body,
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  });
  const answer = await response.json().catch(() => undefined) as Record<string, unknown> | undefined;
  if (!response.ok || !answer) {
    const reason = typeof answer?.error === 'string' ? `${answer.error}${typeof answer.error_description === 'string' ? ` (${answer.error_description})` : ''}` : `status ${response.status}`;
    throw new IdentityProviderError(`the token request failed: ${reason}`);
  }
  const token = answer.access_token;
  if (typeof token !== 'string' || token === '') throw new IdentityProviderError('the token response holds no access token');
  if (typeof answer.token_type !== 'string' || answer.token_type.toLowerCase() !== 'bearer') {
    throw new IdentityProviderError('the token response is not a bearer token');
  }
  return token;
}

async function send(url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new IdentityProviderError(`cannot reach the identity provider at ${url.origin}`, { cause: err });
  }
}

function withCookie(jar: CookieJar, url: URL, headers: Record<string, string>): Record<string, string> {
  const cookie = jar.header(url);
  return cookie ? { ...headers, cookie } : headers;
}

function isRedirectTo(url: URL, redirectUri: string): boolean {
  const target = new URL(redirectUri);
  return url.origin === target.origin && url.pathname === target.pathname;
}

function withQuery(url: URL, params: URLSearchParams): URL {
  const next = new URL(url);
  next.search = params.toString();
  return next;
}

function appendParams(target: URLSearchParams, params: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(params)) if (value !== undefined) target.append(key, value);
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 wants for Basic client credentials. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}
