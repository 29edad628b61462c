/**
 * The API's typed errors and the ONE place that turns any error into an HTTP answer
 * `{ error: { code, message } }`. Handlers and middleware throw; the error boundary calls
 * toErrorResponse and never lets a stack trace reach a caller.
 */
import { AuthError } from '../shared/auth/errors.js';
import { InvalidCursorError } from '../shared/errors.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True for failures on our side, which are logged with their cause. */
  internal: boolean;
}

/** Base of the API's typed errors: an HTTP status, a stable machine code and a message safe to show. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** Extra response headers (Allow, Retry-After, …). */
  headers(): Record<string, string> {
    return {};
  }
}

/** The body or query does not match its schema. */
export class ValidationError extends ApiError {
  override name = 'ValidationError';
  constructor(message: string, options?: ErrorOptions) {
    super(400, 'invalid_request', message, options);
  }
}

/** The body is not parseable JSON (or not a JSON object). */
export class InvalidJsonError extends ApiError {
  override name = 'InvalidJsonError';
  constructor(message = 'the request body is not valid JSON', options?: ErrorOptions) {
    super(400, 'invalid_json', message, options);
  }
}

/** An advisor id that is not in the circle. */
export class UnknownAdvisorError extends ApiError {
  override name = 'UnknownAdvisorError';
  constructor(readonly advisorId: string, known: readonly string[]) {
    super(400, 'unknown_advisor', `unknown advisor "${advisorId}"; the circle has ${known.join(', ')}`);
  }
}

/** The caller may not use this route at all (not a matter of which job: see NotFoundError). */
export class ForbiddenError extends ApiError {
  override name = 'ForbiddenError';
  constructor(message: string, options?: ErrorOptions) {
    super(403, 'forbidden', message, options);
  }
}

/** Missing, or not the caller's: the same answer either way, so ids cannot be probed. */
export class NotFoundError extends ApiError {
  override name = 'NotFoundError';
  constructor(message = 'no such job', options?: ErrorOptions) {
    super(404, 'not_found', message, options);
  }
}

/** A CORS preflight from a page whose origin is not on the allow-list (COT_CORS_ORIGINS). */
export class OriginNotAllowedError extends ApiError {
  override name = 'OriginNotAllowedError';
  constructor(origin: string) {
    super(403, 'origin_not_allowed', `pages from ${JSON.stringify(origin.slice(0, 200))} may not call this API`);
  }
}

/** The path exists but not with this method. */
export class MethodNotAllowedError extends ApiError {
  override name = 'MethodNotAllowedError';
  constructor(
    method: string,
    readonly allowed: readonly string[],
  ) {
    super(405, 'method_not_allowed', `${method} is not allowed here; use ${allowed.join(', ')}`);
  }

  override headers(): Record<string, string> {
    return { Allow: this.allowed.join(', ') };
  }
}

/** The job is already succeeded, failed or cancelled. */
export class JobFinishedError extends ApiError {
  override name = 'JobFinishedError';
  constructor(status: string) {
    super(409, 'job_finished', `the job has already ${status === 'cancelled' ? 'been cancelled' : status}`);
  }
}

/** Only a failed job can be redriven. */
export class JobNotFailedError extends ApiError {
  override name = 'JobNotFailedError';
  constructor(status: string) {
    super(409, 'job_not_failed', `only a failed job can be redriven; this one ${NOT_FAILED[status] ?? `is ${status}`}`);
  }
}

const NOT_FAILED: Record<string, string> = {
  queued: 'is already queued to run again',
  running: 'is still running',
  succeeded: 'has succeeded',
  cancelled: 'was cancelled',
};

export class PayloadTooLargeError extends ApiError {
  override name = 'PayloadTooLargeError';
  constructor(limitBytes: number, options?: ErrorOptions) {
    super(413, 'payload_too_large', `the request body is larger than ${Math.round(limitBytes / 1024)} KB`, options);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  override name = 'UnsupportedMediaTypeError';
  constructor(message = 'the request body must be application/json', options?: ErrorOptions) {
    super(415, 'unsupported_media_type', message, options);
  }
}

/** A user already has as many WebSocket connections open as allowed. */
export class TooManyConnectionsError extends ApiError {
  override name = 'TooManyConnectionsError';
  constructor(readonly limit: number) {
    super(429, 'too_many_connections', `you already have ${limit} live connections open; close one (e.g. another tab) and reconnect`);
  }
}

/** Too many requests from one subject; Retry-After says when a token will be available. */
export class RateLimitedError extends ApiError {
  override name = 'RateLimitedError';
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'rate_limited', `too many requests; try again in ${retryAfterSeconds} s`);
  }

  override headers(): Record<string, string> {
    return { 'Retry-After': String(this.retryAfterSeconds) };
  }
}

/** A dependency (job store, queue) failed; the request can be retried. */
export class UnavailableError extends ApiError {
  override name = 'UnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super(503, 'unavailable', message, options);
  }
}

/** Codes for client errors raised by koa or its middleware as http-errors (status + expose). */
const HTTP_CODES: Record<number, string> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  501: 'not_implemented',
};

const REALM = 'circle-of-trust';

/** Maps any thrown value to the HTTP answer; unexpected errors become a generic 500 naming the request id. */
export function toErrorResponse(err: unknown, requestId: string): ErrorResponse {
  if (err instanceof ApiError) {
    return { status: err.status, body: errorBody(err.code, err.message), headers: err.headers(), internal: err.status >= 500 };
  }
  if (err instanceof AuthError) {
    // RFC 6750 §3: no error attribute when the request carried no token at all.
    const challenge =
      err.code === 'missing_token'
        ? `Bearer realm="${REALM}"`
        : `Bearer realm="${REALM}", error="invalid_token", error_description="${quoteSafe(err.message)}"`;
    return { status: 401, body: errorBody(err.code, err.message), headers: { 'WWW-Authenticate': challenge }, internal: false };
  }
  if (err instanceof InvalidCursorError) {
    return { status: 400, body: errorBody('invalid_cursor', 'the cursor is not valid for this listing'), headers: {}, internal: false };
  }
  const httpError = asClientHttpError(err);
  if (httpError) {
    const code = HTTP_CODES[httpError.status] ?? 'bad_request';
    return { status: httpError.status, body: errorBody(code, httpError.message), headers: {}, internal: false };
  }
  return {
    status: 500,
    body: errorBody('internal', `something went wrong on our side; quote request id ${requestId} if you report it`),
    headers: {},
    internal: true,
  };
}

function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** koa's ctx.throw and http-errors mark client-safe messages with `expose`. */
function asClientHttpError(err: unknown): { status: number; message: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { status, expose, message } = err as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500 || expose !== true) return undefined;
  return { status, message: typeof message === 'string' ? message : 'bad request' };
}

/** Header quoted-strings cannot carry quotes, backslashes or control characters. */
function quoteSafe(text: string): string {
  return text.replace(/[\\"\u0000-\u001f\u007f]/g, ' ').slice(0, 200);
}
