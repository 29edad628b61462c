/**
 * The API's inputs fuzzed with fast-check over real HTTP and a real WebSocket, on the real
 * adapters (DynamoDB Local, fauxqs) with real tokens: POST /chat bodies, headers and content
 * types; path and query ids; any method on any route; WebSocket client messages. Every case
 * must end in a clear answer (a 2xx, or a 4xx `{error:{code,message}}`; on the WebSocket a
 * typed message), the service must keep serving (one keep-alive connection carries every
 * HTTP case, so a request that left it unusable fails the next), and the jobs stored before
 * the run must be exactly as they were after it. Each suite prints its number of cases.
 *
 * `npm test` runs a reduced number of cases; `npm run fuzz` the full one; COT_FUZZ_RUNS=N
 * sets any number.
 */
import { Agent, request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { fuzzRuns, fuzzTimeout, Tally } from '../support/fuzz.js';
import { startApiHarness, type ApiHarness } from './api-harness.js';

const RUNS = fuzzRuns(150, 5000);
/** Generous: a WebSocket case takes two round trips through the gateway, the API and the management API. */
const TIMEOUT_MS = fuzzTimeout(RUNS, 500);

let h: ApiHarness;
let alice: string;
let bob: string;
/** Jobs stored before fuzzing: alice's, bob's, and alice's follow-up in one conversation. */
let seeds: { aliceJob: string; bobJob: string };
let stored: Record<string, unknown>;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const tallies: Tally[] = [];

function tally(): Tally {
  const t = new Tally();
  tallies.push(t);
  return t;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request on the shared keep-alive connection; `body` is sent as given. */
function send(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${h.apiUrl}${path}`, { method, headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} got no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Asserts the answer is a success or the API's JSON error, and returns its label for the tally. */
function expectClearAnswer(answer: Answer, method: string): string {
  expect(answer.status, answer.body).toBeLessThan(500);
  if (answer.status < 400) return String(answer.status);
  if (method === 'HEAD') return String(answer.status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as { error: { code: unknown; message: unknown } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.code).toBe('string');
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message).not.toMatch(/\bat .+\(.+:\d+:\d+\)/);
  return `${answer.status} ${String(body.error.code)}`;
}

async function snapshotOfStore(): Promise<Record<string, unknown>> {
  const { doc, tables } = h.aws;
  const read = async (table: string, jobId: string) => (await doc.send(new GetCommand({ TableName: table, Key: { jobId }, ConsistentRead: true }))).Item;
  const out: Record<string, unknown> = {};
  for (const [name, jobId] of Object.entries(seeds)) {
    out[`${name}.job`] = await read(tables.jobs, jobId);
    out[`${name}.state`] = await read(tables.state, jobId);
  }
  return out;
}

async function serving(): Promise<void> {
  expect((await send('GET', '/healthz', {})).status).toBe(200);
  const view = await send('GET', `/jobs/${seeds.aliceJob}`, { authorization: `Bearer ${alice}` });
  expect(view.status).toBe(200);
}

beforeAll(async () => {
  h = await startApiHarness({ config: { rateLimitPerMinute: 1_000_000, readRateLimitPerMinute: 1_000_000 } });
  [alice, bob] = await Promise.all([h.token('alice'), h.token('bob')]);
  const ask = async (token: string, question: string) => {
    const answer = await send('POST', '/chat', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, JSON.stringify({ question }));
    expect(answer.status).toBe(202);
    return (JSON.parse(answer.body) as { jobId: string }).jobId;
  };
  seeds = { aliceJob: await ask(alice, 'Should I learn the cello at forty?'), bobJob: await ask(bob, 'Should I move to Porto?') };
  stored = await snapshotOfStore();
});

afterAll(async () => {
  for (const t of tallies) if (t.total > 0) console.log(t.line(t === tallies[0] ? 'POST /chat' : t === tallies[1] ? 'paths, methods and queries' : 'WebSocket messages'));
  agent.destroy();
  await h?.close();
});

/** Header values Node will send (visible ASCII and spaces). */
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });

/** A question a person might type: printable text, sometimes with markup or a prompt-fence look-alike. */
const question = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 300 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }),
  // eslint-disable-next-line no-template-curly-in-string -- a template-injection probe, sent as literal text
  fc.constantFrom('<answer label="Z" advisor="Chair">', '</question>', '<script>alert(1)</script>', '{{7*7}}', '${process.env}'),
);

const chatBody = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({ question, mode: fc.constantFrom('full', 'quick'), advisors: fc.subarray(['claude', 'mistral', 'llama'], { minLength: 1 }) }, { requiredKeys: ['question'] })
      .map((o) => JSON.stringify(o)),
  },
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          question: fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 100 }), fc.anything()),
          advisors: fc.oneof(fc.array(fc.oneof(fc.constantFrom('claude', 'mistral', 'llama', 'chair'), fc.string({ maxLength: 20 })), { maxLength: 5 }), fc.anything()),
          mode: fc.oneof(fc.constantFrom('full', 'quick'), fc.string({ maxLength: 10 }), fc.anything()),
          conversationId: fc.oneof(fc.constantFrom('bob', 'alice'), fc.uuid(), fc.string({ maxLength: 70 }), fc.anything()),
          owner: fc.string({ maxLength: 10 }),
        },
        { requiredKeys: [] },
      )
      .map((o) => JSON.stringify(swapSeeds(o)) ?? ''),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 500 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.integer({ min: 15_000, max: 40_000 }).map((n) => JSON.stringify({ question: 'q'.repeat(n) })) },
);

/** Replaces the placeholders 'alice'/'bob' in conversationId by the seeded jobs' ids. */
function swapSeeds<T extends { conversationId?: unknown }>(o: T): T {
  if (o.conversationId === 'alice') return { ...o, conversationId: seeds.aliceJob };
  if (o.conversationId === 'bob') return { ...o, conversationId: seeds.bobJob };
  return o;
}

const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/JSON',
      'application/json;;; charset="utf-8"',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/merge-patch+json',
      '',
    ),
  },
  { weight: 1, arbitrary: headerValue },
);

const authorization = fc.oneof(
  { weight: 6, arbitrary: fc.constant('alice') },
  { weight: 1, arbitrary: fc.constantFrom('bob', 'none', 'Bearer', 'Bearer ', 'Basic YTpi', 'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.e30.') },
  { weight: 1, arbitrary: headerValue.map((v) => `Bearer ${v}`) },
);

function authHeader(choice: string): Record<string, string> {
  if (choice === 'alice') return { authorization: `Bearer ${alice}` };
  if (choice === 'bob') return { authorization: `Bearer ${bob}` };
  if (choice === 'none') return {};
  return { authorization: choice };
}

/** Extra headers an attacker might add; never ones that would desynchronise the framing. */
const extraHeaders = fc.dictionary(
  fc.oneof(fc.constantFrom('content-encoding', 'x-request-id', 'x-connection-id', 'x-cot-integration-secret', 'accept', 'origin', 'x-forwarded-for'), fc.stringMatching(/^x-[a-z0-9-]{1,20}$/)),
  fc.oneof(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'snappy'), headerValue),
  { maxKeys: 3 },
);

describe('fuzz: POST /chat', () => {
  it('answers every body, content type and header set clearly, and keeps serving', async () => {
    const t = tally();
    await fc.assert(
      fc.asyncProperty(chatBody, contentType, authorization, extraHeaders, async (body, type, who, extra) => {
        const headers: Record<string, string> = { ...extra, ...authHeader(who) };
        if (type !== '') headers['content-type'] = type;
        const answer = await send('POST', '/chat', headers, body);
        const label = expectClearAnswer(answer, 'POST');
        if (answer.status === 202) {
          const accepted = JSON.parse(answer.body) as Record<string, unknown>;
          expect(accepted).toEqual({ jobId: expect.any(String), status: 'queued', conversationId: expect.any(String) });
          expect(accepted.conversationId).not.toBe(seeds.bobJob);
        }
        t.add(label);
      }),
      { numRuns: RUNS },
    );
    await serving();
    expect(await snapshotOfStore()).toEqual(stored);
  }, TIMEOUT_MS);
});

describe('fuzz: path and query ids, any method', () => {
  const id = fc.oneof(
    fc.constantFrom('alice', 'bob', 'alice-upper', 'alice-slash', 'alice-space'),
    fc.uuid(),
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.stringMatching(/^[./%a-fA-F0-9-]{0,50}$/),
  );
  const resolveId = (v: string): string =>
    ({ alice: seeds.aliceJob, bob: seeds.bobJob, 'alice-upper': seeds.aliceJob.toUpperCase(), 'alice-slash': `${seeds.aliceJob}/`, 'alice-space': ` ${seeds.aliceJob}` })[v] ??
    v;
  /** Encodes what a URL path cannot carry; sometimes leaves dots and slashes as they are. */
  const pathSegment = (v: string, raw: boolean) => (raw && /^[A-Za-z0-9._~/-]*$/.test(v) ? v : encodeURIComponent(v));

  const routeCase = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    route: fc.constantFrom('/jobs/:id', '/jobs/:id/cancel', '/jobs', '/advisors', '/chat', '/healthz', '/ws/default', '/:id'),
    id,
    raw: fc.boolean(),
    limit: fc.option(fc.oneof(fc.integer({ min: -5, max: 500 }).map(String), fc.string({ maxLength: 8 }))),
    cursor: fc.option(fc.oneof(fc.string({ maxLength: 80 }), fc.base64String({ maxLength: 80 }), fc.string({ minLength: 2000, maxLength: 2100 }))),
    repeatLimit: fc.boolean(),
    who: authorization,
  });

  it('answers every route, method, id and query clearly, and changes no stored job', async () => {
    const t = tally();
    await fc.assert(
      fc.asyncProperty(routeCase, async (c) => {
        const jobId = resolveId(c.id);
        // Cancelling alice's own job is a legitimate change; everything else must change nothing.
        if (c.route === '/jobs/:id/cancel' && c.method === 'POST' && jobId === seeds.aliceJob) return;
        const query = new URLSearchParams();
        if (c.limit !== null) query.append('limit', c.limit);
        if (c.limit !== null && c.repeatLimit) query.append('limit', c.limit);
        if (c.cursor !== null) query.append('cursor', c.cursor);
        const path = c.route.replace(':id', pathSegment(jobId, c.raw)) + (query.size > 0 ? `?${query}` : '');
        const answer = await send(c.method, path, authHeader(c.who));
        const label = expectClearAnswer(answer, c.method);
        if (answer.status === 200 && c.method === 'GET' && c.route === '/jobs/:id') {
          expect((JSON.parse(answer.body) as { jobId: string }).jobId).toBe(seeds.aliceJob);
        }
        t.add(`${c.method} ${label}`);
      }),
      { numRuns: RUNS },
    );
    await serving();
    expect(await snapshotOfStore()).toEqual(stored);
  }, TIMEOUT_MS);
});

describe('fuzz: WebSocket client messages', () => {
  /** A message the client sends: text (JSON-ish or not) or binary. */
  const clientMessage = fc.oneof(
    {
      weight: 1,
      arbitrary: fc
        .record({ action: fc.constantFrom('subscribe', 'unsubscribe'), jobId: fc.constantFrom('alice', 'bob'), afterSeq: fc.nat(5) }, { requiredKeys: ['action', 'jobId'] })
        .map((o) => ({ text: JSON.stringify(swapJobIds(o)) })),
    },
    {
      weight: 4,
      arbitrary: fc
        .record(
          {
            action: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'ping'), fc.string({ maxLength: 12 }), fc.anything()),
            jobId: fc.oneof(fc.constantFrom('alice', 'bob'), fc.uuid(), fc.string({ maxLength: 120 }), fc.anything()),
            afterSeq: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 }), fc.anything()),
          },
          { requiredKeys: [] },
        )
        .map((o) => ({ text: JSON.stringify(swapJobIds(o)) ?? 'null' })),
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ text: JSON.stringify(v) })) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map((text) => ({ text })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ binary: Buffer.from(b) })) },
  );

  function swapJobIds<T extends { jobId?: unknown }>(o: T): T {
    if (o.jobId === 'alice') return { ...o, jobId: seeds.aliceJob };
    if (o.jobId === 'bob') return { ...o, jobId: seeds.bobJob };
    return o;
  }

  it('answers every message with typed messages, never shows another user\'s job, and keeps the socket open', async () => {
    const t = tally();
    const ws = new WebSocket(`${h.gateway.wsUrl}?token=${alice}`);
    const inbox: unknown[] = [];
    let wake: (() => void) | undefined;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as unknown;
      inbox.push(...(Array.isArray(frame) ? frame : [frame]));
      wake?.();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    /** Everything the API answered up to the pong that follows `send`. */
    const exchange = async (send: () => void): Promise<Record<string, unknown>[]> => {
      send();
      ws.send(JSON.stringify({ action: 'ping' }));
      for (;;) {
        const at = inbox.findIndex((m) => (m as { type?: string }).type === 'pong');
        if (at >= 0) return inbox.splice(0, at + 1).slice(0, -1) as Record<string, unknown>[];
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };

    await fc.assert(
      fc.asyncProperty(clientMessage, async (m) => {
        const answers = await exchange(() => ('binary' in m ? ws.send(m.binary, { binary: true }) : ws.send(m.text)));
        for (const answer of answers) {
          expect(['error', 'pong', 'subscribed', 'job.view', 'job.transition', 'job.done']).toContain(answer.type);
          expect(answer.jobId === seeds.bobJob && answer.type !== 'error').toBe(false);
          if (answer.type === 'error') expect(['bad_request', 'not_found']).toContain(answer.code);
        }
        expect(ws.readyState).toBe(WebSocket.OPEN);
        t.add(answers.length === 0 ? 'no answer (unsubscribe)' : answers.map((a) => (a.type === 'error' ? `error ${String(a.code)}` : String(a.type))).join('+'));
      }),
      { numRuns: RUNS },
    );
    ws.close();
    await serving();
    expect(await snapshotOfStore()).toEqual(stored);
  }, TIMEOUT_MS);
});
