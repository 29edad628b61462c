/**
 * Local stand-in for an API Gateway WebSocket API and its @connections management API.
 * The real `@aws-sdk/client-apigatewaymanagementapi` client works against it unchanged.
 *
 * One port serves both:
 *   wsUrl              ws://127.0.0.1:{port}/{stage}     (clients connect with ?token=…)
 *   managementEndpoint http://127.0.0.1:{port}/{stage}   (the SDK client's `endpoint`)
 *
 * Backend contract (API Gateway's HTTP integration, simplified; README.md says the same):
 * every route request is `POST ${integrationUrl}/ws/{connect|default|disconnect}` with
 *   x-connection-id        the connection id, e.g. 'L0SM9cOFvHcCIhw=' (may hold '+', '/', '=')
 *   x-route-key            $connect | $default | $disconnect
 *   x-event-type           CONNECT | MESSAGE | DISCONNECT
 *   x-request-time-epoch   milliseconds since the epoch
 *   x-cot-integration-secret  the integrationSecret option, if set (the API requires it)
 * - $connect, on each upgrade request: body `{"queryStringParameters":{…},"headers":{…}}`
 *   (query parameters, last value wins; the upgrade request's headers, lower-case, plus
 *   x-forwarded-for/-proto/-port). 2xx accepts the socket; any other status refuses the
 *   handshake with that status and body (the client sees e.g. 401); an unreachable backend
 *   is 502, one slower than the integration timeout (29 s) is 504. The connection cannot
 *   receive PostToConnection until $connect has answered (410 until then, as in AWS).
 * - $default, for every client message: body = the raw message bytes, content-type
 *   application/json for text frames (not validated: parse it defensively) and
 *   application/octet-stream for binary ones. A non-empty response body, whatever its
 *   status, is sent back to the client as one message (a route response). If the backend
 *   is unreachable the client gets AWS's `{"message":"Internal server error",…}`.
 * - $disconnect, once per accepted connection whatever closed it (client, idle timeout,
 *   maximum age, DeleteConnection, gateway shutdown): no body, plus headers
 *   x-disconnect-status-code (e.g. 1000, 1001, 1006, 1009) and x-disconnect-reason.
 *   Best effort, like AWS: a failed call is logged, never retried.
 * A connection's route requests reach the backend one at a time, in order (AWS does not
 * promise ordering, so the backend must not depend on it).
 *
 * Limits as AWS: frames over maxFrameBytes (32 KB) or messages over maxMessageBytes
 * (128 KB) from a client close the socket with 1009; outgoing messages are split into
 * frames of at most maxFrameBytes. Idle timeout: no data message in either direction for
 * idleTimeoutSeconds closes with 1001 "Going away"; ping/pong control frames do not count
 * (API Gateway ignores them for idleness). Connections older than maxConnectionAgeSeconds
 * close with 1001 as well.
 */
import { listen } from '../../shared/net.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { IDLE_TIMEOUT_SECONDS, MAX_CONNECTION_AGE_SECONDS, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES } from '../../shared/contracts/ws.js';
import { ConfigError } from '../../shared/errors.js';
import { FrameSizeGuard } from './frame-size-guard.js';
import { IntegrationClient, IntegrationTimeoutError, type RouteResponse } from './integration-client.js';
import { LiveConnection, TokenBucket } from './live-connection.js';
import { handleManagementRequest } from './management-api.js';

/** Structured logger (pino's call shape). */
export interface GatewayLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface WsGatewayOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** The stage path segment of both URLs; default 'local'. */
  stage?: string;
  /** Base URL of the backend (the API service) that receives route requests. */
  integrationUrl: string;
  /** Default 29 (AWS's integration timeout). */
  integrationTimeoutSeconds?: number;
  /**
   * Sent in the x-cot-integration-secret header of every route request, as the AWS
   * integration's request parameter mapping adds it; the API refuses /ws/* without it.
   */
  integrationSecret?: string;
  /** Default 600 (AWS). */
  idleTimeoutSeconds?: number;
  /** Default 7200 (AWS). */
  maxConnectionAgeSeconds?: number;
  /** Default 32 KB (AWS). */
  maxFrameBytes?: number;
  /** Default 128 KB (AWS); also the PostToConnection payload limit. */
  maxMessageBytes?: number;
  /** PostToConnection calls per connection before 429 LimitExceededException; default off. */
  postRateLimit?: { perSecond: number; burst?: number };
  /** Connection ids; default 11 random bytes in base64, e.g. 'L0SM9cOFvHcCIhw='. */
  generateConnectionId?: () => string;
  logger?: GatewayLogger;
}

