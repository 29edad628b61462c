import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import type Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { type OpenApiDocument } from '../../services/api/openapi/openapi.document.js';
import { createChatRequestParser } from '../../services/api/schemas/chat.schema.js';
import { parseListJobsQuery } from '../../services/api/schemas/jobs.schema.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import type { ResultItem } from '../../services/shared/contracts/job.js';
import { HTTP_ROUTES } from '../../services/shared/contracts/routes.js';
import { resultRefsOf } from '../../services/shared/job-view.js';
import { silentLogger } from '../../services/shared/logging.js';
import { WEBSOCKET_BACKEND_PATHS } from '../../infra/lib/constructs/websocket-proxy-routes.js';
import { fakeVerifier, MemoryJobQueue, MemoryJobStore, MemoryResultStore, MemorySnapshotStore, serve } from './api-memory-ports.js';

const circle = loadCircle();
const limits = { maxQuestionChars: 4000 };
const jobs = new MemoryJobStore();
const snapshots = new MemorySnapshotStore(jobs);
const results = new MemoryResultStore();
const queue = new MemoryJobQueue();
const app = createApp({
  jobs,
  snapshots,
  results,
  queue,
  circle,
  verifier: fakeVerifier,
  logger: silentLogger(),
  config: { ...limits, rateLimitPerMinute: 3 },
  // The push backend is given so the WebSocket API's routes are registered too.
  ws: { connections: {} as never, push: {} as never, integrationSecret: 'x'.repeat(32), maxConnectionsPerUser: 20 },
});
let server: Awaited<ReturnType<typeof serve>>;
let served: OpenApiDocument;

beforeAll(async () => {
  server = await serve(app);
  const res = await send('GET', `${server.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  served = res.json() as OpenApiDocument;
});
afterAll(() => server.close());

/**
 * One request on a connection of its own: fetch reuses kept-alive sockets, and one the
 * server closes after an error answer (or when idle on a busy machine) can reset the next.
 */
function send(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, unknown>; json: () => unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: () => JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every (method, path) the koa router serves, in OpenAPI form (`/jobs/{id}`), without HEAD. */
function koaRoutes(koa: Koa<never>): string[] {
  // The API mounts more than one router (the browser's routes, the WebSocket integration's).
  const dispatches = koa.middleware.filter((m) => 'router' in m) as unknown as { router: { stack: { path: string; methods: string[] }[] } }[];
  return dispatches.flatMap((d) => d.router.stack).flatMap((layer) =>
    layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${layer.path.replace(/:(\w+)/g, '{$1}')}`),
  );
}

const documentedRoutes = (doc: OpenApiDocument) => Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));

/** A copy whose object schemas reject properties they do not list (the document itself stays open). */
function closed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(closed);
  if (typeof value !== 'object' || value === null) return value;
  const copy = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, closed(v)]));
  if ('properties' in copy && !('additionalProperties' in copy)) copy.additionalProperties = false;
  return copy;
}

function validatorOf(doc: OpenApiDocument, strict: boolean): (schema: string) => ValidateFunction {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ ...(strict ? (closed(doc) as object) : doc), $id: 'openapi' });
  return (schema) => ajv.getSchema(`openapi#/components/schemas/${schema}`)!;
}

