import { toErrorResponse } from '../errors.js';
import type { ApiContext } from './context.js';

/**
 * The one error boundary: every error below it becomes `{error:{code,message}}` with the
 * status errors.ts assigns. Failures on our side are handed to app.on('error') for logging
 * with their cause; the caller sees only a generic message and the request id.
 */
export async function errorBoundary(ctx: ApiContext, next: () => Promise<unknown>): Promise<void> {
  try {
    await next();
  } catch (err) {
    const response = toErrorResponse(err, ctx.state.requestId);
    if (response.internal) {
      // Marked, so a dependency's ECONNRESET is not mistaken for a client hanging up.
      ctx.state.serverFault = err;
      ctx.app.emit('error', err, ctx);
    }
    if (ctx.headerSent) return;
    ctx.status = response.status;
    ctx.body = response.body;
    ctx.set(response.headers);
  }
}