export interface WsGateway {
  /** ws://127.0.0.1:{port}/{stage} */
  wsUrl: string;
  /** http://127.0.0.1:{port}/{stage}, the management API client's `endpoint`. */
  managementEndpoint: string;
  /** Closes every connection with 1001 (each gets its $disconnect) and stops the server. */
  close(): Promise<void>;
  connectionCount(): number;
}

/** A random connection id shaped like AWS's (16 base64 characters ending in '='). */
export function newConnectionId(): string {
  return randomBytes(11).toString('base64');
}

interface Settings {
  stagePath: string;
  integrationTimeoutMs: number;
  idleTimeoutMs: number;
  maxAgeMs: number;
  maxFrameBytes: number;
  maxMessageBytes: number;
  postRateLimit: { perSecond: number; burst: number } | undefined;
}

/** How long a client gets to answer our close frame during shutdown before its socket is dropped. */
const SHUTDOWN_GRACE_MS = 2000;

const silentLogger: GatewayLogger = { warn: () => undefined };

/** Starts the gateway on 127.0.0.1 and resolves once it listens. */
export async function startWsGateway(options: WsGatewayOptions): Promise<WsGateway> {
  const settings = validate(options);
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const generateId = options.generateConnectionId ?? newConnectionId;
  const integration = new IntegrationClient(options.integrationUrl, settings.integrationTimeoutMs, options.integrationSecret);
  const connections = new Map<string, LiveConnection>();
  /** One per accepted connection; settles once its $disconnect has been sent. */
  const lifetimes = new Set<Promise<void>>();
  const pendingConnects = new Set<Promise<void>>();
  let closing = false;

  // perMessageDeflate stays off: API Gateway does not negotiate compression.
  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxMessageBytes, perMessageDeflate: false });

  const server = createServer((req, res) => {
    const deps = { stagePath: settings.stagePath, maxMessageBytes: settings.maxMessageBytes, connection: (id: string) => connections.get(id) };
    handleManagementRequest(deps, req, res).catch((error: unknown) => {
      logger.warn({ err: error, method: req.method }, 'management API request failed');
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const attempt = handleUpgrade(req, socket, head).catch((error: unknown) => {
      logger.warn({ err: error }, 'WebSocket upgrade failed');
      socket.destroy();
    });
    pendingConnects.add(attempt);
    void attempt.finally(() => pendingConnects.delete(attempt));
  });

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // A client may hang up while $connect runs; without a listener that would crash the process.
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://gateway.local');
    if (closing) return refuseUpgrade(socket, 503, jsonMessage('Service Unavailable'));
    if (url.pathname !== settings.stagePath && url.pathname !== `${settings.stagePath}/`) {
      return refuseUpgrade(socket, 403, jsonMessage('Forbidden'));
    }
    if (!isWebSocketHandshake(req)) return refuseUpgrade(socket, 400, jsonMessage('Bad Request'));

    const connectionId = generateId();
    let response: RouteResponse;
    try {
      response = await integration.call({
        connectionId,
        routeKey: '$connect',
        contentType: 'application/json',
        body: JSON.stringify({ queryStringParameters: queryParameters(url), headers: forwardedHeaders(req) }),
      });
    } catch (error) {
      logger.warn({ err: error, connectionId }, '$connect integration failed');
      const status = error instanceof IntegrationTimeoutError ? 504 : 502;
      return refuseUpgrade(socket, status, jsonMessage(status === 504 ? 'Endpoint request timed out' : 'Internal server error'));
    }
    if (response.status < 200 || response.status > 299) {
      return refuseUpgrade(socket, response.status, response.body, response.contentType);
    }
    // $connect was accepted, so the backend has recorded the connection: from here on,
    // whatever the client does, a $disconnect must follow, through accept() or right here.
    const ws = closing ? undefined : await completeHandshake(req, socket, head);
    if (!ws) {
      socket.destroy();
      await sendDisconnect(connectionId, { code: 1006, reason: 'Going away' });
      return;
    }
    accept(ws, socket, connectionId, req);
  }

  /**
   * Finishes the WebSocket handshake, or resolves undefined if the client hung up first.
   * ws's handleUpgrade silently destroys a socket that is no longer readable and writable
   * (a client that sent FIN while $connect ran) and never calls back, so the socket's own
   * 'close' decides that case.
   */
  function completeHandshake(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<WebSocket | undefined> {
    return new Promise((resolve) => {
      if (socket.destroyed || !socket.readable || !socket.writable) {
        resolve(undefined);
        return;
      }
      const hungUp = () => resolve(undefined);
      socket.once('close', hungUp);
      wss.handleUpgrade(req, socket, head, (ws) => {
        socket.off('close', hungUp);
        resolve(ws);
      });
    });
  }

  function accept(ws: WebSocket, socket: Duplex, connectionId: string, req: IncomingMessage): void {
    const connection = new LiveConnection({
      id: connectionId,
      socket: ws,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      userAgent: headerValue(req.headers['user-agent']) ?? '',
      idleTimeoutMs: settings.idleTimeoutMs,
      maxAgeMs: settings.maxAgeMs,
      maxFrameBytes: settings.maxFrameBytes,
      postBucket: settings.postRateLimit
        ? new TokenBucket(settings.postRateLimit.perSecond, settings.postRateLimit.burst, Date.now())
        : undefined,
    });
    connections.set(connectionId, connection);

    // Runs before ws's own listener, so an oversized frame is caught before ws delivers it.
    const guard = new FrameSizeGuard(settings.maxFrameBytes);
    socket.prependListener('data', (chunk: Buffer) => {
      if (guard.feed(chunk) !== undefined) connection.close(1009, 'Message too big');
    });

    ws.on('message', (data: RawData, isBinary: boolean) => {
      // Messages still arriving after a close has started are dropped, as AWS drops them.
      if (!connection.isOpen) return;
      connection.touch();
      void connection.enqueue(() => forwardMessage(connection, rawToBuffer(data), isBinary));
    });
    ws.on('error', (error: Error & { code?: string }) => {
      // ws closes with 1009 itself when a message exceeds maxPayload; remember it for $disconnect.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') connection.closeIntent ??= { code: 1009, reason: 'Message too big' };
      else logger.warn({ err: error, connectionId }, 'WebSocket error');
    });
    const lifetime = new Promise<void>((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        connections.delete(connectionId);
        connection.dispose();
        const intent = connection.closeIntent ?? { code, reason: reason.toString() || disconnectReason(code) };
        void connection.enqueue(() => sendDisconnect(connectionId, intent)).then(resolve);
      });
    });
    lifetimes.add(lifetime);
    void lifetime.then(() => lifetimes.delete(lifetime));
  }

  async function forwardMessage(connection: LiveConnection, body: Buffer, isBinary: boolean): Promise<void> {
    try {
      const response = await integration.call({
        connectionId: connection.id,
        routeKey: '$default',
        contentType: isBinary ? 'application/octet-stream' : 'application/json',
        body,
      });
      if (response.body.length > 0) connection.send(response.body);
    } catch (error) {
      logger.warn({ err: error, connectionId: connection.id }, '$default integration failed');
      const failure = { message: 'Internal server error', connectionId: connection.id, requestId: randomUUID() };
      connection.send(Buffer.from(JSON.stringify(failure)));
    }
  }

  async function sendDisconnect(connectionId: string, intent: { code: number; reason: string }): Promise<void> {
    try {
      await integration.call({
        connectionId,
        routeKey: '$disconnect',
        headers: { 'x-disconnect-status-code': String(intent.code), 'x-disconnect-reason': intent.reason },
      });
    } catch (error) {
      logger.warn({ err: error, connectionId }, '$disconnect integration failed');
    }
  }

  async function close(): Promise<void> {
    closing = true;
    await Promise.allSettled([...pendingConnects]);
    const open = [...connections.values()];
    const drop = setTimeout(() => open.forEach((c) => c.terminate()), SHUTDOWN_GRACE_MS);
    for (const connection of open) connection.close(1001, 'Going away');
    await Promise.all([...lifetimes]);
    clearTimeout(drop);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  const port = await listen(server, options.port ?? 0, host);
  const authority = `${host}:${port}${settings.stagePath}`;
  let closed: Promise<void> | undefined;
  return {
    wsUrl: `ws://${authority}`,
    managementEndpoint: `http://${authority}`,
    close: () => (closed ??= close()),
    connectionCount: () => connections.size,
  };
}

