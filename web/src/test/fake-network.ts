/**
 * The network edge, faked for component tests: fetch answering like the HTTP API, and a
 * WebSocket the test drives as the server would. Everything behind them — the protocol
 * module, the stores, the components — is the real code.
 */
import type { ServerMessage } from '../contracts';
import type { SocketLike } from '../live/job-live';

type Handler = (req: { method: string; path: string; body?: unknown }) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

export interface FakeApi {
  fetch: typeof fetch;
  /** Every request made, in order. */
  requests: { method: string; path: string; body?: unknown; authorization?: string }[];
  on(method: string, path: string | RegExp, handler: Handler | { status: number; body?: unknown }): void;
}

export function fakeApi(baseUrl: string): FakeApi {
  const routes: { method: string; path: string | RegExp; handler: Handler }[] = [];
  const requests: FakeApi['requests'] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const path = url.startsWith(baseUrl) ? url.slice(baseUrl.length) : url;
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const headers = new Headers(init?.headers);
    requests.push({ method, path, body, authorization: headers.get('authorization') ?? undefined });
    const route = [...routes].reverse().find((r) => r.method === method && (typeof r.path === 'string' ? r.path === path : r.path.test(path)));
    if (!route) return json(404, { error: { code: 'not_found', message: `no route for ${method} ${path}` } });
    const answer = await route.handler({ method, path, body });
    return json(answer.status, answer.body);
  };
  return {
    fetch: fetchImpl as typeof fetch,
    requests,
    on(method, path, handler) {
      routes.push({ method, path, handler: typeof handler === 'function' ? handler : () => handler });
    },
  };
}

function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** A WebSocket the test plays the server for. */
export class FakeSocket implements SocketLike {
  readyState = 0;
  readonly sent: unknown[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closedByClient = false;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.closedByClient = true;
    this.readyState = 3;
  }

  /** The handshake succeeded. */
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  /** Sends messages as one frame (a JSON array when several). */
  push(...messages: ServerMessage[]): void {
    this.raw(JSON.stringify(messages.length === 1 ? messages[0] : messages));
  }

  raw(frame: string): void {
    this.onmessage?.(new MessageEvent('message', { data: frame }));
  }

  /** The network dropped the connection. */
  drop(): void {
    this.readyState = 3;
    this.onclose?.(new CloseEvent('close', { code: 1006 }));
  }
}

export interface FakeSockets {
  open: (url: string) => SocketLike;
  all: FakeSocket[];
  /** The most recent socket. */
  last(): FakeSocket;
}

export function fakeSockets(): FakeSockets {
  const all: FakeSocket[] = [];
  return {
    all,
    open: (url) => {
      const s = new FakeSocket(url);
      all.push(s);
      return s;
    },
    last: () => {
      const s = all.at(-1);
      if (!s) throw new Error('no socket opened yet');
      return s;
    },
  };
}
