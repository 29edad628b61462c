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
import { systemClock } from '../shared/system.js';
import type { Clock, ConnectionStore, JobQueue, JobStore, PushGateway, ResultStore, RunRecordStore, SnapshotStore, Tracer } from '../shared/ports/index.js';
import type { ApiContext, ApiState } from './middleware/context.js';
import { authenticate } from './middleware/authenticate.js';
import { cors } from './middleware/cors.js';
import { errorBoundary } from './middleware/error-boundary.js';
import { requestErrorLog } from './middleware/error-log.js';
import { integrationOnly } from './middleware/integration-only.js';
import { jsonBody } from './middleware/json-body.js';
import { jobIdInLogContext, logContext } from './middleware/log-context.js';
import { rateLimit, TokenBuckets } from './middleware/rate-limit.js';
import { requestContext } from './middleware/request-context.js';
import { routeFallback } from './middleware/route-fallback.js';
import { securityHeaders } from './middleware/security-headers.js';
import { tracing } from './middleware/tracing.js';
import { unreadBody } from './middleware/unread-body.js';
import { listAdvisors } from './routes/advisors.routes.js';
import { createChat } from './routes/chat.routes.js';
import { healthz } from './routes/health.routes.js';
import { openApiDocument } from './routes/openapi.routes.js';
import { cancelJob, getJob, listJobs } from './routes/jobs.routes.js';
import { redriveJob } from './routes/redrive.routes.js';
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
  /** `corsOrigins` defaults to none (no browser page may read the API's answers); without readRateLimitPerMinute (tests) GET routes are not rate-limited; main.ts always sets both. */
  config: Pick<ApiConfig, 'maxQuestionChars' | 'rateLimitPerMinute'> & Partial<Pick<ApiConfig, 'corsOrigins' | 'readRateLimitPerMinute'>>;
  /** Defaults to the system clock. */
  clock?: Clock;
  /** Defaults to crypto.randomUUID (job ids must be UUIDs: the routes reject anything else). */
  newJobId?: () => string;
  /**
   * The WebSocket API's backend (connections and the management endpoint); without it /ws/*
   * is not served. Its routes answer only callers that present `integrationSecret`.
   */
  ws?: { connections: ConnectionStore; push: PushGateway; integrationSecret: string; maxConnectionsPerUser: number };
  /** One trace segment per request; without it (COT_TRACING=off) nothing is traced. */
  tracer?: Tracer;
  /** The Runs table, for job timelines; without it a timeline shows only the committed transitions. */
  runs?: RunRecordStore;
}

/** Builds the API: request id + access log, tracing, error boundary, security headers, CORS, then the routes. */
export function createApp(deps: ApiDeps): Koa<ApiState> {
  const clock = deps.clock ?? systemClock;
  const app = new Koa<ApiState>();

  app.use(logContext);
  app.use(requestContext(deps.logger));
  app.use(unreadBody());
  if (deps.tracer) app.use(tracing(deps.tracer));
  app.use(errorBoundary);
  app.use(securityHeaders);
  const browser = browserRoutes(deps, clock);
  app.use(cors({ origins: deps.config.corsOrigins ?? [], routeAllows: (method, path) => browser.match(path, method).route }));
  app.use(routeFallback);
  for (const router of [browser, ...(deps.ws ? [webSocketIntegrationRoutes(deps, deps.ws, clock)] : [])]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  app.on('error', requestErrorLog(deps.logger, () => clock.now()));
  return app;
}

/** The routes people's clients call, and their middleware chains; everything but /healthz is authenticated. */
function browserRoutes(deps: ApiDeps, clock: Clock): Router<ApiState> {
  const router = new Router<ApiState>();
  const auth = authenticate(deps.verifier);
  const chatLimit = rateLimit(new TokenBuckets(deps.config.rateLimitPerMinute, () => clock.now()));
  const readLimit = deps.config.readRateLimitPerMinute
    ? rateLimit(new TokenBuckets(deps.config.readRateLimitPerMinute, () => clock.now()))
    : async (_ctx: ApiContext, next: () => Promise<unknown>) => void (await next());

  // Lines of a request about a job name it (ids are checked by the routes; only id-shaped ones are noted).
  router.param('id', jobIdInLogContext);
  router.get('/healthz', healthz);
  router.get('/openapi.json', openApiDocument(deps.circle, { maxQuestionChars: deps.config.maxQuestionChars }));
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
  router.get('/jobs', auth, readLimit, listJobs(deps));
  router.get('/jobs/:id', auth, readLimit, getJob(deps));
  router.post('/jobs/:id/cancel', auth, cancelJob(deps));
  // A redrive calls models again, like a question: limited at the same rate, in a bucket of its own.
  const redriveLimit = rateLimit(new TokenBuckets(deps.config.rateLimitPerMinute, () => clock.now()));
  router.post('/jobs/:id/redrive', auth, redriveLimit, redriveJob({ ...deps, now: () => clock.now() }));
  router.get('/jobs/:id/timeline', auth, readLimit, getTimeline(deps));
  router.get('/advisors', auth, readLimit, listAdvisors(deps.circle, { maxQuestionChars: deps.config.maxQuestionChars }));
  return router;
}

/**
 * Called by the WebSocket API's integration only, never by browsers (so CORS never answers
 * for them), which proves itself with the shared secret; $connect checks the user's token itself.
 */
function webSocketIntegrationRoutes(deps: ApiDeps, ws: NonNullable<ApiDeps['ws']>, clock: Clock): Router<ApiState> {
  const router = new Router<ApiState>();
  const wsDeps = { ...deps, ...ws, now: () => clock.now() };
  const integration = integrationOnly(ws.integrationSecret);
  router.post('/ws/connect', integration, wsConnect(wsDeps));
  router.post('/ws/default', integration, wsDefault(wsDeps));
  router.post('/ws/disconnect', integration, wsDisconnect(wsDeps));
  return router;
}
