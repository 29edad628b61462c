/** Typed errors of authentication. Messages are safe to show a user and never contain a token. */

export type AuthErrorCode = 'missing_token' | 'invalid_token' | 'expired_token';

/** A request's credentials were absent or not acceptable; the API answers 401 with `code`. */
export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An issuer's OpenID configuration could not be fetched or is not usable. */
export class DiscoveryError extends Error {
  override name = 'DiscoveryError';
}
