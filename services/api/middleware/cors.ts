import { NotFoundError, OriginNotAllowedError } from '../errors.js';
import type { ApiContext } from './context.js';

/** What the web app sends: bearer tokens (no cookies, so no credentials mode) and JSON bodies. */
const ALLOWED_METHODS = ['GET', 'POST'] as const;
const ALLOWED_HEADERS = ['Authorization', 'Content-Type'] as const;
/** Browsers cap this anyway (Chromium: 2 h); ten minutes keeps a changed allow-list quick to apply. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

export interface CorsOptions {
  /** Exact origins (`scheme://host[:port]`) whose pages may read the API's answers. */
  origins: readonly string[];
  /** True when a browser-facing route serves `method` at `path` (preflights are answered for those only). */
  routeAllows(method: string, path: string): boolean;
}

/**
 * CORS with an allow-list: an allowed origin gets `Access-Control-Allow-Origin` set to
 * itself (never `*`) on every answer, errors included, and its preflights for real routes
 * a 204; any other origin gets no CORS header at all, and its preflights a 403. Requests
 * without `Origin` (curl, the CLI, the WebSocket gateway) pass untouched.
 */
export function cors(opts: CorsOptions) {
  const allowed = new Set(opts.origins);
  return async function corsAllowList(ctx: ApiContext, next: () => Promise<unknown>): Promise<void> {
    ctx.vary('Origin');
    const origin = ctx.get('Origin');
    if (!origin) return void (await next());
    const requestedMethod = ctx.get('Access-Control-Request-Method').toUpperCase();
    const preflight = ctx.method === 'OPTIONS' && requestedMethod !== '';
    if (!allowed.has(origin)) {
      if (preflight) throw new OriginNotAllowedError(origin);
      return void (await next());
    }
    ctx.set('Access-Control-Allow-Origin', origin);
    if (!preflight) return void (await next());

    ctx.vary('Access-Control-Request-Method');
    ctx.vary('Access-Control-Request-Headers');
    if (!(ALLOWED_METHODS as readonly string[]).includes(requestedMethod) || !opts.routeAllows(requestedMethod, ctx.path)) {
      throw new NotFoundError(`no route for ${requestedMethod} ${ctx.path}`);
    }
    ctx.set({
      'Access-Control-Allow-Methods': ALLOWED_METHODS.join(', '),
      'Access-Control-Allow-Headers': ALLOWED_HEADERS.join(', '),
      'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
    });
    ctx.status = 204;
  };
}
