/**
 * CORS of the API service as a process (services/api/main.ts), configured by
 * COT_CORS_ORIGINS alone, with real access tokens from the local OpenID provider. The
 * routes used here read no table, so no DynamoDB is needed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOidcProvider, type LocalOidcProvider } from '../../services/local/oidc/provider.js';
import { getAccessToken } from '../../services/local/oidc/token-client.js';
import { spawnManaged, type ManagedProcess } from '../../services/local/processes.js';
import { REPO_ROOT } from '../../services/local/stack.js';
import { isolatedBaseEnv } from '../support/isolation.js';

const WEB = 'http://127.0.0.1:8085';
const SECOND_WEB = 'https://circle.example.org';

let provider: LocalOidcProvider;
let api: ManagedProcess | undefined;
let apiUrl: string;

function startApi(corsOrigins: string): ManagedProcess {
  return spawnManaged({
    id: 'api',
    command: process.execPath,
    args: ['--import', 'tsx', join(REPO_ROOT, 'services/api/main.ts')],
    cwd: REPO_ROOT,
    env: {
      ...isolatedBaseEnv(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      COT_JOB_QUEUE_URL: 'http://127.0.0.1:9/000000000000/unused',
      COT_OIDC_ISSUER: provider.issuer,
      COT_OIDC_AUDIENCE: provider.audience,
      COT_API_HOST: '127.0.0.1',
      COT_API_PORT: '0',
      COT_CORS_ORIGINS: corsOrigins,
    },
  });
}

beforeAll(async () => {
  provider = await startOidcProvider();
  api = startApi(` ${WEB}, ${SECOND_WEB}/ `);
  const listening = await api.waitForLog((e) => e.msg === 'api listening', 60_000);
  apiUrl = String(listening.url);
});

afterAll(async () => {
  await api?.stop(5_000);
  await provider?.close();
});

describe('API CORS (COT_CORS_ORIGINS)', () => {
  it('answers a preflight from a configured origin and lets it read an authenticated answer', async () => {
    for (const origin of [WEB, SECOND_WEB]) {
      const preflight = await fetch(`${apiUrl}/chat`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
      expect(preflight.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type');
    }
    const token = await getAccessToken({ issuer: provider.issuer, user: 'alice', audience: provider.audience });
    const res = await fetch(`${apiUrl}/advisors`, { headers: { origin: WEB, authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(WEB);
    expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(((await res.json()) as { advisors: unknown[] }).advisors.length).toBeGreaterThan(0);
  });

  it('refuses a preflight from any other origin with a 403 JSON error and no CORS header', async () => {
    const res = await fetch(`${apiUrl}/jobs`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:8086', 'access-control-request-method': 'GET' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(await res.json()).toEqual({ error: { code: 'origin_not_allowed', message: expect.any(String) } });
  });

  it('refuses to start with a wildcard allow-list, naming the variable', async () => {
    const wildcard = startApi('*');
    const exit = await wildcard.exited;
    expect(exit.code).toBe(1);
    expect(wildcard.output()).toMatch(/COT_CORS_ORIGINS: "\*" is not an origin/);
    expect(wildcard.output()).not.toMatch(/^\s+at /m);
  });
});
