import { withLogContext } from '../../shared/telemetry/log-context.js';
import type { ApiContext, ApiMiddleware } from './context.js';

/**
 * First in the chain: gives each request its own log context, which the request's trace id
 * and, once known, its job id join (see telemetry/log-context.ts), so every line the request
 * writes — the access log included — names them.
 */
export const logContext: ApiMiddleware = async function logContext(_ctx: ApiContext, next) {
  await withLogContext({}, next);
};
