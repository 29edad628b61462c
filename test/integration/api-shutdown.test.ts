/**
 * The API service as a process (services/api/main.ts) against DynamoDB Local, fauxqs and
 * the local OpenID provider: it starts from environment configuration alone and, on
 * SIGTERM, refuses new connections, finishes the request in flight and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { startOidcProvider, type LocalOidcProvider } from '../../services/local/oidc/provider.js';
import { getAccessToken } from '../../services/local/oidc/token-client.js';
import { ENV } from '../../services/shared/contracts/names.js';
import { startAwsLocal, type AwsLocal } from '../support/aws-local.js';
import { isolatedBaseEnv } from '../support/isolation.js';

let aws: AwsLocal;
let provider: LocalOidcProvider;
let child: ChildProcess | undefined;

beforeAll(async () => {
  [aws, provider] = await Promise.all([startAwsLocal(), startOidcProvider()]);
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await provider?.close();
  await aws?.stop();
});

/** Log lines of the child by message, each awaited as an event. */
function logWatcher(proc: ChildProcess) {
  const seen: Record<string, unknown>[] = [];
  type Line = Record<string, unknown>;
  const waiters: { match: (line: Line) => boolean; resolve: (line: Line) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    seen.push(line);
    for (const w of waiters.filter((w) => w.match(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  });
  return {
    /** The first line with this message (and these fields), as soon as it is written. */
    next: (msg: string, fields: Line = {}) =>
      new Promise<Line>((resolve) => {
        const match = (l: Line) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v);
        const found = seen.find(match);
        if (found) resolve(found);
        else waiters.push({ match, resolve });
      }),
    seen,
  };
}

/** A request on a fresh connection (no pooled socket), resolving with the status or the connection error code. */
function freshGet(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe('the API process', () => {
  it('finishes the request in flight on SIGTERM, refuses new connections and exits 0', async () => {
    const token = await getAccessToken({ issuer: provider.issuer, user: 'alice', audience: provider.audience });
    child = spawn(process.execPath, ['--import', 'tsx', 'services/api/main.ts'], {
      env: { ...isolatedBaseEnv(), ...aws.env, [ENV.oidcIssuer]: provider.issuer, [ENV.oidcAudience]: provider.audience, [ENV.apiPort]: '0', [ENV.logLevel]: 'debug' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const logs = logWatcher(child);
    const url = (await logs.next('api listening')).url as string;
    expect(await freshGet(`${url}/healthz`)).toBe(200);

    // A POST whose body is still arriving when the signal comes.
    let push!: (text: string) => void;
    let end!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (text) => controller.enqueue(new TextEncoder().encode(text));
        end = () => controller.close();
      },
    });
    const inFlight = fetch(`${url}/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    push('{"question":');
    await logs.next('request started', { method: 'POST', path: '/chat' });

    child.kill('SIGTERM');
    await logs.next('stopping: no new connections, finishing in-flight requests');
    const refused = await freshGet(`${url}/healthz`);
    push('"Is it safe to deploy on Friday?"}');
    end();
    const res = await inFlight;
    const answer = (await res.json()) as { jobId: string; status: string };

    expect(refused).toBe('ECONNREFUSED');
    expect(res.status).toBe(202);
    expect(answer.status).toBe('queued');
    const job = await aws.doc.send(new GetCommand({ TableName: aws.tables.jobs, Key: { jobId: answer.jobId } }));
    expect(job.Item).toMatchObject({ question: 'Is it safe to deploy on Friday?', status: 'queued' });
    expect(await exited).toBe(0);
    expect(logs.seen.map((l) => l.msg)).toContain('stopped');
  });

  it('refuses to start with a readable message when its configuration is incomplete', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'services/api/main.ts'], {
      env: { ...isolatedBaseEnv(), ...aws.env, [ENV.oidcIssuer]: '', [ENV.oidcAudience]: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));

    expect(code).toBe(1);
    expect(stderr).toContain(`cot-api: invalid configuration: ${ENV.oidcIssuer}`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
