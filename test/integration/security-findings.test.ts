/**
 * The findings of the outside attack run, each reproduced the way the attacker did it:
 * raw sockets for the HTTP ones, real WebSocket clients and callers with real tokens for
 * the rest, against the API and the local WebSocket gateway on DynamoDB Local.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WS_INTEGRATION_SECRET_HEADER } from '../../services/shared/contracts/ws.js';
import { eventually } from '../support/jobs.js';
import { LEVEL, startApiHarness, type ApiHarness } from './api-harness.js';

const MAX_CONNECTIONS_PER_USER = 10;
const READ_RATE_LIMIT_PER_MINUTE = 30;
/** PostToConnection calls each connection gets before the gateway answers 429 (the warn-log case). */
const POST_BURST = 5;

let h: ApiHarness;

beforeAll(async () => {
  h = await startApiHarness({
    config: { readRateLimitPerMinute: READ_RATE_LIMIT_PER_MINUTE },
    maxConnectionsPerUser: MAX_CONNECTIONS_PER_USER,
    gateway: { postRateLimit: { perSecond: 0.001, burst: POST_BURST } },
  });
});

afterAll(async () => {
  await h?.close();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `data` to a fresh connection to the API and collects the responses until the
 * server closes the connection or `expected` responses have arrived. `closed` says whether
 * the server ended the connection.
 */
function exchange(data: (string | Buffer)[], expected: number): Promise<{ responses: RawResponse[]; closed: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(h.apiPort, '127.0.0.1');
    let buffer: Buffer = Buffer.alloc(0);
    let responses: RawResponse[] = [];
    const finish = (closed: boolean) => {
      socket.destroy();
      resolve({ responses, closed });
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      ({ responses, rest: buffer } = parseResponses(buffer, responses));
      if (responses.length >= expected) finish(false);
    });
    // A reset after the answers counts as closed too: the server cut the connection.
    socket.on('error', () => finish(true));
    socket.on('end', () => finish(true));
    for (const d of data) socket.write(d);
  });
}

function parseResponses(buffer: Buffer, seen: RawResponse[]): { responses: RawResponse[]; rest: Buffer } {
  const responses = [...seen];
  let rest = buffer;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const [statusLine = '', ...headerLines] = rest.subarray(0, headEnd).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    if (rest.length < headEnd + 4 + length) break;
    responses.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8') });
    rest = rest.subarray(headEnd + 4 + length);
  }
  return { responses, rest };
}

function chunked(body: string, chunkBytes = 8192): string {
  let out = '';
  for (let i = 0; i < body.length; i += chunkBytes) {
    const part = body.slice(i, i + chunkBytes);
    out += `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`;
  }
  return `${out}0\r\n\r\n`;
}

const healthz = 'GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n';

describe('finding 1: an oversized chunked body', () => {
  const chatHead = (token: string, framing: string) =>
    `POST /chat HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`;

  it('is answered 413 with Connection: close, and a next request sent on that connection finds it closed, not hanging', async () => {
    const token = await h.token('chunky');
    // What the attack did: stop sending the body once the 413 arrives, then reuse the connection.
    const socket = connect(h.apiPort, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = new Promise<void>((resolve) => {
      socket.on('end', resolve);
      socket.on('error', () => resolve());
    });
    socket.write(chatHead(token, 'Transfer-Encoding: chunked') + chunked(`{"question":"${'x'.repeat(64 * 1024)}`).replace(/0\r\n\r\n$/, ''));
    const first = await eventually(async () => parseResponses(Buffer.concat(received), []).responses[0], 'the 413');
    socket.write(healthz);
    await ended;
    socket.destroy();

    expect(first.status).toBe(413);
    expect(first.headers.connection).toBe('close');
    expect(JSON.parse(first.body)).toEqual({ error: { code: 'payload_too_large', message: expect.any(String) } });
    expect(parseResponses(Buffer.concat(received), []).responses).toHaveLength(1);
  });

  it('is answered 413 with Connection: close when sent whole, and the connection is closed', async () => {
    const token = await h.token('chunky');
    const body = JSON.stringify({ question: 'x'.repeat(256 * 1024) });

    const { responses, closed } = await exchange([chatHead(token, 'Transfer-Encoding: chunked') + chunked(body), healthz], 2);

    expect(responses.map((r) => [r.status, r.headers.connection])).toEqual([[413, 'close']]);
    expect(closed).toBe(true);
  });

  it('is answered 413 with a declared length, and the connection stays usable for the next request', async () => {
    const token = await h.token('chunky');
    const body = JSON.stringify({ question: 'x'.repeat(256 * 1024) });

    const { responses } = await exchange([chatHead(token, `Content-Length: ${Buffer.byteLength(body)}`) + body, healthz], 2);

    expect(responses.map((r) => [r.status, r.headers.connection])).toEqual([
      [413, 'keep-alive'],
      [200, 'keep-alive'],
    ]);
  });
});

describe('finding 2: malformed HTTP from a client', () => {
  it('is answered 400 and logged below warn, counted at most once a minute at info, never with its bytes', async () => {
    const token = await h.token('garbler');
    const request = `GET /jobs HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\nGARBAGE AFTER THE REQUEST`;
    const before = h.logs().length;

    const answers = [];
    for (let i = 0; i < 20; i += 1) answers.push(await exchange([request], 2));
    // The parse error reaches the log when the request it interrupted finishes.
    const faults = await eventually(async () => {
      const lines = h.logs().slice(before).filter((l) => l.msg.startsWith('client fault'));
      return lines.length >= 20 ? lines : undefined;
    }, '20 client-fault log lines');

    for (const { responses } of answers) expect(responses.some((r) => r.status === 400)).toBe(true);
    const lines = h.logs().slice(before);
    expect(lines.filter((l) => l.level >= LEVEL.warn)).toEqual([]);
    expect(faults.filter((l) => l.level === LEVEL.debug)).toHaveLength(20);
    expect(faults.filter((l) => l.level === LEVEL.info).length).toBeLessThanOrEqual(1);
    expect(faults.every((l) => l.code === 'HPE_CLOSED_CONNECTION')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});

/** Opens a WebSocket through the gateway as `user`; resolves once open, or with the refusal. */
async function openSocket(user: string): Promise<{ ws: WebSocket; pong(): Promise<unknown> }> {
  const ws = new WebSocket(`${h.gateway.wsUrl}?token=${await h.token(user)}`);
  const messages: unknown[] = [];
  const waiting: ((m: unknown) => void)[] = [];
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as unknown;
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else messages.push(message);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body: Buffer.concat(chunks).toString() })));
    });
    ws.once('error', reject);
  });
  const next = () => (messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise<unknown>((resolve) => waiting.push(resolve)));
  return {
    ws,
    pong: async () => {
      ws.send(JSON.stringify({ action: 'ping' }));
      return next();
    },
  };
}

