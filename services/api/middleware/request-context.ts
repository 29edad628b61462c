import { randomUUID } from 'node:crypto';
import type { Logger } from '../../shared/logging.js';
import type { ApiContext, ApiMiddleware } from './context.js';

// A caller-supplied id (e.g. from API Gateway) is kept only if it is plainly an id.
const INCOMING_ID = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * Gives every request an id (echoed as X-Request-Id) and writes one access-log line when
 * it ends. It wraps the error boundary, so the line carries the final status. Only method,
 * path, status, duration and subject are logged: never headers, query strings or bodies.
 */
export function requestContext(logger: Logger): ApiMiddleware {
  return async function requestContext(ctx: ApiContext, next) {
    const incoming = ctx.get('x-request-id');
    const requestId = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    logger.debug({ requestId, method: ctx.method, path: ctx.path }, 'request started');
    try {
      await next();
    } finally {
      logger.info(
        {
          requestId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
          sub: ctx.state.caller?.sub,
        },
        'request',
      );
    }
  };
}
