import { bodyParser } from '@koa/bodyparser';
import { InvalidJsonError, PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../errors.js';
import type { ApiContext, ApiMiddleware } from './context.js';

/** Largest request body accepted (a question is a few KB at most). */
export const MAX_BODY_BYTES = 16 * 1024;

/**
 * Requires an application/json body of at most `limitBytes` (after any content decoding)
 * and parses it into ctx.request.body. Errors become 415, 413 or 400 invalid_json.
 */
export function jsonBody(limitBytes = MAX_BODY_BYTES): ApiMiddleware {
  const parse = bodyParser({
    enableTypes: ['json'],
    jsonLimit: limitBytes,
    jsonStrict: true,
    encoding: 'utf-8',
    onError: (err) => {
      throw toBodyError(err, limitBytes);
    },
  });
  return async function jsonBody(ctx: ApiContext, next) {
    if (!isJson(ctx.get('content-type'))) throw new UnsupportedMediaTypeError();
    await parse(ctx as never, next);
  };
}

function isJson(contentType: string): boolean {
  const [type = '', ...params] = contentType.toLowerCase().split(';').map((p) => p.trim());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  return type === 'application/json' && (charset === undefined || charset === 'utf-8' || charset === 'utf8');
}

function toBodyError(err: Error, limitBytes: number): Error {
  const { status, type } = err as Error & { status?: number; type?: string };
  if (status === 413) return new PayloadTooLargeError(limitBytes, { cause: err });
  if (status === 415) return new UnsupportedMediaTypeError('the request body has an unsupported content encoding', { cause: err });
  if (type === 'request.aborted' || type === 'request.size.invalid') return new ValidationError('the request body was incomplete', { cause: err });
  return new InvalidJsonError(undefined, { cause: err });
}
