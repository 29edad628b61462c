/**
 * The WebSocket API's routes, as API Gateway's HTTP integration delivers them
 * (services/local/ws-gateway/README.md): `$connect` validates the token and records the
 * connection with its user; `$default` handles subscribe/unsubscribe/ping; `$disconnect`
 * forgets the connection. Replies go out through the management endpoint, like the
 * worker's live push, so a client sees one ordered stream whatever sent it.
 *
 * A subscriber first gets `job.view` (the whole current view), then every committed
 * transition after its `afterSeq`, then `job.done` if the job has ended; live events
 * from the worker follow. Clients drop duplicates by seq.
 */
import { z } from 'zod';
import type { ClientMessage, ServerMessage } from '../../shared/contracts/ws.js';
import { MAX_MESSAGE_BYTES } from '../../shared/contracts/ws.js';
import { isTerminal } from '../../shared/contracts/job.js';
import type { JwtVerifier } from '../../shared/auth/jwt-verifier.js';
import { AuthError } from '../../shared/auth/errors.js';
import type { ConnectionStore, PushGateway } from '../../shared/ports/index.js';
import { GoneError } from '../../shared/errors.js';
import { packFrames } from '../../shared/push/frames.js';
import { doneMessage, transitionMessage, viewMessage } from '../../shared/push/messages.js';
import type { Logger } from '../../shared/logging.js';
import { NotFoundError, TooManyConnectionsError, ValidationError } from '../errors.js';
import type { ApiContext } from '../middleware/context.js';
import { parseJobId } from '../schemas/jobs.schema.js';
import { firstIssueMessage } from '../schemas/issues.js';
import { ownJobView, type JobsRouteDeps } from './jobs.routes.js';

export interface WsRouteDeps extends JobsRouteDeps {
  connections: ConnectionStore;
  push: PushGateway;
  verifier: JwtVerifier;
  logger: Logger;
  now: () => number;
  /** Open connections one user may have; $connect beyond it is refused with 429. */
  maxConnectionsPerUser: number;
}

const clientMessageSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('subscribe'), jobId: z.string().max(100), afterSeq: z.number().int().min(0).optional() }),
  z.object({ action: z.literal('unsubscribe'), jobId: z.string().max(100) }),
  z.object({ action: z.literal('ping') }),
]);

/** API Gateway's connection ids are short base64-ish strings. */
const CONNECTION_ID = /^[A-Za-z0-9+/=_-]{1,128}$/;

function connectionIdOf(ctx: ApiContext): string {
  const id = ctx.get('x-connection-id');
  if (!CONNECTION_ID.test(id)) throw new ValidationError('missing or malformed x-connection-id');
  return id;
}

