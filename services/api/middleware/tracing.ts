import { SERVICE } from '../../shared/contracts/names.js';
import type { Span, Tracer } from '../../shared/ports/tracer.js';
import type { ApiContext, ApiMiddleware, RoutedContext } from './context.js';

/**
 * One trace segment per request, named for the service, annotated with the method, the
 * route pattern (`/jobs/:id`, not the path), the final status and the request id that ties
 * it to the access log. Nothing else: no URL or query (the WebSocket token can travel in
 * one), no headers, no body, no caller. It wraps the error boundary, so it sees the status
 * the client gets.
 */
export function tracing(tracer: Tracer): ApiMiddleware {
  return async function tracing(ctx: ApiContext, next) {
    // The load balancer's health checks (every 10 s from each of its nodes) would bury the real traces.
    if (ctx.path === '/healthz') {
      await next();
      return;
    }
    await tracer.segment(
      SERVICE.api,
      async (span) => {
        try {
          await next();
        } finally {
          span.annotate({ method: ctx.method, route: routeOf(ctx), status: ctx.status, requestId: ctx.state.requestId });
          flagStatus(span, ctx.status);
        }
      },
      // The sampling rules decide on method and path (every POST /chat: every job is traced).
      { request: { method: ctx.method, path: ctx.path } },
    );
  };
}

/** The pattern the router matched, or `(unmatched)`; never the raw path, whose ids would make every route unique. */
function routeOf(ctx: ApiContext): string {
  const matched = (ctx as RoutedContext)._matchedRoute;
  return matched === undefined ? '(unmatched)' : String(matched);
}

function flagStatus(span: Span, status: number): void {
  if (status === 429) span.flag('throttle');
  else if (status >= 500) span.flag('fault');
  else if (status >= 400) span.flag('error');
}
