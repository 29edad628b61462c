import type { ApiContext, ApiMiddleware } from './context.js';

/** The largest unread rest of a request body the API reads and discards to keep a connection open. */
export const MAX_DISCARD_BYTES = 1024 * 1024;

/**
 * Settles a request body answered before it was read to its end: a 413 stops reading at
 * the limit, a 401 or 415 never starts. Left as it is, the rest blocks the connection: the
 * server reads no further, so a client that sends its next request on it waits until the
 * connection times out (RFC 9112 §9.6 asks for a close instead).
 *
 * A rest of known length up to `maxDiscardBytes` is read and discarded, and the
 * connection stays open for the next request. Any other rest (a chunked body, whose length
 * nobody knows yet, or a declared length not worth reading) gets `Connection: close`:
 * the client learns not to reuse the connection and the server closes it after answering.
 */
export function unreadBody(maxDiscardBytes = MAX_DISCARD_BYTES): ApiMiddleware {
  return async function unreadBody(ctx: ApiContext, next) {
    try {
      await next();
    } finally {
      if (!ctx.req.complete) settleRest(ctx, maxDiscardBytes);
    }
  };
}

function settleRest(ctx: ApiContext, maxDiscardBytes: number): void {
  const { req, res } = ctx;
  const declared = Number(req.headers['content-length']);
  if (!(Number.isFinite(declared) && declared <= maxDiscardBytes)) {
    // An answer already on its way can no longer say so; the connection is closed after it.
    if (ctx.headerSent) res.once('finish', () => req.socket.destroy());
    else ctx.set('Connection', 'close');
    return;
  }
  // A client that hangs up mid-body is no error of ours.
  req.on('error', () => undefined);
  req.on('data', () => undefined);
  req.resume();
}