describe('GET /openapi.json', () => {
  it('serves a valid OpenAPI 3.1 description whose references all resolve', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(served) as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    const refs = JSON.stringify(served).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const name = /#\/components\/schemas\/(\w+)/.exec(ref)?.[1];
      expect(name && served.components, ref).toBeTruthy();
      expect((served.components as { schemas: Record<string, unknown> }).schemas[name!], ref).toBeDefined();
    }
  });

  it('documents every route the API serves and no route it does not', () => {
    const websocketBackend = Object.values(WEBSOCKET_BACKEND_PATHS).map((path) => `POST ${path}`);
    const publicRoutes = koaRoutes(app as never).filter((r) => !websocketBackend.includes(r));
    expect(koaRoutes(app as never)).toEqual(expect.arrayContaining(websocketBackend));
    expect(documentedRoutes(served).sort()).toEqual(publicRoutes.sort());
    // The same list API Gateway forwards (infra builds its routes from HTTP_ROUTES; test/infra checks the template).
    expect(HTTP_ROUTES.map((r) => `${r.method} ${r.path}`).sort()).toEqual(publicRoutes.sort());
  });

  it('asks for a token on every route but the public ones, as the API does', async () => {
    for (const route of HTTP_ROUTES) {
      const op = served.paths[route.path]![route.method.toLowerCase()]!;
      expect(op.security, `${route.method} ${route.path}`).toEqual(route.authenticated ? undefined : []);
      const res = await send(route.method, `${server.url}${route.path.replace('{id}', '00000000-0000-4000-8000-000000000000')}`);
      expect(res.status === 401, `${route.method} ${route.path} without a token answered ${res.status}`).toBe(route.authenticated);
    }
    expect(served.security).toEqual([{ bearerAuth: [] }]);
  });

  it('describes every field of POST /chat, with the circle’s advisors and the question limit', () => {
    const schema = (served.components as { schemas: Record<string, { properties: Record<string, { description?: string; items?: { enum?: string[] } }> }> }).schemas.ChatRequest!;
    expect(Object.keys(schema.properties).sort()).toEqual(['advisors', 'conversationId', 'mode', 'question']);
    for (const [name, property] of Object.entries(schema.properties)) expect(property.description, name).toBeTruthy();
    expect(schema.properties.advisors!.items!.enum).toEqual(circle.advisors.map((a) => a.id));
    expect(schema.properties.question!.description).toContain('4000 characters');
  });
});

