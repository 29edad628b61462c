/**
 * Verifies OAuth 2.0 JWT access tokens (PingID in AWS, the local provider in development)
 * against the issuer's published keys: signature, algorithm allow-list, issuer, audience,
 * expiry, and issue time (not in the future beyond the clock tolerance). Every failure is an AuthError whose message can be shown to the caller.
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { ConfigError } from '../errors.js';
import { fetchOpenIdConfiguration } from './discovery.js';
import { AuthError } from './errors.js';

export interface VerifierOptions {
  issuer: string;
  audience: string;
  /** Where the signing keys are; discovered from the issuer (and cached) when unset. */
  jwksUrl?: string;
  /** Accepted JWS algorithms; 'none' is never accepted. */
  algorithms: string[];
  /** Leeway for exp/nbf/iat against clock skew; default 30 seconds. */
  clockToleranceSeconds?: number;
}

export interface Principal {
  sub: string;
  scopes: string[];
  claims: Record<string, unknown>;
}

export interface JwtVerifier {
  verify(token: string): Promise<Principal>;
}

const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
const JWKS_TIMEOUT_MS = 5000;

const MESSAGES = {
  missing: 'an access token is required',
  malformed: 'the access token is malformed',
  algorithm: 'the access token is signed with an algorithm this service does not accept',
  signature: 'the access token signature is not valid',
  expired: 'the access token has expired; sign in again',
  issuer: 'the access token was not issued by the expected identity provider',
  audience: 'the access token is not meant for this service',
  notYetValid: 'the access token is not valid yet',
  issuedInFuture: 'the access token was issued in the future; check the clocks of this device and the identity provider',
  keysUnavailable: "the identity provider's signing keys could not be fetched; try again later",
  unverifiable: 'the access token could not be verified',
} as const;

/** A verifier for access tokens of one issuer and audience. */
export function createJwtVerifier(opts: VerifierOptions): JwtVerifier {
  const algorithms = checkAlgorithms(opts.algorithms);
  const clockTolerance = opts.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  const keys = remoteKeySet(opts);

  return {
    async verify(token: string): Promise<Principal> {
      if (typeof token !== 'string' || token.trim() === '') throw new AuthError('missing_token', MESSAGES.missing);
      // Cheap checks first, so garbage and unacceptable algorithms never cost a key fetch.
      checkHeader(token, algorithms);
      const getKey = await keys();
      try {
        const { payload } = await jwtVerify(token, getKey, {
          issuer: opts.issuer,
          audience: opts.audience,
          algorithms,
          requiredClaims: ['sub', 'exp'],
          clockTolerance,
        });
        // jose checks iat only together with maxTokenAge; a token from the future is forged or from a broken clock.
        if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + clockTolerance) {
          throw new AuthError('invalid_token', MESSAGES.issuedInFuture);
        }
        return principalOf(payload);
      } catch (err) {
        throw toAuthError(err);
      }
    },
  };
}

/** The token of an `Authorization: Bearer <token>` header; AuthError('missing_token') otherwise. */
export function bearerToken(header: string | undefined): string {
  const match = /^\s*bearer\s+([^\s]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) {
    throw new AuthError('missing_token', 'send the access token as "Authorization: Bearer <token>"');
  }
  return match[1];
}

function checkAlgorithms(algorithms: string[]): string[] {
  const allowed = algorithms.map((a) => a.trim()).filter((a) => a !== '');
  if (allowed.some((a) => a.toLowerCase() === 'none')) {
    throw new ConfigError('the JWT algorithm allow-list must not contain "none"');
  }
  if (allowed.length === 0) throw new ConfigError('the JWT algorithm allow-list is empty');
  return allowed;
}

function checkHeader(token: string, algorithms: string[]): void {
  let alg: unknown;
  try {
    ({ alg } = decodeProtectedHeader(token));
  } catch (err) {
    throw new AuthError('invalid_token', MESSAGES.malformed, { cause: err });
  }
  if (token.split('.').length !== 3) throw new AuthError('invalid_token', MESSAGES.malformed);
  if (typeof alg !== 'string' || !algorithms.includes(alg)) throw new AuthError('invalid_token', MESSAGES.algorithm);
}

/**
 * The issuer's key set, resolved once. jose caches keys and refetches when a token names an
 * unknown `kid` (key rotation). A failed discovery is not cached, so the next request retries.
 */
function remoteKeySet(opts: VerifierOptions): () => Promise<JWTVerifyGetKey> {
  let pending: Promise<JWTVerifyGetKey> | undefined;
  const resolve = async (): Promise<JWTVerifyGetKey> => {
    const jwksUrl = opts.jwksUrl ?? (await fetchOpenIdConfiguration(opts.issuer)).jwks_uri;
    return createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: JWKS_TIMEOUT_MS });
  };
  return () => {
    pending ??= resolve().catch((err: unknown) => {
      pending = undefined;
      throw new AuthError('invalid_token', MESSAGES.keysUnavailable, { cause: err });
    });
    return pending;
  };
}

function principalOf(payload: JWTPayload): Principal {
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new AuthError('invalid_token', MESSAGES.malformed);
  return { sub: payload.sub, scopes: scopesOf(payload), claims: { ...payload } };
}

/** RFC 9068 `scope` (space-separated) or the `scp` array some providers send instead. */
function scopesOf(payload: JWTPayload): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter(Boolean);
  if (Array.isArray(payload.scp)) return payload.scp.filter((s): s is string => typeof s === 'string');
  if (typeof payload.scp === 'string') return payload.scp.split(' ').filter(Boolean);
  return [];
}

function toAuthError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  const fail = (code: 'invalid_token' | 'expired_token', message: string) => new AuthError(code, message, { cause: err });
  if (err instanceof joseErrors.JWTExpired) return fail('expired_token', MESSAGES.expired);
  if (err instanceof joseErrors.JWTClaimValidationFailed) return fail('invalid_token', claimMessage(err));
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return fail('invalid_token', MESSAGES.algorithm);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) {
    return fail('invalid_token', MESSAGES.signature);
  }
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return fail('invalid_token', MESSAGES.malformed);
  if (isKeyFetchFailure(err)) return fail('invalid_token', MESSAGES.keysUnavailable);
  return fail('invalid_token', MESSAGES.unverifiable);
}

function claimMessage(err: InstanceType<typeof joseErrors.JWTClaimValidationFailed>): string {
  if (err.reason === 'missing') return `the access token lacks the "${err.claim}" claim`;
  switch (err.claim) {
    case 'iss':
      return MESSAGES.issuer;
    case 'aud':
      return MESSAGES.audience;
    case 'nbf':
      return MESSAGES.notYetValid;
    default:
      return MESSAGES.unverifiable;
  }
}

/** Network errors, timeouts and bad JWKS responses while fetching keys. */
function isKeyFetchFailure(err: unknown): boolean {
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) return true;
  // fetch() rejects with a TypeError ('fetch failed') when the JWKS host is unreachable, and
  // jose with a plain JOSEError when the JWKS endpoint answers something other than 200.
  if (err instanceof TypeError && err.message === 'fetch failed') return true;
  return err instanceof joseErrors.JOSEError && err.code === 'ERR_JOSE_GENERIC';
}
