import type { ApiContext } from './context.js';

// A JSON API never renders in a browser frame, never loads subresources and is never cached.
const HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
};

/** Sets the security headers on every answer, errors included. */
export async function securityHeaders(ctx: ApiContext, next: () => Promise<unknown>): Promise<void> {
  ctx.set(HEADERS);
  await next();
}
