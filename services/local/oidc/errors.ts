/** Typed errors of the local token client. Messages are readable and never contain a token or secret. */
import { NamedError } from '../../shared/errors.js';

/** The identity provider could not be reached or answered something the client cannot use. */
export class IdentityProviderError extends NamedError {}

/** The identity provider refused the username at sign-in. */
export class LoginRejectedError extends NamedError {
  constructor(
    readonly username: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