/** Reads the raw body (API Gateway may send it without a JSON content type). */
async function rawBody(ctx: ApiContext, limit = MAX_MESSAGE_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ValidationError('message too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The token of a $connect: `?token=` on the request (AWS) or in the forwarded query (local gateway). */
async function connectToken(ctx: ApiContext): Promise<string | undefined> {
  const fromQuery = ctx.query.token;
  if (typeof fromQuery === 'string' && fromQuery) return fromQuery;
  const body = await rawBody(ctx, 64 * 1024);
  try {
    const parsed = JSON.parse(body) as { queryStringParameters?: Record<string, unknown> };
    const token = parsed.queryStringParameters?.token;
    return typeof token === 'string' && token ? token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * $connect: refuses the upgrade unless the token is valid (401) and the user has fewer than
 * maxConnectionsPerUser connections open (429, with a body that says so); records who the
 * connection is. Two connects racing for the last place may both get it: the limit is
 * against runaway clients, not an exact quota.
 */
export function wsConnect(deps: Pick<WsRouteDeps, 'connections' | 'verifier' | 'now' | 'maxConnectionsPerUser'>) {
  return async function wsConnect(ctx: ApiContext) {
    const connectionId = connectionIdOf(ctx);
    const token = await connectToken(ctx);
    if (!token) throw new AuthError('missing_token', 'connect with ?token=<access token>');
    const principal = await deps.verifier.verify(token);
    if ((await deps.connections.countOpen(principal.sub, deps.now())) >= deps.maxConnectionsPerUser) {
      throw new TooManyConnectionsError(deps.maxConnectionsPerUser);
    }
    await deps.connections.put({ connectionId, sub: principal.sub, connectedAt: deps.now() });
    ctx.status = 200;
    ctx.body = '';
  };
}

/** $disconnect: forgets the connection and its subscriptions. */
export function wsDisconnect(deps: Pick<WsRouteDeps, 'connections'>) {
  return async function wsDisconnect(ctx: ApiContext) {
    await deps.connections.remove(connectionIdOf(ctx));
    ctx.status = 200;
    ctx.body = '';
  };
}

/** $default: one client message. Every answer, errors included, is pushed to the connection. */
export function wsDefault(deps: WsRouteDeps) {
  return async function wsDefault(ctx: ApiContext) {
    const connectionId = connectionIdOf(ctx);
    const send = (message: ServerMessage) => sendAll(deps, connectionId, [message]);
    ctx.status = 200;
    ctx.body = '';

    const connection = await deps.connections.get(connectionId);
    if (!connection) {
      await send({ type: 'error', code: 'unauthorized', message: 'This connection is not signed in; reconnect with a token.' });
      return;
    }
    let message: ClientMessage;
    try {
      const parsed = clientMessageSchema.safeParse(JSON.parse(await rawBody(ctx)));
      if (!parsed.success) throw new Error(firstIssueMessage(parsed.error));
      message = parsed.data;
    } catch (err) {
      await send({ type: 'error', code: 'bad_request', message: `Send JSON like {"action":"subscribe","jobId":"…","afterSeq":0}: ${(err as Error).message}` });
      return;
    }

    switch (message.action) {
      case 'ping':
        await send({ type: 'pong' });
        return;
      case 'unsubscribe':
        await deps.connections.unsubscribe(connectionId, message.jobId);
        return;
      case 'subscribe':
        await subscribe(deps, connectionId, connection.sub, message.jobId, message.afterSeq ?? 0);
        return;
    }
  };
}

async function subscribe(deps: WsRouteDeps, connectionId: string, sub: string, rawJobId: string, afterSeq: number): Promise<void> {
  let jobId: string;
  let loaded: Awaited<ReturnType<typeof ownJobView>>;
  try {
    jobId = parseJobId(rawJobId);
    loaded = await ownJobView(deps, jobId, sub);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    // The same answer for a missing job and someone else's: no existence oracle.
    await sendAll(deps, connectionId, [{ type: 'error', code: 'not_found', message: 'No such job among yours.', jobId: rawJobId }]);
    return;
  }
  // Subscribe before reading the backlog: a transition committed in between is either in
  // the backlog or pushed live by the worker (or both; clients drop duplicates by seq).
  await deps.connections.subscribe(connectionId, sub, jobId);
  const backlog = await deps.snapshots.transitionsAfter(jobId, afterSeq);
  const { view, job } = loaded;
  const messages: ServerMessage[] = [
    { type: 'subscribed', jobId },
    viewMessage(view),
    ...backlog.map(transitionMessage),
  ];
  const last = backlog.at(-1);
  if (isTerminal(last?.status ?? job.status)) {
    messages.push(doneMessage(jobId, { seq: Math.max(view.seq, last?.seq ?? 0), status: last?.status ?? view.status, reason: last?.reason ?? view.reason }));
  }
  await sendAll(deps, connectionId, messages);
}

/** Posts messages in order, packed into frames within the limit; a gone connection is forgotten. */
async function sendAll(deps: Pick<WsRouteDeps, 'push' | 'connections' | 'logger'>, connectionId: string, messages: ServerMessage[]): Promise<void> {
  try {
    for (const frame of packFrames(messages)) await deps.push.post(connectionId, frame);
  } catch (err) {
    if (err instanceof GoneError) {
      await deps.connections.remove(connectionId);
      return;
    }
    // A connection id addresses a user's socket, so it stays out of warn-level logs; the
    // push errors carry it in their message and fields, hence only their names here.
    const { name, errorName } = err as { name?: unknown; errorName?: unknown };
    deps.logger.warn({ error: String(name), awsError: errorName }, 'could not answer on the WebSocket');
    deps.logger.debug({ connectionId, err }, 'could not answer on the WebSocket');
  }
}
