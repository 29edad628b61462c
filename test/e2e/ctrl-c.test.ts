/**
 * One Ctrl-C in the terminal running `npm start`, with a job running. The test runs the real
 * `npm start` in its own process group and signals the whole group, as a terminal does: npm
 * and the launcher both receive SIGINT, and npm forwards its copy to the launcher too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../services/local/stack.js';
import { spawnManaged, type ManagedProcess } from '../../services/local/processes.js';
import { readStackFile, stackFilePath, type StackFile } from '../../services/local/stack-file.js';
import type { JobView } from '../../services/shared/contracts/job.js';
import { apiClient, type ApiClient } from '../support/http-client.js';
import { launcherEnv, tokenFor } from '../support/local-stack.js';
import { processAlive } from '../support/processes.js';
import { eventually, submit, waitForEnd } from '../support/jobs.js';

/** `npm start` (or `npm run worker`) exactly as a person types it, in a process group of its own, on ephemeral ports. */
function npm(dir: string, script: 'start' | 'worker' = 'start'): ManagedProcess {
  return spawnManaged({
    id: `npm-${script}`,
    command: 'npm',
    args: script === 'start' ? ['start'] : ['run', script],
    cwd: REPO_ROOT,
    env: { ...launcherEnv(dir), COT_LOCAL_BEDROCK_TOKEN_DELAY_MS: '5' },
  });
}

/** True while any process is left in the process group `pgid`. */
function groupAlive(pgid: number): boolean {
  return processAlive(-pgid);
}

async function connect(file: StackFile, user: string): Promise<ApiClient> {
  return apiClient(file.apiUrl, await tokenFor(file, user));
}

describe('Ctrl-C in the terminal running npm start', () => {
  it('stops in order on one press, hands the running job over, and the job finishes after a restart; npm run worker does the same with readable logs', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cot-ctrl-c-'));
    const runs: ManagedProcess[] = [];
    try {
      const first = npm(dir);
      runs.push(first);
      await first.waitForLine((line) => /^ready\b/.test(line), 300_000);
      const file = await readStackFile(stackFilePath(dir));
      const pids = [file.pid, file.apiPid, ...(file.dynamodbPid ? [file.dynamodbPid] : []), ...file.workers.map((w) => w.pid)];
      const alice = await connect(file, 'alice');
      const jobId = await submit(alice, { question: 'Should our team of five rewrite the monolith as microservices?' });
      await eventually(async () => {
        const view = (await alice.get<JobView>(`/jobs/${jobId}`)).body;
        return view.advisors.some((a) => a.answer.status === 'running') ? view : undefined;
      }, 'the job to be running');

      process.kill(-first.pid, 'SIGINT');
      expect(await first.exited).toEqual({ code: 0, signal: null });
      const out = first.output();
      expect(out.match(/stopping: workers hand their jobs over/g)).toHaveLength(1);
      expect(out).not.toMatch(/again: exiting now/);
      expect(out).toMatch(new RegExp(`job handed over jobId=${jobId}`));
      expect(out).toMatch(/^stack\s+│ stopped$/m);
      // Workers first, then the API; nothing is left running, in the group or outside it.
      expect(out.indexOf(`job handed over jobId=${jobId}`)).toBeLessThan(out.indexOf('stopping: no new connections'));
      expect(pids.filter(processAlive)).toEqual([]);
      expect(groupAlive(first.pid)).toBe(false);
      await expect(readStackFile(stackFilePath(dir))).rejects.toThrow(/no local stack/);

      const second = npm(dir);
      runs.push(second);
      await second.waitForLine((line) => /^ready\b/.test(line), 300_000);
      const readyAt = Date.now();
      const again = await connect(await readStackFile(stackFilePath(dir)), 'alice');
      const view = await waitForEnd(again, jobId);
      expect(view.status).toBe('succeeded');
      expect(second.output()).toMatch(/re-enqueued 1 unfinished job/);
      process.stderr.write(`[ctrl-c] the handed-over job finished ${Date.now() - readyAt} ms after the restarted stack was ready\n`);

      // One more worker from another terminal: readable log lines, and the same one Ctrl-C.
      const extra = npm(dir, 'worker');
      runs.push(extra);
      const ready = await extra.waitForLine((line) => line.includes('worker ready'), 120_000);
      expect(ready).toMatch(/^worker\s+│ \d\d:\d\d:\d\d\.\d{3} INFO\s+worker ready workerId=\S+ concurrency=8$/);
      process.kill(-extra.pid, 'SIGINT');
      expect(await extra.exited).toEqual({ code: 0, signal: null });
      expect(extra.output()).toMatch(/INFO\s+worker stopped/);
      expect(extra.output()).not.toMatch(/^\{/m);
      expect(groupAlive(extra.pid)).toBe(false);

      process.kill(-second.pid, 'SIGINT');
      expect(await second.exited).toEqual({ code: 0, signal: null });
      expect(groupAlive(second.pid)).toBe(false);
    } finally {
      for (const run of runs) if (groupAlive(run.pid)) process.kill(-run.pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
