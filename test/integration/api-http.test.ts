/**
 * The API over real HTTP with the real adapters against DynamoDB Local and fauxqs, and real
 * access tokens from the local OpenID provider. Tokens the provider cannot issue (expired,
 * foreign audience or issuer) are signed with a test key that the API's JWKS URL also
 * publishes, next to the provider's own keys, so each is rejected for its claim alone.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, base64url, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createApp } from '../../services/api/app.js';
import { createJwtVerifier } from '../../services/shared/auth/jwt-verifier.js';
import { fetchOpenIdConfiguration } from '../../services/shared/auth/discovery.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import type { JobItem, JobSummary, JobView } from '../../services/shared/contracts/job.js';
import { silentLogger } from '../../services/shared/logging.js';
import { startOidcProvider, type LocalOidcProvider } from '../../services/local/oidc/provider.js';
import { getAccessToken } from '../../services/local/oidc/token-client.js';
import { apiStores, startAwsLocal, type AwsLocal } from '../support/aws-local.js';
import { badChatRequests, expectRejected, sendChat } from '../unit/api-bad-requests.js';

const MAX_QUESTION_CHARS = 500;

let aws: AwsLocal;
let provider: LocalOidcProvider;
let keys: TestKeys;
let api: { url: string; close(): Promise<void> };
let alice: string;
let bob: string;

interface TestKeys {
  jwksUrl: string;
  sign(payload: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

/** Serves the provider's keys plus one test key, so the test can sign tokens the provider would not issue. */
async function startTestKeys(providerJwksUri: string): Promise<TestKeys> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const testJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'api-test-key', alg: 'RS256', use: 'sig' };
  const server = createServer((_req, res) => {
    fetch(providerJwksUri)
      .then((r) => r.json() as Promise<{ keys: JWK[] }>)
      .then((jwks) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [...jwks.keys, testJwk] }));
      })
      .catch(() => {
        res.writeHead(502).end();
      });
  });
  const port = await listen(server);
  return {
    jwksUrl: `http://127.0.0.1:${port}/jwks`,
    sign: (payload) => signWith(privateKey, payload),
    close: () => close(server),
  };
}

function signWith(key: CryptoKey, payload: JWTPayload): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'api-test-key' }).sign(key);
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const subOf = (token: string): string =>
  (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub: string }).sub;

beforeAll(async () => {
  [aws, provider] = await Promise.all([startAwsLocal(), startOidcProvider()]);
  keys = await startTestKeys((await fetchOpenIdConfiguration(provider.issuer)).jwks_uri);
  const app = createApp({
    ...apiStores(aws),
    circle: loadCircle(),
    verifier: createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, jwksUrl: keys.jwksUrl, algorithms: ['RS256', 'PS256', 'ES256'] }),
    logger: silentLogger(),
    config: { maxQuestionChars: MAX_QUESTION_CHARS, rateLimitPerMinute: 1000 },
  });
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's request handler never rejects: it answers errors itself
  const server = createServer(app.callback());
  const port = await listen(server);
  api = { url: `http://127.0.0.1:${port}`, close: () => close(server) };
  [alice, bob] = await Promise.all([
    getAccessToken({ issuer: provider.issuer, user: 'alice', audience: provider.audience }),
    getAccessToken({ issuer: provider.issuer, user: 'bob', audience: provider.audience }),
  ]);
});

afterAll(async () => {
  await api?.close();
  await keys?.close();
  await provider?.close();
  await aws?.stop();
});

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

async function request(token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${api.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json, headers: res.headers };
}

async function ask(token: string, question = 'Should I take the job in Lisbon?'): Promise<string> {
  const res = await request(token, 'POST', '/chat', { question });
  expect(res.status).toBe(202);
  return res.body.jobId as string;
}