describe('the POST /chat schema', () => {
  const parse = createChatRequestParser(circle, limits);
  const accepts = (body: unknown) => {
    try {
      parse(body);
      return true;
    } catch {
      return false;
    }
  };
  const schema = () => validatorOf(served, false)('ChatRequest');
  const advisorIds = circle.advisors.map((a) => a.id);
  const field = <T>(valid: fc.Arbitrary<T>) => fc.option(fc.oneof(valid, fc.constant(null), fc.integer(), fc.string(), fc.array(fc.string())), { nil: undefined });
  const body = (question: fc.Arbitrary<unknown>) =>
    fc.record(
      {
        question,
        advisors: field(fc.subarray(advisorIds)),
        mode: field(fc.constantFrom('full', 'quick')),
        conversationId: field(fc.stringMatching(/^[A-Za-z0-9-]{1,64}$/)),
        extra: fc.option(fc.string(), { nil: undefined }),
      },
      { requiredKeys: [] },
    ).map((b) => Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)));

  it('accepts every body the validator accepts', () => {
    const validate = schema();
    fc.assert(
      fc.property(fc.oneof(body(fc.string()), fc.anything()), (b) => {
        if (accepts(b)) expect(validate(b), JSON.stringify(validate.errors)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects exactly what the validator rejects, apart from the question’s content', () => {
    const validate = schema();
    // Questions the validator takes whatever their length: printable, not blank, short.
    const plainQuestion = fc.stringMatching(/^[A-Za-z?][A-Za-z ?]{0,80}$/);
    fc.assert(
      fc.property(body(fc.oneof(plainQuestion, fc.constant(undefined))), (b) => {
        expect(validate(b), JSON.stringify(b)).toBe(accepts(b));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the GET /jobs parameters', () => {
  const parameters = () => served.paths['/jobs']!.get!.parameters as { name: string; schema: { minimum: number; maximum: number; default: number; maxLength: number } }[];

  it('accept the limits the validator accepts, with its default', () => {
    const limit = parameters().find((p) => p.name === 'limit')!.schema;
    for (let n = -5; n <= 1005; n++) {
      let ok = true;
      try {
        parseListJobsQuery({ limit: String(n) });
      } catch {
        ok = false;
      }
      expect(ok, `limit=${n}`).toBe(n >= limit.minimum && n <= limit.maximum);
    }
    expect(parseListJobsQuery({}).limit).toBe(limit.default);
    expect(() => parseListJobsQuery({ cursor: 'x'.repeat(parameters().find((p) => p.name === 'cursor')!.schema.maxLength + 1) })).toThrow();
  });
});

describe('the documented answers', () => {
  const as = (user: string | undefined, json = false) => ({
    ...(user ? { authorization: `Bearer user:${user}` } : {}),
    ...(json ? { 'content-type': 'application/json' } : {}),
  });
  const seen: { method: string; route: string; status: number; body: unknown }[] = [];

  async function call(method: string, path: string, route: string, user: string | undefined, body?: unknown, raw?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await send(method, `${server.url}${path}`, as(user, body !== undefined || raw !== undefined), raw ?? (body === undefined ? undefined : JSON.stringify(body)));
    const parsed = res.json() as Record<string, unknown>;
    seen.push({ method, route, status: res.status, body: parsed });
    return { status: res.status, body: parsed };
  }

  /** Puts the replay corpus' finished snapshot behind a job, with a stored result for every step. */
  function finish(jobId: string): void {
    const { snapshot } = JSON.parse(readFileSync(fileURLToPath(new URL('../../fixtures/snapshots/advisory-1/succeeded.json', import.meta.url)), 'utf8')) as {
      snapshot: { context: { labels: Record<string, Record<string, string>> } };
    };
    Object.assign(jobs.jobs.get(jobId)!, { status: 'succeeded', stage: 'done' });
    const state = Object.assign(jobs.states.get(jobId)!, { version: 12, machineVersion: 'advisory/1', snapshot: JSON.stringify(snapshot) });
    for (const ref of resultRefsOf(state)) {
      const [stepId = '', attempt = '1'] = ref.split('#');
      const advisorId = stepId.split('.')[1] ?? 'chair';
      const labels = Object.keys(snapshot.context.labels[advisorId] ?? {});
      const item: ResultItem = {
        jobId,
        stepKey: ref,
        stepId,
        attempt: Number(attempt),
        advisorId,
        modelId: 'm',
        text: `## ${stepId}\n\nSome **text**.`,
        usage: { inputTokens: 1, outputTokens: 1 },
        costUsd: 0.001,
        createdAt: '2025-01-01T10:00:00.000Z',
        expiresAt: 0,
      };
      if (stepId.startsWith('review.')) item.parsed = { kind: 'review', ranking: labels, critiques: Object.fromEntries(labels.map((l) => [l, 'fair'])) };
      if (stepId === 'synthesize') item.parsed = { kind: 'synthesis', recommendation: 'r', agreement: 'a', dissent: 'd', confidence: 'medium' };
      void results.putOnce(item);
    }
  }

  it('match what every route answers, for every status it answers', async () => {
    const first = await call('POST', '/chat', '/chat', 'alice', { question: 'Should I learn Rust?' });
    const second = await call('POST', '/chat', '/chat', 'alice', { question: 'And Go?', mode: 'quick', advisors: ['claude', 'llama'], conversationId: first.body.conversationId });
    // One user per refusal: POST /chat allows 3 a minute here.
    await call('POST', '/chat', '/chat', 'bob1', { question: 'x', extra: 1 });
    await call('POST', '/chat', '/chat', 'bob2', undefined, '{"question":');
    await call('POST', '/chat', '/chat', 'bob3', { question: 'x', advisors: ['nobody'] });
    await call('POST', '/chat', '/chat', 'bob4', { question: 'x', conversationId: first.body.jobId });
    // Just over the limit, as the other 413 tests send it: far over, the server may answer before the body is written and reset.
    await call('POST', '/chat', '/chat', 'bob5', { question: 'x'.repeat(17 * 1024) });
    const plain = await send('POST', `${server.url}/chat`, { ...as('bob6'), 'content-type': 'text/plain' }, 'hi');
    seen.push({ method: 'POST', route: '/chat', status: plain.status, body: plain.json() });
    for (let i = 0; i < 4; i++) await call('POST', '/chat', '/chat', 'dave', { question: 'Quickly?' });
    queue.failSend = new Error('down');
    await call('POST', '/chat', '/chat', 'erin', { question: 'Queued?' });
    queue.failSend = undefined;
    await call('POST', '/chat', '/chat', undefined, { question: 'x' });

    const firstId = first.body.jobId as string;
    const secondId = second.body.jobId as string;
    finish(firstId);
    const page = await call('GET', '/jobs?limit=1', '/jobs', 'alice');
    expect(page.body.cursor).toEqual(expect.any(String));
    await call('GET', `/jobs?limit=1&cursor=${encodeURIComponent(page.body.cursor as string)}`, '/jobs', 'alice');
    await call('GET', '/jobs?limit=0', '/jobs', 'alice');
    await call('GET', '/jobs?cursor=bogus', '/jobs', 'alice');
    await call('GET', '/jobs', '/jobs', undefined);

    const view = await call('GET', `/jobs/${firstId}`, '/jobs/{id}', 'alice');
    expect(view.body).toMatchObject({ status: 'succeeded', synthesis: { confidence: 'medium', text: expect.any(String) }, ranking: expect.any(Array) });
    await call('GET', `/jobs/${secondId}`, '/jobs/{id}', 'alice');
    await call('GET', `/jobs/${firstId}`, '/jobs/{id}', 'bob');
    await call('POST', `/jobs/${secondId}/cancel`, '/jobs/{id}/cancel', 'alice');
    await call('POST', `/jobs/${firstId}/cancel`, '/jobs/{id}/cancel', 'alice');
    await call('POST', `/jobs/${firstId}/cancel`, '/jobs/{id}/cancel', 'bob');
    Object.assign(jobs.jobs.get(secondId)!, { status: 'failed', stage: 'done', reason: 'None of the advisors answered.' });
    const redriven = await call('POST', `/jobs/${secondId}/redrive`, '/jobs/{id}/redrive', 'alice');
    expect(redriven).toEqual({ status: 202, body: { jobId: secondId, status: 'queued' } });
    expect(queue.sent.at(-1)).toBe(JSON.stringify({ jobId: secondId }));
    await call('POST', `/jobs/${secondId}/redrive`, '/jobs/{id}/redrive', 'alice');
    await call('POST', `/jobs/${firstId}/redrive`, '/jobs/{id}/redrive', 'bob');
    expect((await call('POST', `/jobs/${firstId}/redrive`, '/jobs/{id}/redrive', 'alice')).body).toEqual({
      error: { code: 'job_not_failed', message: 'only a failed job can be redriven; this one has succeeded' },
    });
    // Redrives are limited like questions (3 a minute here), in a bucket of their own.
    await call('POST', `/jobs/${firstId}/redrive`, '/jobs/{id}/redrive', 'alice');
    const timeline = await call('GET', `/jobs/${firstId}/timeline`, '/jobs/{id}/timeline', 'alice');
    expect(timeline.body).toMatchObject({ jobId: firstId, summary: { status: 'succeeded' } });
    await call('GET', `/jobs/${firstId}/timeline`, '/jobs/{id}/timeline', 'bob');
    await call('GET', '/advisors', '/advisors', 'alice');
    await call('GET', '/healthz', '/healthz', undefined);
    await call('DELETE', '/advisors', '/advisors', 'alice');

    const schemaOf = validatorOf(served, true);
    const statuses = new Map<string, Set<number>>();
    type Responses = Record<string, { content: { 'application/json': { schema: { $ref: string } } } }>;
    for (const { method, route, status, body } of seen) {
      const operations = served.paths[route]!;
      // A method the route does not have (405) is answered as any operation's `default`.
      const responses = (operations[method.toLowerCase()] ?? Object.values(operations)[0]!).responses as Responses;
      // Only 405 and 500 are left to `default`.
      if (!responses[String(status)]) expect([405, 500], `${method} ${route} answered an undocumented ${status}`).toContain(status);
      const ref = (responses[String(status)] ?? responses.default!).content['application/json'].schema.$ref;
      const validate = schemaOf(ref.split('/').pop()!);
      expect(validate(body), `${method} ${route} ${status}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(body).slice(0, 400)}`).toBe(true);
      statuses.set(route, (statuses.get(route) ?? new Set()).add(status));
    }
    expect([...statuses.get('/chat')!].sort((a, b) => a - b)).toEqual([202, 400, 401, 404, 413, 415, 429, 503]);
    expect([...statuses.get('/jobs')!].sort((a, b) => a - b)).toEqual([200, 400, 401]);
    expect([...statuses.get('/jobs/{id}')!].sort((a, b) => a - b)).toEqual([200, 404]);
    expect([...statuses.get('/jobs/{id}/cancel')!].sort((a, b) => a - b)).toEqual([202, 404, 409]);
    expect([...statuses.get('/jobs/{id}/timeline')!].sort((a, b) => a - b)).toEqual([200, 404]);
    expect([...statuses.get('/jobs/{id}/redrive')!].sort((a, b) => a - b)).toEqual([202, 404, 409, 429]);
    expect([...statuses.get('/advisors')!].sort((a, b) => a - b)).toEqual([200, 405]);
  });
});
