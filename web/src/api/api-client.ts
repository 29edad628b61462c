/**
 * The HTTP API as the app uses it. Every failure becomes an ApiError with a message a person
 * can read: the API's own `{error:{code,message}}`, or a plain sentence for the network.
 */
import type { CancelAccepted, ChatAccepted, ChatRequestBody, CircleSummary, JobTimeline, JobView, JobsPage, RedriveAccepted } from '../contracts';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  /** The bearer token; undefined when the session has run out. */
  token: () => string | undefined;
  /** Called when the API refuses the token (401). */
  onUnauthorized: () => void;
  fetch?: typeof fetch;
}

export const SESSION_EXPIRED = 'Your session has expired. Sign in again to continue; nothing you typed is lost.';

export class ApiClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ApiClientOptions) {
    this.fetch = options.fetch ?? ((...args) => fetch(...args));
  }

  advisors(): Promise<CircleSummary> {
    return this.call('GET', '/advisors');
  }

  chat(body: ChatRequestBody): Promise<ChatAccepted> {
    return this.call('POST', '/chat', body);
  }

  job(jobId: string): Promise<JobView> {
    return this.call('GET', `/jobs/${encodeURIComponent(jobId)}`);
  }

  jobs(cursor?: string, limit = 20): Promise<JobsPage> {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    return this.call('GET', `/jobs?${query}`);
  }

  cancel(jobId: string): Promise<CancelAccepted> {
    return this.call('POST', `/jobs/${encodeURIComponent(jobId)}/cancel`);
  }

  /** Runs a failed job's failed steps again (a 409 says why when it is not failed). */
  redrive(jobId: string): Promise<RedriveAccepted> {
    return this.call('POST', `/jobs/${encodeURIComponent(jobId)}/redrive`);
  }

  /** What happened when (owner only; a 404 when the job has none to show). */
  timeline(jobId: string): Promise<JobTimeline> {
    return this.call('GET', `/jobs/${encodeURIComponent(jobId)}/timeline`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = this.options.token();
    if (!token) {
      this.options.onUnauthorized();
      throw new ApiError(SESSION_EXPIRED, 'unauthorized', 401);
    }
    let res: Response;
    try {
      res = await this.fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError('Could not reach the Circle of Trust service. Check your connection and try again.', 'network', 0);
    }
    const json: unknown = await res.json().catch(() => undefined);
    if (res.status === 401) {
      this.options.onUnauthorized();
      throw new ApiError(SESSION_EXPIRED, 'unauthorized', 401);
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const message = typeof error?.message === 'string' && error.message ? error.message : `The service answered ${res.status}. Try again in a moment.`;
      throw new ApiError(message, typeof error?.code === 'string' ? error.code : `http_${res.status}`, res.status);
    }
    return json as T;
  }
}

/** A message for any error, never a stack. */
export function readableError(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return 'Something went wrong. Try again in a moment.';
}
