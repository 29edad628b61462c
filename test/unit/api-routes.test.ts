import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { silentLogger, type Logger } from '../../services/shared/logging.js';
import type { JobItem, JobView } from '../../services/shared/contracts/job.js';
import { fakeVerifier, memoryLogger, MemoryJobQueue, MemoryJobStore, MemoryResultStore, MemorySnapshotStore, serve } from './api-memory-ports.js';

const circle = loadCircle();

interface Harness {
  url: string;
  jobs: MemoryJobStore;
  snapshots: MemorySnapshotStore;
  queue: MemoryJobQueue;
  clock: { t: number; now(): number };
}

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

async function start(opts: { rateLimitPerMinute?: number; logger?: Logger } = {}): Promise<Harness> {
  const jobs = new MemoryJobStore();
  const snapshots = new MemorySnapshotStore(jobs);
  const queue = new MemoryJobQueue();
  const clock = { t: Date.UTC(2025, 0, 1, 10), now: () => clock.t };
  const app = createApp({
    jobs,
    snapshots,
    results: new MemoryResultStore(),
    queue,
    circle,
    verifier: fakeVerifier,
    logger: opts.logger ?? silentLogger(),
    config: { maxQuestionChars: 4000, rateLimitPerMinute: opts.rateLimitPerMinute ?? 1000 },
    clock,
  });
  const server = await serve(app);
  closers.push(server.close);
  return { url: server.url, jobs, snapshots, queue, clock };
}

const as = (user: string) => ({ authorization: `Bearer user:${user}`, 'content-type': 'application/json' });

