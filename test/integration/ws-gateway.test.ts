import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { ApiGatewayPushGateway } from '../../services/shared/adapters/aws/apigw-push-gateway.js';
import { createManagementApi } from '../../services/shared/aws-clients.js';
import { GoneError, PushFailedError, PushThrottledError } from '../../services/shared/errors.js';
import { newConnectionId, startWsGateway, type WsGateway, type WsGatewayOptions } from '../../services/local/ws-gateway/ws-gateway.js';

/** One route request as the backend received it. */
interface RouteRequest {
  route: 'connect' | 'default' | 'disconnect';
  connectionId: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * The integration backend: records every route request; refuses $connect for token 'bad',
 * answers {"action":"ping"} with {"type":"pong"}, and answers nothing else.
 */
class Backend {
  readonly requests: RouteRequest[] = [];
  private readonly waiters: { match: (r: RouteRequest) => boolean; resolve: (r: RouteRequest) => void }[] = [];
  private constructor(readonly server: Server, readonly url: string) {}

  static async start(): Promise<Backend> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const backend = new Backend(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const route = (req.url ?? '').replace('/ws/', '') as RouteRequest['route'];
        const request = { route, connectionId: String(req.headers['x-connection-id']), headers: req.headers, body: Buffer.concat(chunks) };
        backend.record(request);
        const reply = backend.reply(request);
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
      });
    });
    return backend;
  }

  /** The first request matching `match`, already received or still to come. */
  next(match: (r: RouteRequest) => boolean): Promise<RouteRequest> {
    const seen = this.requests.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private record(request: RouteRequest): void {
    this.requests.push(request);
    for (const waiter of this.waiters.filter((w) => w.match(request))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(request);
    }
  }

  private reply(request: RouteRequest): { status: number; body: string } {
    if (request.route === 'connect') {
      const { queryStringParameters } = JSON.parse(request.body.toString()) as { queryStringParameters: Record<string, string> };
      return queryStringParameters.token === 'bad' ? { status: 401, body: '{"message":"Unauthorized"}' } : { status: 200, body: '' };
    }
    if (request.route === 'default' && request.body.toString() === '{"action":"ping"}') return { status: 200, body: '{"type":"pong"}' };
    return { status: 200, body: '' };
  }
}

/** A real `ws` client that keeps what it receives so tests can await it. */
class TestClient {
  readonly messages: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiting: ((message: string) => void) | undefined;

