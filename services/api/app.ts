/**
 * The HTTP API as a Koa application. createApp only wires what it is given: it performs no
 * I/O and reads no environment, so tests build it with in-memory ports or real adapters.
 */
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import { Router } from '@koa/router';
import type { ApiConfig } from '../shared/config.js';
import type { Circle } from '../shared/circle/circle.js';
import type { JwtVerifier } from '../shared/auth/jwt-verifier.js';
import type { Logger } from '../shared/logging.js';
import type { Clock, ConnectionStore, JobQueue, JobStore, PushGateway, ResultStore, RunRecordStore, SnapshotStore, Tracer } from '../shared/ports/index.js';
import type { ApiContext, ApiState } from './middleware/context.js';
import { authenticate } from './middleware/authenticate.js';
import { errorBoundary } from './middleware/error-boundary.js';
import { jsonBody } from './middleware/json-body.js';
import { jobIdInLogContext, logContext } from './middleware/log-context.js';
import { rateLimit, TokenBuckets } from './middleware/rate-limit.js';
import { requestContext } from './middleware/request-context.js';
import { routeFallback } from './middleware/route-fallback.js';
import { securityHeaders } from './middleware/security-headers.js';
import { tracing } from './middleware/tracing.js';
import { listAdvisors } from './routes/advisors.routes.js';
import { createChat } from './routes/chat.routes.js';
import { healthz } from './routes/health.routes.js';
import { cancelJob, getJob, listJobs } from './routes/jobs.routes.js';
import { getTimeline } from './routes/timeline.routes.js';
import { wsConnect, wsDefault, wsDisconnect } from './routes/ws.routes.js';

export interface ApiDeps {
  jobs: JobStore;
  snapshots: SnapshotStore;
  results: ResultStore;
  queue: JobQueue;
  circle: Circle;
  verifier: JwtVerifier;
  logger: Logger;
  config: Pick<ApiConfig, 'maxQuestionChars' | 'rateLimitPerMinute'>;
  /** Defaults to the system clock. */
  clock?: Clock;
  /** Defaults to crypto.randomUUID (job ids must be UUIDs: the routes reject anything else). */
  newJobId?: () => string;
  /** The WebSocket API's backend (connections and the management endpoint); without it /ws/* is not served. */
  ws?: { connections: ConnectionStore; push: PushGateway };
  /** One trace segment per request; without it (COT_TRACING=off) nothing is traced. */
  tracer?: Tracer;
  /** The Runs table, for job timelines; without it a timeline shows only the committed transitions. */
  runs?: RunRecordStore;
}

/** Builds the API: request id + access log, tracing, error boundary, security headers, then the routes. */
export function createApp(deps: ApiDeps): Koa<ApiState> {
  const clock = deps.clock ?? { now: () => Date.now() };
  const app = new Koa<ApiState>();

  app.use(logContext);
  app.use(requestContext(deps.logger));
  if (deps.tracer) app.use(tracing(deps.tracer));
  app.use(errorBoundary);
  app.use(securityHeaders);
  app.use(routeFallback);
  const router = routes(deps, clock);
  app.use(router.routes());
  app.use(router.allowedMethods());

  app.on('error', (err: unknown, ctx?: ApiContext) => {
    deps.logger.error({ err, requestId: ctx?.state.requestId, method: ctx?.method, path: ctx?.path }, 'request failed');
  });
  return app;
}

/** Every route and its middleware chain, in one place; everything but /healthz is authenticated. */
function routes(deps: ApiDeps, clock: Clock): Router<ApiState> {
  const router = new Router<ApiState>();
  const auth = authenticate(deps.verifier);
  const chatLimit = rateLimit(new TokenBuckets(deps.config.rateLimitPerMinute, () => clock.now()));

  // Lines of a request about a job name it (ids are checked by the routes; only id-shaped ones are noted).
  router.param('id', jobIdInLogContext);
  router.get('/healthz', healthz);
  router.post(
    '/chat',
    auth,
    chatLimit,
    jsonBody(),
    createChat({
      jobs: deps.jobs,
      queue: deps.queue,
      circle: deps.circle,
      limits: { maxQuestionChars: deps.config.maxQuestionChars },
      now: () => clock.now(),
      newJobId: deps.newJobId ?? randomUUID,
      logger: deps.logger,
    }),
  );
  router.get('/jobs', auth, listJobs(deps));
  router.get('/jobs/:id', auth, getJob(deps));
  router.post('/jobs/:id/cancel', auth, cancelJob(deps));
  router.get('/jobs/:id/timeline', auth, getTimeline(deps));
  router.get('/advisors', auth, listAdvisors(deps.circle, { maxQuestionChars: deps.config.maxQuestionChars }));
  if (deps.ws) {
    // Called by the WebSocket API's integration, never by browsers; $connect checks the token itself.
    const wsDeps = { ...deps, ...deps.ws, now: () => clock.now() };
    router.post('/ws/connect', wsConnect(wsDeps));
    router.post('/ws/default', wsDefault(wsDeps));
    router.post('/ws/disconnect', wsDisconnect(wsDeps));
  }
  return router;
}