async function ask(h: Harness, user: string, body: unknown = { question: 'Should I learn Rust?' }) {
  const res = await fetch(`${h.url}/chat`, { method: 'POST', headers: as(user), body: JSON.stringify(body) });
  return { res, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
}

async function call(h: Harness, user: string | undefined, method: string, path: string) {
  const headers: Record<string, string> = user ? { authorization: `Bearer user:${user}` } : {};
  const res = await fetch(`${h.url}${path}`, { method, headers });
  const text = await res.text();
  return { res, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> & { error?: { code: string; message: string } } };
}

describe('GET /jobs/{id} while the worker commits', () => {
  const fixture = (name: string) =>
    JSON.parse(readFileSync(fileURLToPath(new URL(`../../fixtures/snapshots/advisory-1/${name}.json`, import.meta.url)), 'utf8')) as { snapshot: unknown };

  it('never pairs a finished status with the snapshot from before the end', async () => {
    const h = await start();
    const { body } = await ask(h, 'alice');
    const jobId = body.jobId as string;
    Object.assign(h.jobs.jobs.get(jobId)!, { status: 'running', stage: 'synthesizing' });
    Object.assign(h.jobs.states.get(jobId)!, { version: 9, machineVersion: 'advisory/1', snapshot: JSON.stringify(fixture('synthesizing').snapshot) });

    // The worker's final commit (Jobs status and State snapshot in one transaction) lands
    // while the API is reading the job.
    const read = h.jobs.get.bind(h.jobs);
    h.jobs.get = async (id: string) => {
      await new Promise((r) => setTimeout(r, 5));
      Object.assign(h.jobs.jobs.get(jobId)!, { status: 'succeeded', stage: 'done' });
      Object.assign(h.jobs.states.get(jobId)!, { version: 10, snapshot: JSON.stringify(fixture('succeeded').snapshot) });
      return read(id);
    };

    const { res, body: view } = await call(h, 'alice', 'GET', `/jobs/${jobId}`);
    expect(res.status).toBe(200);
    expect(view).toMatchObject({ status: 'succeeded', seq: 10, synthesis: { status: 'succeeded' } });
  });
});

describe('POST /chat', () => {
  it('stores the job for the token subject, enqueues its id and answers 202 queued', async () => {
    const h = await start();

    const { res, body } = await ask(h, 'alice', { question: '  Should I learn Rust?\r\nOr Go?  ', advisors: ['llama', 'claude'], mode: 'quick' });

    expect(res.status).toBe(202);
    // A new conversation is named after its first job.
    expect(body).toEqual({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued', conversationId: body.jobId });
    expect(res.headers.get('location')).toBe(`/jobs/${body.jobId}`);
    expect(h.queue.sent).toEqual([JSON.stringify({ jobId: body.jobId })]);
    const job = h.jobs.jobs.get(body.jobId as string);
    expect(job).toEqual({
      jobId: body.jobId as string,
      owner: 'alice',
      question: 'Should I learn Rust?\nOr Go?',
      questionPreview: 'Should I learn Rust?\nOr Go?',
      advisors: ['claude', 'llama'], // circle order
      mode: 'quick',
      conversationId: body.jobId as string,
      status: 'queued',
      stage: 'queued',
      createdAt: '2025-01-01T10:00:00.000Z',
      updatedAt: '2025-01-01T10:00:00.000Z',
      expiresAt: Date.UTC(2025, 0, 1, 10) / 1000 + 90 * 24 * 3600,
    } satisfies JobItem);
  });

  it('continues one of the caller’s conversations and refuses anyone else’s, storing nothing', async () => {
    const h = await start();
    const { body: first } = await ask(h, 'alice', { question: 'Should I learn Rust?' });

    const { res, body } = await ask(h, 'alice', { question: 'And Go?', conversationId: first.conversationId });
    expect(res.status).toBe(202);
    expect(body.conversationId).toBe(first.jobId);
    expect(h.jobs.jobs.get(body.jobId as string)?.conversationId).toBe(first.jobId);

    for (const [user, conversationId] of [['mallory', first.conversationId], ['alice', 'no-such-conversation'], ['alice', body.jobId]] as const) {
      const refused = await ask(h, user, { question: 'And Zig?', conversationId });
      expect(refused.res.status).toBe(404);
      expect(refused.body.error?.code).toBe('not_found');
    }
    expect(h.jobs.jobs.size).toBe(2);
    expect(h.queue.sent).toHaveLength(2);
  });

  it('asks the whole circle in full mode by default and previews the first 120 characters', async () => {
    const h = await start();
    const question = 'q'.repeat(300);

    const { body } = await ask(h, 'alice', { question });

    const job = h.jobs.jobs.get(body.jobId as string);
    expect(job?.advisors).toEqual(['claude', 'mistral', 'llama']);
    expect(job?.mode).toBe('full');
    expect(job?.questionPreview).toBe('q'.repeat(120));
  });

  it('marks the job failed with a reason and answers 503 when the queue is down', async () => {
    const h = await start();
    h.queue.failSend = new Error('connect ECONNREFUSED 127.0.0.1:9324');

    const { res, body } = await ask(h, 'alice');

    expect(res.status).toBe(503);
    expect(body.error?.code).toBe('unavailable');
    expect(body.error?.message).not.toContain('ECONNREFUSED');
    const [job] = h.jobs.jobs.values();
    expect(job).toMatchObject({ status: 'failed', stage: 'done', reason: expect.stringContaining('could not be queued') });
    const view = await call(h, 'alice', 'GET', `/jobs/${job?.jobId}`);
    expect(view.body).toMatchObject({ status: 'failed', reason: job?.reason });
  });

  it('answers 503 and enqueues nothing when the job cannot be stored', async () => {
    const h = await start();
    h.jobs.failCreate = new Error('ProvisionedThroughputExceededException');

    const { res, body } = await ask(h, 'alice');

    expect(res.status).toBe(503);
    expect(body.error?.code).toBe('unavailable');
    expect(h.queue.sent).toEqual([]);
  });

  it('limits each subject to its rate and says when to retry', async () => {
    const h = await start({ rateLimitPerMinute: 2 });

    expect((await ask(h, 'alice')).res.status).toBe(202);
    expect((await ask(h, 'alice')).res.status).toBe(202);
    const limited = await ask(h, 'alice');
    const other = await ask(h, 'bob');
    h.clock.t += 30_000;
    const later = await ask(h, 'alice');

    expect(limited.res.status).toBe(429);
    expect(limited.body.error?.code).toBe('rate_limited');
    expect(limited.res.headers.get('retry-after')).toBe('30');
    expect(other.res.status).toBe(202);
    expect(later.res.status).toBe(202);
    expect(h.queue.sent).toHaveLength(4);
  });
});

describe('GET /jobs/{id}', () => {
  it('shows the owner a queued job with every advisor pending', async () => {
    const h = await start();
    const { body: created } = await ask(h, 'alice');

    const { res, body } = await call(h, 'alice', 'GET', `/jobs/${created.jobId}`);
    const view = body as unknown as JobView;

    expect(res.status).toBe(200);
    expect(view).toMatchObject({ jobId: created.jobId, status: 'queued', stage: 'queued', question: 'Should I learn Rust?', seq: 0 });
    expect(view.advisors.map((a) => [a.name, a.answer.status])).toEqual([
      ['Claude', 'pending'],
      ['Mistral', 'pending'],
      ['Llama', 'pending'],
    ]);
  });

  it("answers another user's job, a missing job and a malformed id with the same 404", async () => {
    const h = await start();
    const { body: created } = await ask(h, 'alice');

    const foreign = await call(h, 'bob', 'GET', `/jobs/${created.jobId}`);
    const missing = await call(h, 'bob', 'GET', '/jobs/00000000-0000-4000-8000-000000000000');
    const malformed = await call(h, 'bob', 'GET', '/jobs/..%2F..%2Fetc');

    for (const r of [foreign, missing, malformed]) {
      expect(r.res.status).toBe(404);
      expect(r.body).toEqual({ error: { code: 'not_found', message: 'no such job' } });
    }
  });

  it('answers an unexpected failure with a generic 500 naming the request id, and logs the cause', async () => {
    const log = memoryLogger();
    const h = await start({ logger: log.logger });
    const { body: created } = await ask(h, 'alice');
    h.snapshots.failGet = new Error('secret internal detail');

    const { res, body } = await call(h, 'alice', 'GET', `/jobs/${created.jobId}`);

    const requestId = res.headers.get('x-request-id');
    expect(res.status).toBe(500);
    expect(body.error?.code).toBe('internal');
    expect(body.error?.message).toContain(requestId);
    expect(body.error?.message).not.toContain('secret internal detail');
    const logged = log.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.some((l) => l.requestId === requestId && l.msg === 'request failed' && JSON.stringify(l.err).includes('secret internal detail'))).toBe(true);
  });
});

describe('GET /jobs', () => {
  it("lists only the caller's jobs, newest first, a page at a time", async () => {
    const h = await start();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      h.clock.t += 1000;
      ids.push((await ask(h, 'alice', { question: `question ${i}` })).body.jobId as string);
    }
    await ask(h, 'bob');

    const first = await call(h, 'alice', 'GET', '/jobs?limit=2');
    const second = await call(h, 'alice', 'GET', `/jobs?limit=2&cursor=${encodeURIComponent(first.body.cursor as string)}`);
    const third = await call(h, 'alice', 'GET', `/jobs?limit=2&cursor=${encodeURIComponent(second.body.cursor as string)}`);

    const idsOf = (r: typeof first) => (r.body.items as { jobId: string }[]).map((i) => i.jobId);
    expect([...idsOf(first), ...idsOf(second), ...idsOf(third)]).toEqual([...ids].reverse());
    expect(third.body.cursor).toBeUndefined();
    expect((first.body.items as Record<string, unknown>[])[0]).toEqual({
      jobId: ids[4],
      status: 'queued',
      stage: 'queued',
      mode: 'full',
      questionPreview: 'question 4',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
  });

  it.each([
    ['limit=0', 'invalid_request'],
    ['limit=101', 'invalid_request'],
    ['limit=abc', 'invalid_request'],
    ['limit=1.5', 'invalid_request'],
    ['limit=1&limit=2', 'invalid_request'],
    ['cursor=', 'invalid_cursor'],
    ['cursor=garbage', 'invalid_cursor'],
    ['cursor=bob%7C0', 'invalid_cursor'],
  ])('rejects %s with 400 %s', async (query, code) => {
    const h = await start();

    const { res, body } = await call(h, 'alice', 'GET', `/jobs?${query}`);

    expect(res.status).toBe(400);
    expect(body.error?.code).toBe(code);
  });
});

describe('POST /jobs/{id}/cancel', () => {
  it("flags the owner's running job for the worker and answers 202 cancelling", async () => {
    const h = await start();
    const { body: created } = await ask(h, 'alice');

    const { res, body } = await call(h, 'alice', 'POST', `/jobs/${created.jobId}/cancel`);

    expect(res.status).toBe(202);
    expect(body).toEqual({ jobId: created.jobId, status: 'cancelling' });
    expect(h.jobs.states.get(created.jobId as string)).toMatchObject({ cancelRequested: true, cancelReason: expect.any(String) });
  });

  it("answers 404 for another user's job and leaves it untouched", async () => {
    const h = await start();
    const { body: created } = await ask(h, 'alice');

    const { res, body } = await call(h, 'bob', 'POST', `/jobs/${created.jobId}/cancel`);

    expect(res.status).toBe(404);
    expect(body.error?.code).toBe('not_found');
    expect(h.jobs.states.get(created.jobId as string)?.cancelRequested).toBeUndefined();
  });

  it('answers 409 job_finished for a job that has ended', async () => {
    const h = await start();
    const { body: created } = await ask(h, 'alice');
    await h.jobs.setStatus(created.jobId as string, 'succeeded', 'done');

    const { res, body } = await call(h, 'alice', 'POST', `/jobs/${created.jobId}/cancel`);

    expect(res.status).toBe(409);
    expect(body.error?.code).toBe('job_finished');
  });
});

describe('GET /advisors', () => {
  it('describes the circle and the question limit without the personas’ prompts', async () => {
    const h = await start();

    const { res, body } = await call(h, 'alice', 'GET', '/advisors');

    expect(res.status).toBe(200);
    expect(body).toEqual({
      advisors: [
        { id: 'claude', name: 'Claude', modelId: circle.advisors[0]?.modelId, title: 'Strategist' },
        { id: 'mistral', name: 'Mistral', modelId: circle.advisors[1]?.modelId, title: 'Pragmatist' },
        { id: 'llama', name: 'Llama', modelId: circle.advisors[2]?.modelId, title: 'Skeptic' },
      ],
      chair: { id: 'chair', name: 'Chair', modelId: circle.chair.modelId },
      quorum: 2,
      modes: ['full', 'quick'],
      limits: { maxQuestionChars: 4000 },
    });
    expect(JSON.stringify(body)).not.toContain('You are');
  });

  it('requires a token', async () => {
    const h = await start();

    const { res, body } = await call(h, undefined, 'GET', '/advisors');

    expect(res.status).toBe(401);
    expect(body.error?.code).toBe('missing_token');
  });
});

describe('the API surface', () => {
  it('answers /healthz without a token', async () => {
    const h = await start();

    const { res, body } = await call(h, undefined, 'GET', '/healthz');

    expect(res.status).toBe(200);
    expect(body).toEqual({ status: 'ok' });
  });

  it('answers an unknown route with a JSON 404 and a wrong method with a JSON 405 and Allow', async () => {
    const h = await start();

    const unknown = await call(h, 'alice', 'GET', '/nope');
    const wrongMethod = await call(h, 'alice', 'DELETE', '/chat');

    expect(unknown.res.status).toBe(404);
    expect(unknown.body.error?.code).toBe('not_found');
    expect(wrongMethod.res.status).toBe(405);
    expect(wrongMethod.body.error?.code).toBe('method_not_allowed');
    expect(wrongMethod.res.headers.get('allow')).toBe('POST');
  });

  it('sends security headers and a request id on every answer, errors included', async () => {
    const h = await start();

    for (const r of [await call(h, undefined, 'GET', '/healthz'), await call(h, undefined, 'GET', '/jobs')]) {
      expect(r.res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.res.headers.get('cache-control')).toBe('no-store');
      expect(r.res.headers.get('x-frame-options')).toBe('DENY');
      expect(r.res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(r.res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('writes one access-log line per request with the final status and never the token or the question', async () => {
    const log = memoryLogger();
    const h = await start({ logger: log.logger });

    await ask(h, 'alice', { question: 'my secret question' });
    await call(h, undefined, 'GET', '/jobs');

    const lines = log.lines();
    const access = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    expect(access.map((l) => [l.method, l.path, l.status, l.sub])).toEqual([
      ['POST', '/chat', 202, 'alice'],
      ['GET', '/jobs', 401, undefined],
    ]);
    expect(lines.join('\n')).not.toContain('user:alice');
    expect(lines.join('\n')).not.toContain('my secret question');
  });
});
