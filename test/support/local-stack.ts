/**
 * The whole local stack for integration and end-to-end tests, started through the same
 * `startLocalStack` as `npm start`, on ephemeral ports, in memory, with unique table and
 * queue names, and isolated from the developer's AWS_* / COT_* environment.
 *
 *   const local = withLocalStack({ workers: 2 });
 *   it('…', async () => { const api = await local.client('alice'); … });
 *
 * `withLocalStack({ web: true })` also builds web/ when its dist/ is stale (once, under a
 * lock, however many files ask) and serves it at `local.stack.webUrl` with its config.json,
 * exactly as `npm start` does; `web: { dir }` serves another app folder instead.
 *
 * Set COT_TEST_VERBOSE=1 to see every child process's output on stderr.
 */
import { afterAll, beforeAll } from 'vitest';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../services/local/stack.js';
import { getAccessToken } from '../../services/local/oidc/token-client.js';
import { apiClient, type ApiClient } from './http-client.js';
import { isolatedBaseEnv, uniqueSuffix } from './isolation.js';

/** A stack whose Bedrock stand-in is always ours (tests never use an external one). */
export interface TestStack extends LocalStack {
  bedrock: { url: string; controlUrl: string };
}

export type TestStackOptions = Omit<LocalStackOptions, 'persist' | 'dir' | 'baseEnv' | 'ports' | 'apiPort'>;

/** Service settings for tests: quick hand-over on stop; callers override any of them through `env`. */
export const TEST_SERVICE_ENV: Readonly<Record<string, string>> = {
  COT_SHUTDOWN_GRACE_SECONDS: '10',
  // Cancels and lease renewals are noticed on the heartbeat; keep it quick in tests.
  COT_HEARTBEAT_SECONDS: '1',
  COT_LOG_LEVEL: 'info',
};

/**
 * The environment of a test that runs the launcher itself (`npm start` or its entry point):
 * isolated from the developer's, state in `dir`, every port ephemeral.
 */
export function launcherEnv(dir: string): Record<string, string | undefined> {
  return {
    ...isolatedBaseEnv(),
    COT_LOCAL_DIR: dir,
    COT_API_PORT: '0',
    COT_LOCAL_WS_PORT: '0',
    COT_LOCAL_OIDC_PORT: '0',
    COT_LOCAL_BEDROCK_PORT: '0',
    COT_LOCAL_BEDROCK_CONTROL_PORT: '0',
    COT_LOCAL_DYNAMODB_PORT: '0',
    COT_LOCAL_SQS_PORT: '0',
    COT_LOCAL_WEB_PORT: '0',
  };
}

/**
 * The environment of the terminal client (`npm run ask`) against a test stack: its
 * endpoints, never the developer's own stack file, nothing else inherited but PATH and HOME.
 */
export function cliEnv(stack: Pick<LocalStack, 'apiUrl' | 'wsUrl' | 'oidc'>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    COT_API_URL: stack.apiUrl,
    COT_WS_URL: stack.wsUrl,
    COT_OIDC_ISSUER: stack.oidc.issuer,
    COT_OIDC_AUDIENCE: stack.oidc.audience,
    COT_LOCAL_DIR: '/nonexistent',
    ...extra,
  };
}

/** Fast simulated advisors unless a test asks for realistic timing. */
export const TEST_BEDROCK_TIMING = { tokenDelayMs: 1, firstTokenDelayMs: 10 } as const;

/** Starts a whole stack for a test (ephemeral ports, in memory, unique names). */
export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const verbose = process.env.COT_TEST_VERBOSE === '1';
  const stack = await startLocalStack({
    workers: 2,
    ...opts,
    bedrock: { ...TEST_BEDROCK_TIMING, ...opts.bedrock },
    env: { ...TEST_SERVICE_ENV, ...opts.env },
    tableSuffix: opts.tableSuffix ?? uniqueSuffix(),
    baseEnv: isolatedBaseEnv(),
    persist: false,
    log: opts.log ?? (verbose ? (line) => process.stderr.write(`[stack] ${line}\n`) : undefined),
    onProcessLine: opts.onProcessLine ?? (verbose ? (id, line) => process.stderr.write(`[${id}] ${line}\n`) : undefined),
  });
  const { controlUrl } = stack.bedrock;
  if (!controlUrl) {
    await stack.stop();
    throw new Error('the test stack has no Bedrock control URL');
  }
  return Object.assign(stack, { bedrock: { url: stack.bedrock.url, controlUrl } });
}

export interface LocalStackFixture {
  /** The running stack (throws if used outside a test of this file). */
  readonly stack: TestStack;
  /** An access token for `user` from the stack's OpenID provider (cached per user). */
  tokenFor(user: string): Promise<string>;
  /** An API client authenticated as `user` (no token when `user` is undefined). */
  client(user?: string): Promise<ApiClient>;
}

/** Starts one stack for the current test file (beforeAll) and stops it afterwards (afterAll). */
export function withLocalStack(opts: TestStackOptions = {}): LocalStackFixture {
  let stack: TestStack | undefined;
  const tokens = new Map<string, Promise<string>>();
  beforeAll(async () => {
    stack = await startTestStack(opts);
  });
  afterAll(async () => {
    await stack?.stop();
    stack = undefined;
  });
  const current = (): TestStack => {
    if (!stack) throw new Error('the local stack is not running (use it inside a test of the file that called withLocalStack)');
    return stack;
  };
  const fixture: LocalStackFixture = {
    get stack() {
      return current();
    },
    tokenFor(user) {
      let token = tokens.get(user);
      if (!token) {
        token = tokenFor(current(), user);
        tokens.set(user, token);
        token.catch(() => tokens.delete(user));
      }
      return token;
    },
    async client(user) {
      return apiClient(current().apiUrl, user === undefined ? undefined : await fixture.tokenFor(user));
    },
  };
  return fixture;
}

/** An access token for `user` from the stack's local OpenID provider (authorization code + PKCE). */
export function tokenFor(stack: Pick<LocalStack, 'oidc'>, user: string): Promise<string> {
  return getAccessToken({ issuer: stack.oidc.issuer, user, audience: stack.oidc.audience });
}
