import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { silentLogger } from '../../services/shared/logging.js';
import { badChatRequests, expectRejected, sendChat, type BadChatRequest } from './api-bad-requests.js';
import { fakeVerifier, MemoryJobQueue, MemoryJobStore, MemoryResultStore, MemorySnapshotStore, serve } from './api-memory-ports.js';

const MAX_QUESTION_CHARS = 100;
const TOKEN = 'user:alice';
const JSON_TYPE = { 'content-type': 'application/json' };

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

// The fake verifier's rejected tokens; real crafted tokens are in the integration test.
const tokenCases: BadChatRequest[] = [
  { name: 'an invalid token', status: 401, code: 'invalid_token', body: { question: 'hi' }, headers: { ...JSON_TYPE, authorization: 'Bearer nope' } },
  { name: 'an expired token', status: 401, code: 'expired_token', body: { question: 'hi' }, headers: { ...JSON_TYPE, authorization: 'Bearer expired' } },
];

describe('POST /chat input validation', () => {
  it.each([...badChatRequests(TOKEN, MAX_QUESTION_CHARS), ...tokenCases])('rejects $name with $status $code and enqueues nothing', async (c) => {
    await expectRejected(await sendChat(api.url, TOKEN, c), c);

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
      headers: { authorization: `Bearer ${TOKEN}`, ...JSON_TYPE },
      body: stream,
      duplex: 'half',
    } as RequestInit);

    await expectRejected(res, { name: 'chunked', status: 413, code: 'payload_too_large' });
    expect(queue.sent).toEqual([]);
  });

  it('answers a 401 with an RFC 6750 challenge naming the token error', async () => {
    const [missingCase] = badChatRequests(TOKEN, MAX_QUESTION_CHARS);
    const missing = await sendChat(api.url, TOKEN, missingCase!);
    const invalid = await sendChat(api.url, TOKEN, tokenCases[0]!);

    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="circle-of-trust"');
    expect(invalid.headers.get('www-authenticate')).toMatch(/^Bearer realm="circle-of-trust", error="invalid_token", error_description="[^"]+"$/);
  });

  it('accepts a question of exactly the maximum length, counted in characters, and enqueues it once', async () => {
    const question = '🙂'.repeat(MAX_QUESTION_CHARS); // 2 UTF-16 units each

    const res = await fetch(`${api.url}/chat`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...JSON_TYPE }, body: JSON.stringify({ question }) });

    expect(res.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });
});