async function refusal(user: string): Promise<{ status: number; body: string }> {
  try {
    const { ws } = await openSocket(user);
    ws.close();
  } catch (err) {
    return err as { status: number; body: string };
  }
  throw new Error(`${user} was let in`);
}

function closed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.once('close', () => resolve()));
}

/** The connection ids the table holds for `sub`. */
async function connectionIdsOf(sub: string): Promise<string[]> {
  return (await h.connectionItems()).filter((i) => i.sk === 'conn' && i.sub === sub).map((i) => String(i.connectionId));
}

const subOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string }).sub;

async function postWs(route: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: { error?: { code: string } } }> {
  const res = await fetch(`${h.apiUrl}/ws/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

describe('finding 3: the /ws/* routes', () => {
  it('refuse a caller with a valid token but without the integration secret, and change nothing', async () => {
    const alice = await openSocket('alice');
    const [aliceConnection] = await connectionIdsOf(subOf(await h.token('alice')));
    const bob = await h.token('bob');
    const before = await h.connectionItems();

    const attempts = [
      // bob registers an invented connection id, or rebinds alice's to himself
      await postWs('connect', { 'x-connection-id': 'InventedByBob0=' }, JSON.stringify({ queryStringParameters: { token: bob } })),
      await postWs('connect', { 'x-connection-id': aliceConnection! }, JSON.stringify({ queryStringParameters: { token: bob } })),
      // … pushes a subscription answer into alice's socket, or disconnects it
      await postWs('default', { 'x-connection-id': aliceConnection! }, JSON.stringify({ action: 'ping' })),
      await postWs('disconnect', { 'x-connection-id': aliceConnection! }),
      // … and guessing the secret does not help
      await postWs('disconnect', { 'x-connection-id': aliceConnection!, [WS_INTEGRATION_SECRET_HEADER]: 'a'.repeat(43) }),
      await postWs('disconnect', { 'x-connection-id': aliceConnection!, [WS_INTEGRATION_SECRET_HEADER]: h.integrationSecret.slice(0, -1) }),
    ];

    for (const attempt of attempts) {
      expect(attempt.status).toBe(403);
      expect(attempt.body.error?.code).toBe('forbidden');
    }
    expect(await h.connectionItems()).toEqual(before);
    expect(await alice.pong()).toEqual({ type: 'pong' });
    alice.ws.close();
    await closed(alice.ws);
  });

  it('serve the gateway, which adds the secret as the AWS integration does', async () => {
    const carol = await openSocket('carol');

    expect(await carol.pong()).toEqual({ type: 'pong' });
    expect(await connectionIdsOf(subOf(await h.token('carol')))).toHaveLength(1);
    carol.ws.close();
    await closed(carol.ws);
  });

  it('keep connection ids out of warn-level logs when an answer cannot be pushed', async () => {
    const dave = await openSocket('dave');
    const [connectionId] = await connectionIdsOf(subOf(await h.token('dave')));
    const before = h.logs().length;

    // Past the gateway's post burst every pong is refused with LimitExceededException.
    for (let i = 0; i < POST_BURST + 3; i += 1) dave.ws.send(JSON.stringify({ action: 'ping' }));
    const warnings = await eventually(async () => {
      const lines = h.logs().slice(before).filter((l) => l.msg === 'could not answer on the WebSocket' && l.level === LEVEL.warn);
      return lines.length >= 3 ? lines : undefined;
    }, 'three warnings about refused pushes');

    expect(connectionId).toEqual(expect.any(String));
    expect(warnings[0]).toMatchObject({ error: 'PushThrottledError' });
    const warnOrWorse = h.logs().filter((l) => l.level >= LEVEL.warn);
    expect(JSON.stringify(warnOrWorse)).not.toContain(connectionId);
    dave.ws.close();
    await closed(dave.ws);
  });
});

describe('finding 4: clients that hang up during $connect', () => {
  it('leave no connection record behind, 50 of them hanging up 0–2 ms after the upgrade request', async () => {
    const users = ['hangup-1', 'hangup-2', 'hangup-3', 'hangup-4', 'hangup-5'];
    const tokens = await Promise.all(users.map((u) => h.token(u)));
    const subs = tokens.map(subOf);
    const recordsOfThem = async () =>
      (await h.connectionItems()).filter((i) => subs.includes(String(i.sub)) || subs.some((s) => i.connectionId === `user#${s}`));
    const before = h.logs().length;
    /** Route requests the API has started and finished since `before`. */
    const routeCalls = (path: string) => {
      const lines = h.logs().slice(before).filter((l) => l.path === path);
      return { started: lines.filter((l) => l.msg === 'request started').length, done: lines.filter((l) => l.msg === 'request') };
    };
    const url = new URL(h.gateway.wsUrl);

    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const socket = connect(Number(url.port), url.hostname);
        socket.on('error', () => undefined);
        await new Promise((resolve) => socket.once('connect', resolve));
        const key = Buffer.from(`hangup-client-${String(i).padStart(2, '0')}`).toString('base64').slice(0, 22);
        const upgrade =
          `GET ${url.pathname}?token=${tokens[i % tokens.length]} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
        await new Promise((resolve) => socket.write(upgrade, resolve));
        await new Promise((resolve) => setTimeout(resolve, i % 3));
        // Alternate between a clean hang-up (FIN) and a reset, as the attack did.
        if (i % 2 === 0) socket.end();
        else socket.destroy();
        await new Promise((resolve) => (socket.closed ? resolve(undefined) : socket.once('close', resolve)));
      }),
    );
    // Settled: every $connect and $disconnect the gateway started has been answered.
    await eventually(async () => {
      const connects = routeCalls('/ws/connect');
      const disconnects = routeCalls('/ws/disconnect');
      return connects.started > 0 && connects.started === connects.done.length && disconnects.started === disconnects.done.length ? true : undefined;
    }, 'the route requests to settle', 20_000);
    const accepted = routeCalls('/ws/connect').done.filter((l) => l.status === 200).length;
    // Polls until nothing is left; on time-out the leftovers go into the assertion below.
    const left = await eventually(async () => ((await recordsOfThem()).length === 0 ? [] : undefined), 'every accepted connection to be disconnected', 10_000).catch(recordsOfThem);

    expect(routeCalls('/ws/connect').started).toBe(50);
    expect(accepted).toBeGreaterThan(0);
    expect(left).toEqual([]);
  });
});

describe('WebSocket connections per user', () => {
  it(`refuse the ${MAX_CONNECTIONS_PER_USER + 1}th connection of one user with 429 and a reason, and let others in`, async () => {
    const open: WebSocket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS_PER_USER; i += 1) open.push((await openSocket('tabby')).ws);

    const refused = await refusal('tabby');
    const other = await openSocket('erin');
    open[0]!.close();
    await closed(open[0]!);
    const again = await eventually(async () => openSocket('tabby').catch(() => undefined), 'a place to free up');

    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toEqual({ error: { code: 'too_many_connections', message: expect.stringContaining(`${MAX_CONNECTIONS_PER_USER} live connections`) } });
    expect(await other.pong()).toEqual({ type: 'pong' });
    expect(await again.pong()).toEqual({ type: 'pong' });
    for (const ws of [...open, other.ws, again.ws]) ws.close();
    await Promise.all([...open, other.ws, again.ws].map(closed));
  });
});

describe('GET routes', () => {
  it('answer a user over the read limit 429 with Retry-After and the JSON error, and nobody else', async () => {
    const reader = await h.token('reader');
    const get = async (token: string, path: string) => fetch(`${h.apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });

    const statuses: number[] = [];
    for (let i = 0; i < READ_RATE_LIMIT_PER_MINUTE; i += 1) statuses.push((await get(reader, i % 2 ? '/advisors' : '/jobs')).status);
    const over = await get(reader, '/jobs');
    const overBody = (await over.json()) as { error: { code: string; message: string } };
    const someoneElse = await get(await h.token('reader-2'), '/jobs');
    const chat = await fetch(`${h.apiUrl}/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'Is the read limit separate from the chat limit?' }),
    });

    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(overBody).toEqual({ error: { code: 'rate_limited', message: expect.stringContaining('try again in') } });
    expect(someoneElse.status).toBe(200);
    expect(chat.status).toBe(202);
  });
});
