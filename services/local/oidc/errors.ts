/** Typed errors of the local token client. Messages are readable and never contain a token or secret. */

/** The identity provider could not be reached or answered something the client cannot use. */
export class IdentityProviderError extends Error {
  override name = 'IdentityProviderError';
}

/** The identity provider refused the username at sign-in. */
export class LoginRejectedError extends Error {
  override name = 'LoginRejectedError';
  constructor(
    readonly username: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
