import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { silentLogger } from '../../services/shared/logging.js';
import { fakeVerifier, MemoryJobQueue, MemoryJobStore, MemoryResultStore, MemorySnapshotStore, serve } from './api-memory-ports.js';

const MAX_QUESTION_CHARS = 100;

const jobs = new MemoryJobStore();
const queue = new MemoryJobQueue();
let api: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  const app = createApp({
    jobs,
    snapshots: new MemorySnapshotStore(jobs),
    results: new MemoryResultStore(),
    queue,
    circle: loadCircle(),
    verifier: fakeVerifier,
    logger: silentLogger(),
    config: { maxQuestionChars: MAX_QUESTION_CHARS, rateLimitPerMinute: 10_000 },
  });
  api = await serve(app);
});
afterAll(() => api.close());
beforeEach(() => {
  jobs.jobs.clear();
  queue.sent.length = 0;
});

interface BadRequest {
  name: string;
  status: number;
  code: string;
  /** Raw body (string) or a value to JSON-encode. */
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** A phrase the message must contain, so the caller can tell what to fix. */
  says?: string;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const AUTH = { authorization: 'Bearer user:alice' };

const cases: BadRequest[] = [
  { name: 'no token', status: 401, code: 'missing_token', body: { question: 'hi' }, headers: JSON_TYPE },
  { name: 'a non-bearer authorization', status: 401, code: 'missing_token', body: { question: 'hi' }, headers: { ...JSON_TYPE, authorization: 'Basic YTpi' } },
  { name: 'an invalid token', status: 401, code: 'invalid_token', body: { question: 'hi' }, headers: { ...JSON_TYPE, authorization: 'Bearer nope' } },
  { name: 'an expired token', status: 401, code: 'expired_token', body: { question: 'hi' }, headers: { ...JSON_TYPE, authorization: 'Bearer expired' } },
  { name: 'a text/plain body', status: 415, code: 'unsupported_media_type', raw: '{"question":"hi"}', headers: { ...AUTH, 'content-type': 'text/plain' } },
  { name: 'no content type', status: 415, code: 'unsupported_media_type', raw: '{"question":"hi"}', headers: { ...AUTH, 'content-type': '' } },
  { name: 'a form body', status: 415, code: 'unsupported_media_type', raw: 'question=hi', headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' } },
  { name: 'a non-UTF-8 charset', status: 415, code: 'unsupported_media_type', raw: '{"question":"hi"}', headers: { ...AUTH, 'content-type': 'application/json; charset=latin1' } },
  { name: 'an unknown content encoding', status: 415, code: 'unsupported_media_type', raw: '{"question":"hi"}', headers: { ...AUTH, ...JSON_TYPE, 'content-encoding': 'snappy' } },
  { name: 'malformed JSON', status: 400, code: 'invalid_json', raw: '{"question": "hi"', headers: { ...AUTH, ...JSON_TYPE } },
  { name: 'a JSON string instead of an object', status: 400, code: 'invalid_json', raw: '"hi"', headers: { ...AUTH, ...JSON_TYPE } },
  { name: 'a prototype-poisoning key', status: 400, code: 'invalid_json', raw: '{"question":"hi","__proto__":{"admin":true}}', headers: { ...AUTH, ...JSON_TYPE } },
  { name: 'a JSON array', status: 400, code: 'invalid_request', body: [{ question: 'hi' }], says: 'JSON object' },
  { name: 'an empty body', status: 400, code: 'invalid_request', raw: '', headers: { ...AUTH, ...JSON_TYPE }, says: 'question is required' },
  { name: 'no question', status: 400, code: 'invalid_request', body: { mode: 'full' }, says: 'question is required' },
  { name: 'a numeric question', status: 400, code: 'invalid_request', body: { question: 42 }, says: 'question must be a string' },
  { name: 'a null question', status: 400, code: 'invalid_request', body: { question: null }, says: 'question' },
  { name: 'an empty question', status: 400, code: 'invalid_request', body: { question: '' }, says: 'question must not be empty' },
  { name: 'a whitespace-only question', status: 400, code: 'invalid_request', body: { question: ' \n\t ' }, says: 'question must not be empty' },
  { name: 'an over-long question', status: 400, code: 'invalid_request', body: { question: 'x'.repeat(MAX_QUESTION_CHARS + 1) }, says: `at most ${MAX_QUESTION_CHARS}` },
  { name: 'a question with a bell character', status: 400, code: 'invalid_request', body: { question: 'ring \u0007 ring' }, says: 'control characters' },
  { name: 'a question with a NUL', status: 400, code: 'invalid_request', body: { question: 'a\u0000b' }, says: 'control characters' },
  { name: 'a question with an escape sequence', status: 400, code: 'invalid_request', body: { question: 'red \u001b[31m' }, says: 'control characters' },
  { name: 'a question with a lone surrogate', status: 400, code: 'invalid_request', raw: '{"question":"a\\ud800b"}', headers: { ...AUTH, ...JSON_TYPE }, says: 'control characters' },
  { name: 'an empty advisors list', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: [] }, says: 'advisors must not be empty' },
  { name: 'advisors as a string', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: 'claude' }, says: 'advisors' },
  { name: 'a numeric advisor id', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: [1] }, says: 'advisors' },
  { name: 'a repeated advisor', status: 400, code: 'invalid_request', body: { question: 'hi', advisors: ['claude', 'claude'] }, says: 'repeat' },
  { name: 'an unknown advisor', status: 400, code: 'unknown_advisor', body: { question: 'hi', advisors: ['claude', 'gpt-9'] }, says: '"gpt-9"' },
  { name: 'the chair as an advisor', status: 400, code: 'unknown_advisor', body: { question: 'hi', advisors: ['chair'] }, says: '"chair"' },
  { name: 'an unknown mode', status: 400, code: 'invalid_request', body: { question: 'hi', mode: 'slow' }, says: 'mode' },
  { name: 'a conversation id with a slash', status: 400, code: 'invalid_request', body: { question: 'hi', conversationId: 'a/b' }, says: 'conversationId' },
  { name: 'a too-long conversation id', status: 400, code: 'invalid_request', body: { question: 'hi', conversationId: 'c'.repeat(65) }, says: 'conversationId' },
  { name: 'an unknown field', status: 400, code: 'invalid_request', body: { question: 'hi', owner: 'bob' }, says: '"owner"' },
  { name: 'a body over 16 KB', status: 413, code: 'payload_too_large', body: { question: 'x'.repeat(17 * 1024) } },
];

