/**
 * The @connections management API (what `@aws-sdk/client-apigatewaymanagementapi` calls),
 * answering with AWS's restJson1 shapes: errors carry `x-amzn-errortype` and a JSON body
 * `{"message": …}`, which the SDK turns into GoneException, PayloadTooLargeException, …
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveConnection } from './live-connection.js';

export interface ManagementApiDeps {
  /** '/local' for the stage 'local'. */
  stagePath: string;
  maxMessageBytes: number;
  connection(connectionId: string): LiveConnection | undefined;
}

type ErrorType =
  | 'ForbiddenException'
  | 'GoneException'
  | 'LimitExceededException'
  | 'PayloadTooLargeException'
  | 'BadRequestException'
  | 'NotFoundException'
  | 'InternalServerErrorException';

const STATUS: Record<ErrorType, number> = {
  ForbiddenException: 403,
  GoneException: 410,
  LimitExceededException: 429,
  PayloadTooLargeException: 413,
  BadRequestException: 400,
  NotFoundException: 404,
  InternalServerErrorException: 500,
};

/** A request the management API refuses, answered as AWS would. */
export class ManagementApiError extends Error {
  override name = 'ManagementApiError';
  constructor(readonly errorType: ErrorType, message: string) {
    super(message);
  }
}

/** Answers one management API request; an unexpected error is answered with 500, then rethrown for logging. */
export async function handleManagementRequest(
  deps: ManagementApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const connectionId = parseConnectionPath(deps.stagePath, req);
    requireSignature(req);
    const body = await readBody(req, deps.maxMessageBytes);
    switch (req.method) {
      case 'POST':
        postToConnection(deps, connectionId, body, res);
        return;
      case 'GET':
        getConnection(deps, connectionId, res);
        return;
      case 'DELETE':
        deleteConnection(deps, connectionId, res);
        return;
      default:
        throw new ManagementApiError('NotFoundException', `no management operation for ${req.method}`);
    }
  } catch (error) {
    if (error instanceof ManagementApiError) {
      sendError(res, error.errorType, error.message);
    } else {
      sendError(res, 'InternalServerErrorException', 'internal error in the local gateway');
      throw error;
    }
  }
}

function postToConnection(deps: ManagementApiDeps, connectionId: string, body: Buffer, res: ServerResponse): void {
  const connection = liveConnection(deps, connectionId);
  if (connection.postBucket && !connection.postBucket.take(Date.now())) {
    throw new ManagementApiError('LimitExceededException', 'Rate exceeded');
  }
  connection.send(body);
  send(res, 200);
}

function getConnection(deps: ManagementApiDeps, connectionId: string, res: ServerResponse): void {
  const connection = liveConnection(deps, connectionId);
  // Wire names are the model's jsonName (camelCase); the SDK maps them to ConnectedAt, Identity, …
  const info = {
    connectedAt: connection.connectedAt.toISOString(),
    identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
    lastActiveAt: connection.lastActiveAt.toISOString(),
  };
  send(res, 200, JSON.stringify(info));
}

function deleteConnection(deps: ManagementApiDeps, connectionId: string, res: ServerResponse): void {
  // AWS closes with 1000 and reports "Connection Closed Normally" to $disconnect.
  liveConnection(deps, connectionId).close(1000, 'Connection Closed Normally');
  send(res, 204);
}

/** An open connection; one that is unknown, closed or closing is gone, as in AWS. */
function liveConnection(deps: ManagementApiDeps, connectionId: string): LiveConnection {
  const connection = deps.connection(connectionId);
  if (!connection || !connection.isOpen) {
    throw new ManagementApiError('GoneException', `connection ${connectionId} is gone`);
  }
  return connection;
}

/** The decoded connection id of `{stage}/@connections/{id}`; ids contain '=', '/' and '+', so they arrive encoded. */
function parseConnectionPath(stagePath: string, req: IncomingMessage): string {
  const path = (req.url ?? '').split('?')[0] ?? '';
  const prefix = `${stagePath}/`;
  const rest = path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
  const match = rest === undefined ? null : /^(?:@|%40)connections\/([^/]+)$/.exec(rest);
  const encodedId = match?.[1];
  if (encodedId === undefined) {
    throw new ManagementApiError('NotFoundException', `no management operation at ${path}`);
  }
  try {
    return decodeURIComponent(encodedId);
  } catch {
    throw new ManagementApiError('BadRequestException', 'connection id is not validly URL-encoded');
  }
}

/**
 * Any SigV4 signature is accepted (local credentials are dummies), but an unsigned call is
 * refused as the real endpoint refuses it.
 */
function requireSignature(req: IncomingMessage): void {
  const authorization = req.headers.authorization ?? '';
  const presigned = /[?&]X-Amz-Signature=/i.test(req.url ?? '');
  if (!authorization.startsWith('AWS4-HMAC-SHA256 ') && !presigned) {
    throw new ManagementApiError('ForbiddenException', 'Missing Authentication Token');
  }
}

/** Reads the body, keeping at most maxBytes + 1 bytes so an oversized one cannot exhaust memory. */
async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (total <= maxBytes) chunks.push(chunk);
    total += chunk.length;
  }
  if (total > maxBytes) {
    throw new ManagementApiError('PayloadTooLargeException', `Data is ${total} bytes; the limit is ${maxBytes} bytes`);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, json?: string): void {
  res.statusCode = status;
  res.setHeader('x-amzn-requestid', randomUUID());
  if (json === undefined) {
    res.end();
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(json);
}

function sendError(res: ServerResponse, errorType: ErrorType, message: string): void {
  if (res.headersSent) return;
  res.setHeader('x-amzn-errortype', errorType);
  send(res, STATUS[errorType], JSON.stringify({ message }));
}
