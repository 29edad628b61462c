import { createHash, timingSafeEqual } from 'node:crypto';
import { WS_INTEGRATION_SECRET_HEADER } from '../../shared/contracts/ws.js';
import { ForbiddenError } from '../errors.js';
import type { ApiContext, ApiMiddleware } from './context.js';

/**
 * Serves a route only to the WebSocket API's integration, which adds the shared secret in
 * WS_INTEGRATION_SECRET_HEADER to every route request (API Gateway by request parameter
 * mapping, the local gateway itself). Anyone else, with or without a valid token, gets 403
 * before the route reads its body or a header it would trust (x-connection-id).
 */
export function integrationOnly(secret: string): ApiMiddleware {
  // Comparing digests keeps the comparison constant-time whatever the lengths.
  const expected = digest(secret);
  return async function integrationOnly(ctx: ApiContext, next) {
    const presented = ctx.get(WS_INTEGRATION_SECRET_HEADER);
    if (!presented || !timingSafeEqual(digest(presented), expected)) {
      throw new ForbiddenError('this route is served only to the WebSocket API');
    }
    await next();
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
