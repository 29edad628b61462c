/**
 * The HTTP API's routes, in one list. API Gateway forwards only the routes infra/ builds
 * from it, the OpenAPI description (services/api/openapi/) must document each one (the
 * compiler checks that), and test/unit/openapi.test.ts checks the koa router serves
 * exactly these. Adding a route starts here.
 */

export type HttpMethod = 'GET' | 'POST';

export interface HttpRoute {
  readonly method: HttpMethod;
  /** OpenAPI / API Gateway form: `/jobs/{id}`. */
  readonly path: string;
  /** False only for routes that read no user data. */
  readonly authenticated: boolean;
  /** One line, for the OpenAPI summary and infra's acknowledgements. */
  readonly summary: string;
}

export const HTTP_ROUTES = [
  { method: 'POST', path: '/chat', authenticated: true, summary: 'Ask the circle a question' },
  { method: 'GET', path: '/jobs', authenticated: true, summary: 'List your jobs, newest first' },
  { method: 'GET', path: '/jobs/{id}', authenticated: true, summary: 'The whole view of one of your jobs' },
  { method: 'POST', path: '/jobs/{id}/cancel', authenticated: true, summary: 'Cancel one of your jobs' },
  { method: 'POST', path: '/jobs/{id}/redrive', authenticated: true, summary: 'Run the failed steps of one of your failed jobs again' },
  { method: 'GET', path: '/jobs/{id}/timeline', authenticated: true, summary: 'What happened when in one of your jobs' },
  { method: 'GET', path: '/advisors', authenticated: true, summary: 'Who is in the circle, and what POST /chat accepts' },
  { method: 'GET', path: '/healthz', authenticated: false, summary: 'Liveness probe' },
  { method: 'GET', path: '/openapi.json', authenticated: false, summary: 'This description of the HTTP API (OpenAPI 3.1)' },
] as const satisfies readonly HttpRoute[];

type KeyOf<R> = R extends { method: infer M extends string; path: infer P extends string } ? `${M} ${P}` : never;

/** `GET /jobs/{id}`: one key per route. */
export type RouteKey = KeyOf<(typeof HTTP_ROUTES)[number]>;

export const routeKeyOf = (route: Pick<HttpRoute, 'method' | 'path'>): string => `${route.method} ${route.path}`;
