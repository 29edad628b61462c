/**
 * What the local identity provider registers and what its clients send: client ids,
 * redirect URIs, the API's resource indicator and scopes, and the username rule. Shared by
 * the provider, the token client and the launcher so the two ends cannot drift apart.
 */

/** The API's audience (the `aud` of every access token) unless the launcher says otherwise. */
export const DEFAULT_AUDIENCE = 'circle-of-trust';

/** Scopes the API resource server offers; tokens carry the ones a client asked for. */
export const API_SCOPES = ['cot.api'] as const;

export const CLIENT_IDS = {
  /** The browser UI: public client, authorization code + PKCE. */
  web: 'cot-web',
  /** Command-line tools (`npm run token`, `npm run ask`): public client, code + PKCE, loopback redirect. */
  cli: 'cot-cli',
  /** Service-to-service scripts: confidential client, client credentials. */
  scripts: 'cot-scripts',
} as const;

/**
 * The CLI's loopback redirect URI. Loopback redirects of native clients match on any port
 * (RFC 8252 §7.3), so a tool may listen on an ephemeral port or, like the token client,
 * never listen at all and read the code from the redirect's Location header.
 */
export const CLI_REDIRECT_URI = 'http://127.0.0.1/callback';

/**
 * Redirect URIs registered for the web UI. Registered as loopback URIs of a native
 * client so that any port matches (a Vite dev server, a static server on port 0, …);
 * only the path must be one of these. More can be added with `webRedirectUris`.
 */
export const DEFAULT_WEB_REDIRECT_URIS = [
  'http://127.0.0.1/',
  'http://localhost/',
  'http://127.0.0.1/callback',
  'http://localhost/callback',
  'http://127.0.0.1/auth/callback',
  'http://localhost/auth/callback',
] as const;

/** Usernames of the local provider: no passwords, so the name is all there is. */
export const USERNAME_PATTERN = /^[a-z0-9._-]{1,64}$/;

/** USERNAME_PATTERN in words, for people. */
export const USERNAME_RULE = 'A username is 1 to 64 characters: lower-case letters, digits, ".", "_" or "-".';

/** Offered as one-click sign-ins on the login page; any other valid name works as well. */
export const DEMO_USERS = ['alice', 'bob', 'carol'] as const;

/** True when `name` is a username the local provider accepts. */
export function isValidUsername(name: string): boolean {
  return USERNAME_PATTERN.test(name);
}

/**
 * The RFC 8707 resource indicator that asks for tokens for `audience`. Indicators must be
 * absolute URIs while an audience may be any string (PingID's often are), so a plain
 * audience such as `circle-of-trust` is sent as `urn:circle-of-trust`; the token's `aud`
 * is still the audience itself.
 */
export function apiResourceIndicator(audience: string): string {
  return isAbsoluteUri(audience) ? audience : `urn:${audience}`;
}

function isAbsoluteUri(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(value) && URL.canParse(value);
}
