import type { Logger } from '../../shared/logging.js';
import type { ApiContext } from './context.js';

/** Socket and parser failures a client causes by what it sends or by hanging up. */
const CLIENT_FAULT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** At most one info line about client faults per this many milliseconds; the rest go to debug. */
export const CLIENT_FAULT_LOG_INTERVAL_MS = 60_000;

/**
 * The handler for koa's 'error' event. Failures on our side are logged at error with their
 * cause. A client's own faults (malformed HTTP, data after `Connection: close`, a hang-up)
 * are not: any signed-in user could fill the error log with them. They are logged at debug,
 * plus one info line per interval that counts them. Their error objects are never logged:
 * a parser error carries the raw request bytes, bearer token included.
 */
export function requestErrorLog(logger: Logger, now: () => number = Date.now): (err: unknown, ctx?: ApiContext) => void {
  let windowStart = Number.NEGATIVE_INFINITY;
  let unreported = 0;
  return (err, ctx) => {
    const where = { requestId: ctx?.state.requestId, method: ctx?.method, path: ctx?.path };
    const code = ctx?.state.serverFault === err ? undefined : clientFaultCode(err);
    if (code === undefined) {
      logger.error({ err, ...where }, 'request failed');
      return;
    }
    logger.debug({ ...where, code }, 'client fault');
    const at = now();
    if (at - windowStart < CLIENT_FAULT_LOG_INTERVAL_MS) {
      unreported += 1;
      return;
    }
    logger.info({ ...where, code, earlierUnreported: unreported }, 'client fault (at most one such line a minute; the rest at debug)');
    windowStart = at;
    unreported = 0;
  };
}

/** The error's code if the client caused it (a socket or parser failure of its request), else undefined. */
function clientFaultCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, status, expose } = err as { code?: unknown; status?: unknown; expose?: unknown };
  if (typeof code === 'string' && (code.startsWith('HPE_') || CLIENT_FAULT_CODES.has(code))) return code;
  // http-errors raised for a client (e.g. raw-body's "request aborted") carry a 4xx status.
  if (typeof status === 'number' && status >= 400 && status < 500 && expose === true) return `HTTP_${status}`;
  return undefined;
}
