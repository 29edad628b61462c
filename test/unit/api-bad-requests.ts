/**
 * The POST /chat bad-input table, shared by the unit test (in-memory ports) and the
 * integration test (real HTTP, DynamoDB Local, fauxqs): every case is a 4xx with
 * `{error:{code,message}}` and must enqueue nothing.
 */
import { expect } from 'vitest';

export interface BadChatRequest {
  name: string;
  status: number;
  code: string;
  /** A value to JSON-encode, unless `raw` is given. */
  body?: unknown;
  raw?: string;
  /** Replaces the default headers (a valid bearer token and application/json). */
  headers?: Record<string, string>;
  /** A phrase the message must contain, so the caller can tell what to fix. */
  says?: string;
}

/** Every malformed, mistyped or oversized request body, plus a missing token, for `token`'s user. */
export function badChatRequests(token: string, maxQuestionChars: number): BadChatRequest[] {
  const json = { 'content-type': 'application/json' };
  const auth = { authorization: `Bearer ${token}` };
  return [
    { name: 'no token', status: 401, code: 'missing_token', body: { question: 'hi' }, headers: json },
    { name: 'a non-bearer authorization', status: 401, code: 'missing_token', body: { question: 'hi' }, headers: { ...json, authorization: 'Basic YTpi' } },
    { name: 'a text/plain body', status: 415, code: 'unsupported_media_type', raw: '{"question":"hi"}', headers: { ...auth, 'content-type': 'text/plain' } },
    { name: 'no content type', status: 415, code: 'unsupported_media_type', raw: '{"question":"hi"}', headers: { ...auth, 'content-type': '' } },
    { name: 'a form body', status: 415, code: 'unsupported_media_type', raw: 'question=hi', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' } },
    { name: 'a non-UTF-8 charset', status: 415, code: 'unsupported_media_type', raw: '{"question":"hi"}', headers: { ...auth, 'content-type': 'application/json; charset=latin1' } },
    { name: 'an unknown content encoding', status: 415, code: 'unsupported_media_type', raw: '{"question":"hi"}', headers: { ...auth, ...json, 'content-encoding': 'snappy' } },
    { name: 'malformed JSON', status: 400, code: 'invalid_json', raw: '{"question": "hi"' },
    { name: 'a JSON string instead of an object', status: 400, code: 'invalid_json', raw: '"hi"' },
    { name: 'a prototype-poisoning key', status: 400, code: 'invalid_json', raw: '{"question":"hi","__proto__":{"admin":true}}' },
    { name: 'a JSON array', status: 400, code: 'invalid_request', body: [{ question: 'hi' }], says: 'JSON object' },
    { name: 'an empty body', status: 400, code: 'invalid_request', raw: '', says: 'question is required' },
    { name: 'no question', status: 400, code: 'invalid_request', body: { mode: 'full' }, says: 'question is required' },
    { name: 'a numeric question', status: 400, code: 'invalid_request', body: { question: 42 }, says: 'question must be a string' },
    { name: 'a null question', status: 400, code: 'invalid_request', body: { question: null }, says: 'question' },
    { name: 'an empty question', status: 400, code: 'invalid_request', body: { question: '' }, says: 'question must not be empty' },
    { name: 'a whitespace-only question', status: 400, code: 'invalid_request', body: { question: ' \n\t ' }, says: 'question must not be empty' },
    { name: 'an over-long question', status: 400, code: 'invalid_request', body: { question: 'x'.repeat(maxQuestionChars + 1) }, says: `at most ${maxQuestionChars}` },
    { name: 'a question with a bell character', status: 400, code: 'invalid_request', body: { question: 'ring \u0007 ring' }, says: 'control characters' },
    { name: 'a question with a NUL', status: 400, code: 'invalid_request', body: { question: 'a\u0000b' }, says: 'control characters' },
    { name: 'a question with an escape sequence', status: 400, code: 'invalid_request', body: { question: 'red \u001b[31m' }, says: 'control characters' },
    { name: 'a question with a lone surrogate', status: 400, code: 'invalid_request', raw: '{"question":"a\\ud800b"}', says: 'control characters' },
    { name: 'an empty advisors list', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: [] }, says: 'advisors must not be empty' },
    { name: 'advisors as a string', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: 'claude' }, says: 'advisors' },
    { name: 'a numeric advisor id', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: [1] }, says: 'advisors' },
    { name: 'a repeated advisor', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: ['claude', 'claude'] }, says: 'repeat' },
    { name: 'an unknown advisor', status: 400, code: 'unknown_advisor', body: { question: 'hi', advisors: ['claude', 'gpt-9'] }, says: '"gpt-9"' },
    { name: 'one advisor, fewer than the quorum', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: ['claude'] }, says: 'at least 2 advisors' },
    { name: 'the chair as an advisor', status: 400, code: 'unknown_advisor', body: { question: 'hi', advisors: ['chair'] }, says: '"chair"' },
    { name: 'an unknown mode', status: 400, code: 'invalid_request', body: { question: 'hi', mode: 'slow' }, says: 'mode' },
    { name: 'a conversation id with a slash', status: 400, code: 'invalid_request', body: { question: 'hi', conversationId: 'a/b' }, says: 'conversationId' },
    { name: 'a too-long conversation id', status: 400, code: 'invalid_request', body: { question: 'hi', conversationId: 'c'.repeat(65) }, says: 'conversationId' },
    { name: 'an unknown field', status: 400, code: 'invalid_request', body: { question: 'hi', owner: 'bob' }, says: '"owner"' },
    { name: 'a body over 16 KB', status: 413, code: 'payload_too_large', body: { question: 'x'.repeat(17 * 1024) } },
  ];
}

/** Sends one case to `<baseUrl>/chat`. */
export function sendChat(baseUrl: string, token: string, c: BadChatRequest): Promise<Response> {
  const headers = c.headers ?? { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  return fetch(`${baseUrl}/chat`, { method: 'POST', headers, body: c.raw ?? JSON.stringify(c.body) });
}

/** Checks the answer is the case's status and code in exactly the `{error:{code,message}}` shape. */
export async function expectRejected(res: Response, c: BadChatRequest): Promise<void> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(res.status).toBe(c.status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(c.code);
  expect(body.error.message).toEqual(expect.any(String));
  expect(body.error.message).not.toMatch(/\bat .+\(.+:\d+:\d+\)/); // no stack trace
  if (c.says) expect(body.error.message).toContain(c.says);
}
