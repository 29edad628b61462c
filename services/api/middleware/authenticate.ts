import { bearerToken, type JwtVerifier } from '../../shared/auth/jwt-verifier.js';
import type { ApiContext, ApiMiddleware } from './context.js';

/**
 * Requires a valid `Authorization: Bearer <JWT>`; the token's subject becomes the caller.
 * Failures are AuthErrors, which the error boundary answers with 401 and WWW-Authenticate.
 */
export function authenticate(verifier: JwtVerifier): ApiMiddleware {
  return async function authenticate(ctx: ApiContext, next) {
    const principal = await verifier.verify(bearerToken(ctx.get('authorization')));
    ctx.state.caller = { sub: principal.sub, scopes: principal.scopes };
    await next();
  };
}
