import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { REPO_ROOT } from '../../services/local/stack.js';
import { spawnManaged } from '../../services/local/processes.js';
import { readStackFile, stackFilePath, type StackFile } from '../../services/local/stack-file.js';
import { launcherEnv, startTestStack, tokenFor, type TestStack } from '../support/local-stack.js';
import { apiClient } from '../support/http-client.js';
import { createPlaceholderWebApp } from '../support/placeholder-web-app.js';
import { processAlive, waitUntilGone } from '../support/processes.js';

describe('startLocalStack', () => {
  it('serves a healthy API with two ready workers and leaves no process behind after stop', async () => {
    let stack: TestStack | undefined;
    try {
      stack = await startTestStack({ workers: 2 });
      const health = await apiClient(stack.apiUrl).get('/healthz');
      expect(health.status).toBe(200);
      expect(stack.workers).toHaveLength(2);
      for (const w of stack.workers) expect(w.output()).toContain('"msg":"worker ready"');

      const tables = await stack.aws.dynamo.send(new ListTablesCommand({}));
      expect(tables.TableNames).toEqual(expect.arrayContaining(Object.values(stack.tables)));

      // The child env points every service at this stack's stand-ins.
      expect(stack.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(stack.endpoints.dynamodb);
      expect(stack.env.AWS_ENDPOINT_URL_SQS).toBe(stack.endpoints.sqs);
      expect(stack.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME).toBe(stack.bedrock.url);
      expect(stack.env.COT_WS_MANAGEMENT_ENDPOINT).toBe(stack.managementEndpoint);

      const pids = stack.pids();
      const all = [pids.api, ...pids.workers, pids.dynamodb ?? -1];
      expect(all.every(processAlive)).toBe(true);

      await stack.stop();
      expect(all.filter(processAlive)).toEqual([]);
      await expect(fetch(`${stack.apiUrl}/healthz`)).rejects.toThrow();
      await expect(fetch(`${stack.endpoints.sqs ?? ''}/`)).rejects.toThrow();
      await expect(fetch(stack.oidc.issuer)).rejects.toThrow();
    } finally {
      await stack?.stop();
    }
  });

  it('wires the API to its OpenID provider and a question through the queue to a worker', async () => {
    const stack = await startTestStack({ workers: 1 });
    try {
      const token = await tokenFor(stack, 'alice');
      const api = apiClient(stack.apiUrl, token);
      expect((await apiClient(stack.apiUrl).get('/jobs')).status).toBe(401);
      expect((await api.get('/jobs/does-not-exist')).status).toBe(404);

      const accepted = await api.post<{ jobId: string }>('/chat', { question: 'Should I learn Rust or Go first?', mode: 'quick' });
      expect(accepted.status).toBe(202);
      const [worker] = stack.workers;
      // The worker found the job on the queue the API enqueued it on.
      const line = await worker!.waitForLog((e) => e.jobId === accepted.body.jobId, 30_000);
      expect(line.jobId).toBe(accepted.body.jobId);
    } finally {
      await stack.stop();
    }
  });

  it('starts one more worker on demand and stops it with the stack', async () => {
    const stack = await startTestStack({ workers: 0 });
    try {
      const worker = await stack.spawnWorker({ COT_WORKER_CONCURRENCY: '1' });
      expect(stack.workers).toEqual([worker]);
      await stack.stop();
      const exit = await worker.exited;
      expect(exit.code).toBe(0);
      expect(processAlive(worker.pid)).toBe(false);
    } finally {
      await stack.stop();
    }
  });
});

/** `npm start`'s entry point, run as a child exactly as npm runs it, on ephemeral ports. */
function launch(dir: string, extraEnv: Record<string, string> = {}): ReturnType<typeof spawnManaged> {
  return spawnManaged({
    id: 'npm-start',
    command: process.execPath,
    args: ['--import', 'tsx', join(REPO_ROOT, 'services/local/start.ts')],
    cwd: REPO_ROOT,
    env: {
      ...launcherEnv(dir),
      // No app there: the launcher says so and serves none (tests that want one point here at a placeholder).
      COT_LOCAL_WEB_DIR: join(dir, 'no-web-app'),
      COT_SHUTDOWN_GRACE_SECONDS: '5',
      ...extraEnv,
    },
  });
}

const READY_TIMEOUT_MS = 90_000;
/** Start-up (a JVM, the services and a Vite build at once), the checks and a clean stop, on a busy 2-core machine. */
const NPM_START_TEST_TIMEOUT_MS = READY_TIMEOUT_MS + 60_000;

function waitForReady(proc: ReturnType<typeof spawnManaged>): Promise<string> {
  return proc.waitForLine((line) => /^ready\b/.test(line), READY_TIMEOUT_MS);
}

function stackPids(file: StackFile): number[] {
  return [file.apiPid, ...(file.dynamodbPid ? [file.dynamodbPid] : []), ...file.workers.map((w) => w.pid)];
}

describe('npm start', () => {
  it('prints its endpoints and ready, writes stack.json, and on Ctrl-C stops everything and exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cot-start-'));
    const app = createPlaceholderWebApp();
    const proc = launch(dir, { COT_LOCAL_WEB_DIR: app.dir });
    try {
      await waitForReady(proc);
      const out = proc.output();
      for (const label of ['Web app', 'API', 'WebSocket', 'OIDC issuer', 'Bedrock', 'DynamoDB', 'SQS', 'Management', 'Tables', 'Queue', 'DLQ']) {
        expect(out).toMatch(new RegExp(`^${label}\\s+\\S`, 'm'));
      }
      const file = await readStackFile(stackFilePath(dir));
      // The web app: built, served with its config.json, its origin allowed by the API.
      const webUrl = /^Web app\s+(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1];
      expect(file.webUrl).toBe(webUrl);
      expect(out).toMatch(new RegExp(`^ready — open ${file.webUrl}`, 'm'));
      const config = (await (await fetch(`${file.webUrl}/config.json`)).json()) as { apiUrl: string; wsUrl: string };
      expect(config).toMatchObject({ apiUrl: file.apiUrl, wsUrl: file.wsUrl, simulated: true });
      expect(file.env.COT_CORS_ORIGINS).toBe(file.webUrl);
      expect(file.workers).toHaveLength(2);
      expect(file.queues.deadLetter.url).toContain('cot-jobs-dlq');
      expect((await apiClient(file.apiUrl).get('/healthz')).status).toBe(200);
      const token = await tokenFor(file, 'alice');
      expect((await apiClient(file.apiUrl, token).get('/jobs')).status).toBe(200);
      const pids = stackPids(file);
      expect(pids.every(processAlive)).toBe(true);

      proc.kill('SIGINT');
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      expect(pids.filter(processAlive)).toEqual([]);
      await expect(readStackFile(stackFilePath(dir))).rejects.toThrow(/no local stack/);
      await expect(fetch(`${file.webUrl}/`)).rejects.toThrow();
    } finally {
      await proc.stop(5_000);
      await rm(dir, { recursive: true, force: true });
      app.remove();
    }
  }, NPM_START_TEST_TIMEOUT_MS);

  it('leaves no process behind even when the launcher itself is killed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cot-start-'));
    const proc = launch(dir, { COT_LOCAL_WORKERS: '1' });
    try {
      await waitForReady(proc);
      expect(proc.output()).toMatch(/^Web app\s+\(not served: /m);
      const pids = stackPids(await readStackFile(stackFilePath(dir)));
      proc.kill('SIGKILL');
      await proc.exited;
      // Not our children: no exit event to await, so poll until the orphan guards got them.
      await waitUntilGone(pids, 30_000);
    } finally {
      await proc.stop(1_000);
      await rm(dir, { recursive: true, force: true });
    }
  }, NPM_START_TEST_TIMEOUT_MS);

  it('explains how to install Java when it is missing, and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cot-start-'));
    const proc = launch(dir, { PATH: join(dir, 'no-bin') });
    try {
      const exit = await proc.exited;
      expect(exit.code).toBe(1);
      expect(proc.output()).toContain('apt-get install -y openjdk-17-jre-headless');
      expect(proc.output()).not.toMatch(/^\s+at /m);
    } finally {
      await proc.stop(1_000);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
