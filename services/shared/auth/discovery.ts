/**
 * OpenID Connect Discovery: the issuer's metadata document, fetched from
 * `<issuer>/.well-known/openid-configuration` and checked to belong to that issuer.
 */
import { DiscoveryError } from './errors.js';

export interface OpenIdConfiguration {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  [key: string]: unknown;
}

const DISCOVERY_TIMEOUT_MS = 5000;

/** The discovery document's URL for `issuer` (OIDC Discovery §4: appended to the issuer's path). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** Fetches and checks the issuer's OpenID configuration; throws DiscoveryError with a readable reason. */
export async function fetchOpenIdConfiguration(issuer: string, timeoutMs = DISCOVERY_TIMEOUT_MS): Promise<OpenIdConfiguration> {
  const url = discoveryUrl(issuer);
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new DiscoveryError(`cannot reach the identity provider at ${issuer}`, { cause: err });
  }
  if (!response.ok) {
    throw new DiscoveryError(`the identity provider at ${issuer} answered ${response.status} to discovery`);
  }
  let doc: unknown;
  try {
    doc = await response.json();
  } catch (err) {
    throw new DiscoveryError(`the identity provider at ${issuer} sent a discovery document that is not JSON`, { cause: err });
  }
  return checkConfiguration(issuer, doc);
}

function checkConfiguration(issuer: string, doc: unknown): OpenIdConfiguration {
  if (!doc || typeof doc !== 'object') throw new DiscoveryError(`the discovery document of ${issuer} is not an object`);
  const config = doc as Record<string, unknown>;
  // A document naming another issuer would let that issuer's keys vouch for ours (OIDC Discovery §4.3).
  if (config.issuer !== issuer) {
    throw new DiscoveryError(`the discovery document of ${issuer} names a different issuer`);
  }
  for (const field of ['jwks_uri', 'authorization_endpoint', 'token_endpoint'] as const) {
    const value = config[field];
    if (value === undefined && field !== 'jwks_uri') continue;
    if (typeof value !== 'string' || !URL.canParse(value)) {
      throw new DiscoveryError(`the discovery document of ${issuer} has no valid ${field}`);
    }
  }
  return config as OpenIdConfiguration;
}
