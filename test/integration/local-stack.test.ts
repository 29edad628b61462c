import { describe, expect, it } from 'vitest';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { apiClient } from '../support/http-client.js';
import { processAlive } from '../support/processes.js';
import { tokenFor } from '../support/local-stack.js';

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