async function post(c: BadRequest): Promise<Response> {
  const headers = c.headers ?? { ...AUTH, ...JSON_TYPE };
  const body = c.raw ?? JSON.stringify(c.body);
  return fetch(`${api.url}/chat`, { method: 'POST', headers, body });
}

describe('POST /chat input validation', () => {
  it.each(cases)('rejects $name with $status $code and enqueues nothing', async (c) => {
    const res = await post(c);
    const body = (await res.json()) as { error: { code: string; message: string } };

    expect(res.status).toBe(c.status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
    expect(body.error.code).toBe(c.code);
    expect(body.error.message).toEqual(expect.any(String));
    expect(body.error.message).not.toMatch(/\bat .+\(.+:\d+:\d+\)/); // no stack trace
    if (c.says) expect(body.error.message).toContain(c.says);
    expect(queue.sent).toEqual([]);
    expect(jobs.jobs.size).toBe(0);
  });

  it('rejects a chunked body that grows past 16 KB without a Content-Length', async () => {
    const chunk = new TextEncoder().encode(`{"question":"${'x'.repeat(4096)}`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${api.url}/chat`, {
      method: 'POST',
      headers: { ...AUTH, ...JSON_TYPE },
      body: stream,
      duplex: 'half',
    } as RequestInit);

    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    expect(queue.sent).toEqual([]);
  });

  it('answers a 401 with an RFC 6750 challenge naming the token error', async () => {
    const missing = await post({ ...cases[0]!, headers: JSON_TYPE });
    const invalid = await post({ ...cases[2]! });

    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="circle-of-trust"');
    expect(invalid.headers.get('www-authenticate')).toMatch(/^Bearer realm="circle-of-trust", error="invalid_token", error_description="[^"]+"$/);
  });

  it('accepts a question of exactly the maximum length, counted in characters, and enqueues it once', async () => {
    const question = '🙂'.repeat(MAX_QUESTION_CHARS); // 2 UTF-16 units each

    const res = await fetch(`${api.url}/chat`, { method: 'POST', headers: { ...AUTH, ...JSON_TYPE }, body: JSON.stringify({ question }) });

    expect(res.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });
});
