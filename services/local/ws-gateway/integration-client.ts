/**
 * Calls the backend the way API Gateway's HTTP integration would for the three routes.
 * The contract (paths, headers, bodies) is documented in ws-gateway.ts and README.md.
 */
import { WS_INTEGRATION_SECRET_HEADER } from '../../shared/contracts/ws.js';

export type RouteKey = '$connect' | '$default' | '$disconnect';

const ROUTES: Record<RouteKey, { path: string; eventType: string }> = {
  $connect: { path: '/ws/connect', eventType: 'CONNECT' },
  $default: { path: '/ws/default', eventType: 'MESSAGE' },
  $disconnect: { path: '/ws/disconnect', eventType: 'DISCONNECT' },
};

export interface RouteResponse {
  status: number;
  body: Buffer;
  contentType: string | undefined;
}

/** The backend could not be reached or broke the connection (API Gateway answers 502). */
export class IntegrationUnreachableError extends Error {
  override name = 'IntegrationUnreachableError';
}

/** The backend did not answer within the integration timeout (API Gateway answers 504). */
export class IntegrationTimeoutError extends Error {
  override name = 'IntegrationTimeoutError';
}

export interface RouteCall {
  connectionId: string;
  routeKey: RouteKey;
  headers?: Record<string, string>;
  body?: Buffer | string;
  contentType?: string;
}

/**
 * Posts route requests to `${integrationUrl}/ws/{connect,default,disconnect}`, each with the
 * integration secret header when one is configured (as the AWS integration's request
 * parameter mapping adds it), so the backend can tell the gateway from anyone else.
 */
export class IntegrationClient {
  private readonly baseUrl: string;

  constructor(
    integrationUrl: string,
    private readonly timeoutMs: number,
    private readonly integrationSecret?: string,
  ) {
    this.baseUrl = integrationUrl.replace(/\/+$/, '');
  }

  /** Sends one route request; throws IntegrationUnreachableError or IntegrationTimeoutError. */
  async call(route: RouteCall): Promise<RouteResponse> {
    const { path, eventType } = ROUTES[route.routeKey];
    const headers: Record<string, string> = {
      ...route.headers,
      'x-connection-id': route.connectionId,
      'x-route-key': route.routeKey,
      'x-event-type': eventType,
      'x-request-time-epoch': String(Date.now()),
    };
    if (route.contentType) headers['content-type'] = route.contentType;
    if (this.integrationSecret) headers[WS_INTEGRATION_SECRET_HEADER] = this.integrationSecret;
    try {
      const response = await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers,
        // fetch's types want an ArrayBuffer-backed view; copying at most 128 KB is cheap.
        body: typeof route.body === 'string' || route.body === undefined ? route.body : new Uint8Array(route.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const body = Buffer.from(await response.arrayBuffer());
      return { status: response.status, body, contentType: response.headers.get('content-type') ?? undefined };
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        throw new IntegrationTimeoutError(`${route.routeKey} integration timed out after ${this.timeoutMs} ms`, { cause: error });
      }
      throw new IntegrationUnreachableError(`${route.routeKey} integration at ${this.baseUrl}${path} failed`, { cause: error });
    }
  }
}