/** Receives (and deletes) what is in the job queue now; a short long-poll is how SQS says "empty". */
async function drainQueue(): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.jobQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const messages = out.Messages ?? [];
    if (messages.length === 0) return bodies;
    for (const m of messages) {
      bodies.push(m.Body ?? '');
      await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: aws.jobQueueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

async function jobCount(): Promise<number> {
  const out = await aws.doc.send(new ScanCommand({ TableName: aws.tables.jobs, Select: 'COUNT' }));
  return out.Count ?? 0;
}

describe('POST /chat over HTTP', () => {
  it('stores the job and its State item, enqueues one message and answers 202', async () => {
    await drainQueue();

    const res = await request(alice, 'POST', '/chat', { question: 'Should I take the job in Lisbon?', advisors: ['mistral', 'claude'] });

    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: expect.any(String), status: 'queued', conversationId: res.body.jobId });
    const jobId = res.body.jobId as string;
    const job = (await aws.doc.send(new GetCommand({ TableName: aws.tables.jobs, Key: { jobId } }))).Item as JobItem | undefined;
    expect(job).toMatchObject({ jobId, owner: subOf(alice), question: 'Should I take the job in Lisbon?', advisors: ['claude', 'mistral'], status: 'queued' });
    const state = (await aws.doc.send(new GetCommand({ TableName: aws.tables.state, Key: { jobId } }))).Item;
    expect(state).toMatchObject({ jobId, version: 0, epoch: 0 });
    expect(await drainQueue()).toEqual([JSON.stringify({ jobId })]);
  });
});

describe('GET /jobs/{id} and POST /jobs/{id}/cancel over HTTP', () => {
  it("shows the owner the job view and answers anyone else 404, even for cancel", async () => {
    const jobId = await ask(alice);

    const own = await request(alice, 'GET', `/jobs/${jobId}`);
    const foreign = await request(bob, 'GET', `/jobs/${jobId}`);
    const foreignCancel = await request(bob, 'POST', `/jobs/${jobId}/cancel`);

    expect(own.status).toBe(200);
    const view = own.body as unknown as JobView;
    expect(view).toMatchObject({ jobId, status: 'queued', stage: 'queued', seq: 0 });
    expect(view.advisors.map((a) => a.id)).toEqual(['claude', 'mistral', 'llama']);
    expect(foreign.status).toBe(404);
    expect(foreignCancel.status).toBe(404);
    expect(foreign.body).toEqual(foreignCancel.body);
    const state = (await aws.doc.send(new GetCommand({ TableName: aws.tables.state, Key: { jobId } }))).Item;
    expect(state?.cancelRequested).toBeUndefined();
  });

  it("flags the owner's cancel in the State table for the worker", async () => {
    const jobId = await ask(alice);

    const res = await request(alice, 'POST', `/jobs/${jobId}/cancel`);

    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId, status: 'cancelling' });
    const state = (await aws.doc.send(new GetCommand({ TableName: aws.tables.state, Key: { jobId } }))).Item;
    expect(state).toMatchObject({ cancelRequested: true, cancelReason: expect.any(String) });
    const view = await request(alice, 'GET', `/jobs/${jobId}`);
    expect((view.body as unknown as JobView).notes).toContain('Cancellation requested; the circle is stopping.');
  });
});

