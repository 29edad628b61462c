/** A small typed HTTP client for tests: every call returns the status and the parsed JSON body. */

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  body: T;
  /** The raw body text. */
  text: string;
}

/** The API's error shape. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as-is (not JSON-encoded), e.g. malformed JSON for bad-input tests. */
  rawBody?: string;
  timeoutMs?: number;
}

export interface ApiClient {
  readonly baseUrl: string;
  get<T = unknown>(path: string, opts?: RequestOptions): Promise<HttpResponse<T>>;
  post<T = unknown>(path: string, body?: unknown, opts?: RequestOptions): Promise<HttpResponse<T>>;
  request<T = unknown>(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<HttpResponse<T>>;
  /** The same client with another bearer token (undefined: none). */
  withToken(token: string | undefined): ApiClient;
}

/** A client for `baseUrl`, sending `Authorization: Bearer <token>` when a token is given. */
export function apiClient(baseUrl: string, token?: string): ApiClient {
  const request = async <T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<HttpResponse<T>> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (opts.rawBody !== undefined) payload = opts.rawBody;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(new URL(path, baseUrl), {
      method,
      headers: { ...headers, ...opts.headers },
      body: payload,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: parseJson(text) as T, text };
  };
  return {
    baseUrl,
    get: (path, opts) => request('GET', path, undefined, opts),
    post: (path, body, opts) => request('POST', path, body, opts),
    request,
    withToken: (t) => apiClient(baseUrl, t),
  };
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
