import { MethodNotAllowedError, NotFoundError } from '../errors.js';
import type { ApiContext } from './context.js';

/**
 * Turns the router's empty answers into JSON errors: no route → 404; a known path with the
 * wrong method → 405 with Allow (set by router.allowedMethods).
 */
export async function routeFallback(ctx: ApiContext, next: () => Promise<unknown>): Promise<void> {
  await next();
  if (ctx.body !== undefined && ctx.body !== null) return;
  if (ctx.status === 405 || ctx.status === 501) {
    const allowed = ctx.response.get('Allow').split(',').map((m: string) => m.trim()).filter(Boolean);
    throw new MethodNotAllowedError(ctx.method, allowed);
  }
  if (ctx.status === 404) throw new NotFoundError(`no route for ${ctx.method} ${ctx.path}`);
}
