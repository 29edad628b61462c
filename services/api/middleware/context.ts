/** What the API's middleware puts on `ctx.state`. */
import type { ParameterizedContext } from 'koa';
import type { RouterContext } from '@koa/router';

export interface Caller {
  /** The token subject: the owner of the jobs it creates. */
  sub: string;
  scopes: string[];
}

export interface ApiState {
  requestId: string;
  /** Set by `authenticate`; absent on public routes. */
  caller?: Caller;
  /** The failure on our side the error boundary answered with 500, for the error log. */
  serverFault?: unknown;
}

export type ApiContext = ParameterizedContext<ApiState>;
/** The context of a routed handler, with path parameters. */
export type RoutedContext = RouterContext<ApiState>;
export type ApiMiddleware = (ctx: ApiContext, next: () => Promise<unknown>) => Promise<void>;

/** The authenticated caller; only reachable behind `authenticate`, so absence is a wiring bug. */
export function callerOf(ctx: ApiContext | RoutedContext): Caller {
  const caller = ctx.state.caller;
  if (!caller) throw new Error('route is missing the authenticate middleware');
  return caller;
}