describe('GET /jobs over HTTP', () => {
  it("lists only the caller's jobs, newest first, through the cursor", async () => {
    const carol = await getAccessToken({ issuer: provider.issuer, user: 'carol', audience: provider.audience });
    const created: string[] = [];
    for (const n of [1, 2, 3, 4, 5]) created.push(await ask(carol, `carol's question ${n}`));
    await ask(bob, "bob's question");

    const seen: JobSummary[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await request(carol, 'GET', `/jobs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.items as JobSummary[]));
      cursor = res.body.cursor as string | undefined;
      pages++;
    } while (cursor && pages < 10);

    expect(seen.map((j) => j.jobId)).toEqual([...created].reverse());
    expect(seen[0]).toMatchObject({ status: 'queued', stage: 'queued', mode: 'full', questionPreview: "carol's question 5" });
    expect(pages).toBe(3);
  });

  it('gives no cursor with the last page, also when it is exactly full', async () => {
    const dana = await getAccessToken({ issuer: provider.issuer, user: 'dana', audience: provider.audience });
    for (const n of [1, 2, 3, 4]) await ask(dana, `dana's question ${n}`);

    const first = await request(dana, 'GET', '/jobs?limit=2');
    const second = await request(dana, 'GET', `/jobs?limit=2&cursor=${encodeURIComponent(first.body.cursor as string)}`);
    const whole = await request(dana, 'GET', '/jobs?limit=4');

    expect(first.body.cursor).toEqual(expect.any(String));
    expect((second.body.items as JobSummary[]).map((j) => j.questionPreview)).toEqual(["dana's question 2", "dana's question 1"]);
    expect(second.body).not.toHaveProperty('cursor');
    expect(whole.body.items).toHaveLength(4);
    expect(whole.body).not.toHaveProperty('cursor');
  });

  it("rejects another listing's cursor and a forged one with 400 invalid_cursor", async () => {
    const carol = await getAccessToken({ issuer: provider.issuer, user: 'carol2', audience: provider.audience });
    await ask(carol);
    await ask(carol);
    const page = await request(carol, 'GET', '/jobs?limit=1');
    const cursor = page.body.cursor as string;

    const foreign = await request(bob, 'GET', `/jobs?cursor=${encodeURIComponent(cursor)}`);
    const forged = await request(carol, 'GET', '/jobs?cursor=bm90LWEtY3Vyc29y');
    const badLimit = await request(carol, 'GET', '/jobs?limit=500');

    expect(cursor).toEqual(expect.any(String));
    expect(foreign.status).toBe(400);
    expect(foreign.body.error?.code).toBe('invalid_cursor');
    expect(forged.body.error?.code).toBe('invalid_cursor');
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error?.code).toBe('invalid_request');
  });
});

describe('authentication over HTTP', () => {
  beforeAll(async () => {
    await drainQueue();
  });
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (overrides: JWTPayload = {}): JWTPayload => ({
    iss: provider.issuer,
    aud: provider.audience,
    sub: 'mallory',
    iat: now() - 60,
    exp: now() + 600,
    ...overrides,
  });

  /** Replaces the payload of a real token but keeps its header and signature. */
  const withPayload = (token: string, payload: unknown): string => {
    const [header, , signature] = token.split('.');
    return `${header}.${base64url.encode(JSON.stringify(payload))}.${signature}`;
  };
  const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as JWTPayload;

  it('accepts a well-formed token signed by a published key (the control for the cases below)', async () => {
    const res = await request(await keys.sign(claims()), 'GET', '/advisors');

    expect(res.status).toBe(200);
  });

  it('accepts a token issued a few seconds ahead of this clock (skew within the tolerance)', async () => {
    const res = await request(await keys.sign(claims({ iat: now() + 10 })), 'GET', '/advisors');

    expect(res.status).toBe(200);
  });

  it.each([
    ['no token', async () => undefined, 'missing_token'],
    ['an expired token', async () => keys.sign(claims({ iat: now() - 7200, exp: now() - 3600 })), 'expired_token'],
    ['a token issued an hour in the future', async () => keys.sign(claims({ iat: now() + 3600, exp: now() + 7200 })), 'invalid_token'],
    ['a token for another audience', async () => keys.sign(claims({ aud: 'someone-else' })), 'invalid_token'],
    ['a token from another issuer', async () => keys.sign(claims({ iss: 'https://evil.example' })), 'invalid_token'],
    ['an alg "none" token', async () => `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify(payloadOf(alice)))}.`, 'invalid_token'],
    ['a token whose payload was changed after signing', async () => withPayload(alice, { ...payloadOf(alice), sub: subOf(bob) }), 'invalid_token'],
    ['a token whose signature was altered', async () => `${alice.slice(0, -6)}${alice.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`, 'invalid_token'],
  ])('answers %s with 401 and enqueues nothing', async (_name, makeToken, code) => {
    const before = await jobCount();
    const token = await makeToken();

    const chat = await request(token, 'POST', '/chat', { question: 'let me in' });
    const read = await request(token, 'GET', '/jobs');

    for (const res of [chat, read]) {
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe(code);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    }
    expect(await jobCount()).toBe(before);
    expect(await drainQueue()).toEqual([]);
  });
});

describe('POST /chat bad input over HTTP', () => {
  it('answers every bad request with its 4xx and leaves the queue and the Jobs table untouched', async () => {
    await drainQueue();
    const before = await jobCount();

    for (const c of badChatRequests(alice, MAX_QUESTION_CHARS)) {
      const res = await sendChat(api.url, alice, c);
      await expectRejected(res, c).catch((err: Error) => {
        throw new Error(`${c.name}: ${err.message}`, { cause: err });
      });
    }

    expect(await jobCount()).toBe(before);
    expect(await drainQueue()).toEqual([]);
  });
});