  constructor(readonly ws: WebSocket, readonly connectionId: string) {
    ws.on('message', (data) => {
      const text = data.toString();
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(text);
      } else this.messages.push(text);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  nextMessage(): Promise<string> {
    const queued = this.messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

const USER_AGENT = 'cot-test/1.0';
let tokenCounter = 0;

/** Opens a socket with a fresh token and learns its connection id from the backend's $connect. */
async function connect(gateway: WsGateway, backend: Backend): Promise<TestClient> {
  const token = `token-${++tokenCounter}`;
  const ws = new WebSocket(`${gateway.wsUrl}?token=${token}`, { headers: { 'user-agent': USER_AGENT } });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const connectRequest = await backend.next((r) => r.route === 'connect' && connectBody(r).queryStringParameters.token === token);
  // Attach the message listener before the gateway can push anything.
  const client = new TestClient(ws, connectRequest.connectionId);
  await opened;
  return client;
}

/** The handshake's HTTP status when the gateway refuses it. */
function refusedStatus(url: string): Promise<number> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.once('open', () => reject(new Error('the handshake unexpectedly succeeded')));
  });
}

function connectBody(r: RouteRequest): { queryStringParameters: Record<string, string>; headers: Record<string, string> } {
  return JSON.parse(r.body.toString()) as { queryStringParameters: Record<string, string>; headers: Record<string, string> };
}

function disconnectOf(backend: Backend, connectionId: string): Promise<RouteRequest> {
  return backend.next((r) => r.route === 'disconnect' && r.connectionId === connectionId);
}

/** Resolves with the error the promise rejects with; fails if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('ws-gateway', () => {
  let backend: Backend;
  let gateway: WsGateway;
  let management: ApiGatewayManagementApiClient;
  let push: ApiGatewayPushGateway;
  const gateways: WsGateway[] = [];

  async function startGateway(options: Partial<WsGatewayOptions>): Promise<WsGateway> {
    const started = await startWsGateway({ integrationUrl: backend.url, ...options });
    gateways.push(started);
    return started;
  }

  beforeAll(async () => {
    // The SDK signs with SigV4; the gateway accepts any signature, so dummy credentials do.
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    backend = await Backend.start();
    // Ids with '+', '/' and '=' prove that URL-encoding survives the round trip.
    gateway = await startGateway({ generateConnectionId: () => `/+${newConnectionId()}` });
    management = createManagementApi(gateway.managementEndpoint);
    push = new ApiGatewayPushGateway(management);
  });

  afterAll(async () => {
    management?.destroy();
    await Promise.all(gateways.map((g) => g.close()));
    await backend?.close();
    vi.unstubAllEnvs();
  });

  it('forwards $connect with the token and the connection id, and opens the socket on 200', async () => {
    const client = await connect(gateway, backend);
    const request = await backend.next((r) => r.route === 'connect' && r.connectionId === client.connectionId);

    expect(request.headers['x-route-key']).toBe('$connect');
    expect(request.headers['x-event-type']).toBe('CONNECT');
    expect(Number(request.headers['x-request-time-epoch'])).toBeGreaterThan(0);
    expect(connectBody(request).queryStringParameters.token).toMatch(/^token-\d+$/);
    expect(connectBody(request).headers['user-agent']).toBe(USER_AGENT);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    client.ws.close();
  });

  it('refuses the upgrade with the status the backend gives $connect', async () => {
    expect(await refusedStatus(`${gateway.wsUrl}?token=bad`)).toBe(401);
  });

  it('refuses the upgrade with 502 when the backend is unreachable', async () => {
    const gone = await Backend.start();
    await gone.close();
    const orphan = await startGateway({ integrationUrl: gone.url });

    expect(await refusedStatus(`${orphan.wsUrl}?token=t`)).toBe(502);
  });

  it('gives connection ids shaped like AWS ones by default', async () => {
    const plain = await startGateway({});
    const client = await connect(plain, backend);

    expect(client.connectionId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    client.ws.close();
  });

  it('forwards client messages to $default and returns the response body to the client', async () => {
    const client = await connect(gateway, backend);
    client.ws.send('{"action":"ping"}');

    const request = await backend.next((r) => r.route === 'default' && r.connectionId === client.connectionId);
    expect(request.headers['x-route-key']).toBe('$default');
    expect(request.headers['x-event-type']).toBe('MESSAGE');
    expect(request.body.toString()).toBe('{"action":"ping"}');
    expect(await client.nextMessage()).toBe('{"type":"pong"}');
    client.ws.close();
  });

  it('tells the client about an internal error when the backend fails a message', async () => {
    const flaky = await Backend.start();
    const flakyGateway = await startGateway({ integrationUrl: flaky.url });
    const client = await connect(flakyGateway, flaky);
    await flaky.close();

    client.ws.send('{"action":"ping"}');

    expect(JSON.parse(await client.nextMessage())).toMatchObject({ message: 'Internal server error', connectionId: client.connectionId });
    client.ws.close();
  });

  it('delivers PostToConnection to the addressed client even when its id needs URL-encoding', async () => {
    const a = await connect(gateway, backend);
    const b = await connect(gateway, backend);
    expect(a.connectionId).toMatch(/[/+].*=$/);

    await management.send(new PostToConnectionCommand({ ConnectionId: a.connectionId, Data: '{"for":"a"}' }));
    await push.post(b.connectionId, '{"for":"b"}');

    expect(await a.nextMessage()).toBe('{"for":"a"}');
    expect(await b.nextMessage()).toBe('{"for":"b"}');
    a.ws.close();
    b.ws.close();
  });

  it('describes a live connection through GetConnection', async () => {
    const client = await connect(gateway, backend);

    const info = await management.send(new GetConnectionCommand({ ConnectionId: client.connectionId }));

    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.LastActiveAt!.getTime()).toBeGreaterThanOrEqual(info.ConnectedAt!.getTime());
    expect(info.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: USER_AGENT });
    client.ws.close();
  });

  it('closes the socket on DeleteConnection and sends $disconnect to the backend', async () => {
    const client = await connect(gateway, backend);

    await management.send(new DeleteConnectionCommand({ ConnectionId: client.connectionId }));

    expect((await client.closed).code).toBe(1000);
    const request = await disconnectOf(backend, client.connectionId);
    expect(request.headers['x-route-key']).toBe('$disconnect');
    expect(request.headers['x-event-type']).toBe('DISCONNECT');
    expect(request.headers['x-disconnect-status-code']).toBe('1000');
  });

  it('answers calls for a closed connection with GoneException', async () => {
    const client = await connect(gateway, backend);
    client.ws.close(1000);
    await disconnectOf(backend, client.connectionId);

    const posted = await rejection(management.send(new PostToConnectionCommand({ ConnectionId: client.connectionId, Data: 'x' })));
    const got = await rejection(management.send(new GetConnectionCommand({ ConnectionId: client.connectionId })));
    const deleted = await rejection(management.send(new DeleteConnectionCommand({ ConnectionId: client.connectionId })));

    expect(posted).toBeInstanceOf(GoneException);
    expect((posted as GoneException).$metadata.httpStatusCode).toBe(410);
    expect(got).toBeInstanceOf(GoneException);
    expect(deleted).toBeInstanceOf(GoneException);
  });

  it('refuses a payload over 128 KB with PayloadTooLargeException and delivers one of exactly 128 KB', async () => {
    const client = await connect(gateway, backend);
    const limit = 128 * 1024;

    const tooLarge = await rejection(management.send(new PostToConnectionCommand({ ConnectionId: client.connectionId, Data: 'x'.repeat(limit + 1) })));
    await push.post(client.connectionId, 'y'.repeat(limit));

    expect(tooLarge).toBeInstanceOf(PayloadTooLargeException);
    expect((tooLarge as PayloadTooLargeException).$metadata.httpStatusCode).toBe(413);
    expect(await client.nextMessage()).toBe('y'.repeat(limit));
    client.ws.close();
  });

  it('refuses unsigned management calls with 403 ForbiddenException', async () => {
    const client = await connect(gateway, backend);

    const response = await fetch(`${gateway.managementEndpoint}/@connections/${encodeURIComponent(client.connectionId)}`, { method: 'POST', body: 'x' });

    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    client.ws.close();
  });

  it('closes with 1009 a client frame over 32 KB, before the backend sees it', async () => {
    const client = await connect(gateway, backend);

    client.ws.send('z'.repeat(32 * 1024 + 1));

    expect((await client.closed).code).toBe(1009);
    const disconnect = await disconnectOf(backend, client.connectionId);
    expect(disconnect.headers['x-disconnect-status-code']).toBe('1009');
    // Route requests of one connection arrive in order, so a forwarded frame would precede $disconnect.
    expect(backend.requests.some((r) => r.route === 'default' && r.connectionId === client.connectionId)).toBe(false);
  });

  it('closes with 1009 a client message over 128 KB sent in frames under 32 KB', async () => {
    const client = await connect(gateway, backend);
    const fragment = 'w'.repeat(30 * 1024);

    for (let i = 0; i < 5; i += 1) client.ws.send(fragment, { binary: false, fin: i === 4 });

    expect((await client.closed).code).toBe(1009);
    expect((await disconnectOf(backend, client.connectionId)).headers['x-disconnect-status-code']).toBe('1009');
  });

  it('forwards a fragmented client message within the limits whole', async () => {
    const client = await connect(gateway, backend);
    const fragment = 'v'.repeat(30 * 1024);

    for (let i = 0; i < 4; i += 1) client.ws.send(fragment, { binary: false, fin: i === 3 });

    const request = await backend.next((r) => r.route === 'default' && r.connectionId === client.connectionId);
    expect(request.body.toString()).toBe(fragment.repeat(4));
    client.ws.close();
  });

  it('closes an idle connection with 1001 even while the client sends pings, and sends $disconnect', async () => {
    const idle = await startGateway({ idleTimeoutSeconds: 1 });
    const client = await connect(idle, backend);
    // API Gateway does not count control frames as activity.
    const pinging = setInterval(() => client.ws.ping(), 100);

    const closed = await client.closed;
    clearInterval(pinging);

    expect(closed.code).toBe(1001);
    expect((await disconnectOf(backend, client.connectionId)).headers['x-disconnect-status-code']).toBe('1001');
    expect(idle.connectionCount()).toBe(0);
  });

  it('closes a connection at its maximum age with 1001', async () => {
    const aging = await startGateway({ maxConnectionAgeSeconds: 1 });
    const client = await connect(aging, backend);

    expect((await client.closed).code).toBe(1001);
    expect((await disconnectOf(backend, client.connectionId)).headers['x-disconnect-status-code']).toBe('1001');
  });

  it('closes every connection with 1001 and sends $disconnect when the gateway closes', async () => {
    const closing = await startGateway({});
    const client = await connect(closing, backend);

    await closing.close();

    expect((await client.closed).code).toBe(1001);
    expect(backend.requests.some((r) => r.route === 'disconnect' && r.connectionId === client.connectionId)).toBe(true);
    expect(closing.connectionCount()).toBe(0);
  });
});

describe('ApiGatewayPushGateway', () => {
  let backend: Backend;
  let gateway: WsGateway;
  let management: ApiGatewayManagementApiClient;
  let push: ApiGatewayPushGateway;

  beforeAll(async () => {
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    backend = await Backend.start();
    // One post per connection, refilled far slower than any test runs: the second is throttled.
    gateway = await startWsGateway({ integrationUrl: backend.url, postRateLimit: { perSecond: 0.001, burst: 1 } });
    management = createManagementApi(gateway.managementEndpoint);
    push = new ApiGatewayPushGateway(management);
  });

  afterAll(async () => {
    management?.destroy();
    await gateway?.close();
    await backend?.close();
    vi.unstubAllEnvs();
  });

  it('throws GoneError for a closed connection and treats disconnecting it as done', async () => {
    const client = await connect(gateway, backend);
    client.ws.close();
    await disconnectOf(backend, client.connectionId);

    const error = await rejection(push.post(client.connectionId, '{}'));

    expect(error).toBeInstanceOf(GoneError);
    expect((error as GoneError).connectionId).toBe(client.connectionId);
    await expect(push.disconnect(client.connectionId)).resolves.toBeUndefined();
  });

  it('throws PushThrottledError when API Gateway answers LimitExceededException', async () => {
    const client = await connect(gateway, backend);
    await push.post(client.connectionId, '{"n":1}');

    const throttled = await rejection(push.post(client.connectionId, '{"n":2}'));
    const raw = await rejection(management.send(new PostToConnectionCommand({ ConnectionId: client.connectionId, Data: '{"n":3}' })));

    expect(throttled).toBeInstanceOf(PushThrottledError);
    expect((throttled as PushThrottledError).cause).toBeInstanceOf(LimitExceededException);
    expect(raw).toBeInstanceOf(LimitExceededException);
    expect(await client.nextMessage()).toBe('{"n":1}');
    client.ws.close();
  });

  it('wraps other failures in PushFailedError naming the AWS error', async () => {
    const client = await connect(gateway, backend);

    const error = await rejection(push.post(client.connectionId, randomBytes(65 * 1024).toString('hex')));

    expect(error).toBeInstanceOf(PushFailedError);
    expect((error as PushFailedError).errorName).toBe('PayloadTooLargeException');
    client.ws.close();
  });

  it('disconnects a live connection', async () => {
    const client = await connect(gateway, backend);

    await push.disconnect(client.connectionId);

    expect((await client.closed).code).toBe(1000);
    expect((await disconnectOf(backend, client.connectionId)).headers['x-disconnect-status-code']).toBe('1000');
  });
});