function validate(options: WsGatewayOptions): Settings {
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v <= 0) throw new ConfigError(`ws-gateway: ${name} must be a positive number, got ${String(value)}`);
    return v;
  };
  try {
    new URL(options.integrationUrl);
  } catch (error) {
    throw new ConfigError(`ws-gateway: integrationUrl is not a URL: ${options.integrationUrl}`, { cause: error });
  }
  const stage = options.stage ?? 'local';
  if (!/^[A-Za-z0-9_-]+$/.test(stage)) throw new ConfigError(`ws-gateway: stage must be a single path segment, got ${stage}`);
  const maxFrameBytes = positive('maxFrameBytes', options.maxFrameBytes, MAX_FRAME_BYTES);
  const maxMessageBytes = positive('maxMessageBytes', options.maxMessageBytes, MAX_MESSAGE_BYTES);
  if (maxFrameBytes > maxMessageBytes) throw new ConfigError('ws-gateway: maxFrameBytes must not exceed maxMessageBytes');
  const rate = options.postRateLimit;
  return {
    stagePath: `/${stage}`,
    integrationTimeoutMs: positive('integrationTimeoutSeconds', options.integrationTimeoutSeconds, 29) * 1000,
    idleTimeoutMs: positive('idleTimeoutSeconds', options.idleTimeoutSeconds, IDLE_TIMEOUT_SECONDS) * 1000,
    maxAgeMs: positive('maxConnectionAgeSeconds', options.maxConnectionAgeSeconds, MAX_CONNECTION_AGE_SECONDS) * 1000,
    maxFrameBytes,
    maxMessageBytes,
    postRateLimit: rate
      ? { perSecond: positive('postRateLimit.perSecond', rate.perSecond, 1), burst: positive('postRateLimit.burst', rate.burst, Math.max(1, rate.perSecond)) }
      : undefined,
  };
}

/** A well-formed WebSocket opening handshake (RFC 6455 §4.2.1), checked before $connect runs. */
function isWebSocketHandshake(req: IncomingMessage): boolean {
  const key = headerValue(req.headers['sec-websocket-key']) ?? '';
  const version = headerValue(req.headers['sec-websocket-version']);
  return (
    req.method === 'GET' &&
    (headerValue(req.headers.upgrade) ?? '').toLowerCase() === 'websocket' &&
    /^[+/0-9A-Za-z]{22}==$/.test(key) &&
    (version === '13' || version === '8')
  );
}

function queryParameters(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}

/** The upgrade request's headers (lower-case names) plus what API Gateway adds for the client's address. */
function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    const flat = headerValue(value);
    if (flat !== undefined) headers[name] = flat;
  }
  headers['x-forwarded-for'] ??= req.socket.remoteAddress ?? '127.0.0.1';
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  return headers;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function jsonMessage(message: string): Buffer {
  return Buffer.from(JSON.stringify({ message }));
}

/** AWS's disconnectReason wording for a close the client started. */
function disconnectReason(code: number): string {
  if (code === 1000) return 'Connection Closed Normally';
  if (code === 1001) return 'Going away';
  return `Closed with status ${code}`;
}

/** Answers the upgrade request with a plain HTTP response, which fails the client's handshake. */
function refuseUpgrade(socket: Duplex, status: number, body: Buffer, contentType = 'application/json'): void {
  if (socket.destroyed) return;
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`,
    'Connection: close',
    `Content-Type: ${contentType}`,
    `Content-Length: ${body.length}`,
    `x-amzn-RequestId: ${randomUUID()}`,
  ];
  socket.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]));
}
