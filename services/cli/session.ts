/**
 * Who the CLI is and where it talks: the API and WebSocket URLs (COT_API_URL / COT_WS_URL,
 * else the running local stack's .local/stack.json) and the caller's identity: COT_TOKEN,
 * or a local sign-in as --user, else COT_USER, else alice (the user the README's examples
 * use, so `npm run ask` and `curl` with `npm run token -- alice` see the same jobs).
 */
import { readFile } from 'node:fs/promises';
import { isValidUsername } from '../local/oidc/oidc.constants.js';
import { IdentityProviderError, LoginRejectedError } from '../local/oidc/errors.js';
import { getAccessToken } from '../local/oidc/token-client.js';
import { stackFilePath } from '../local/stack-file.js';
import { ApiRefusedError, CliError, UsageError } from './errors.js';

export const DEFAULT_USER = 'alice';
const USERNAME_RULE = 'a user name is 1 to 64 characters: lower-case letters, digits, ".", "_" or "-"';
/** Local tokens live an hour; a reconnect after half of that signs in again. */
const TOKEN_REUSE_MS = 30 * 60_000;

type Env = Record<string, string | undefined>;

export interface Session {
  apiUrl: string;
  wsUrl: string;
  /** The token's subject: the owner the API sees. */
  who: string;
  /** How the identity was chosen, for the "signed in as" line. */
  how: string;
  /** The `--user` to repeat in hints, when the user came from the flag. */
  userFlag?: string;
  /** A valid access token (signs in again when the last one is getting old). */
  token(): Promise<string>;
  /** One API call; non-2xx answers throw ApiRefusedError with the API's message. */
  api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

interface StackEndpoints {
  apiUrl?: string;
  wsUrl?: string;
  oidc?: { issuer?: string; audience?: string };
}

async function readStack(env: Env): Promise<StackEndpoints> {
  try {
    return JSON.parse(await readFile(stackFilePath(env.COT_LOCAL_DIR || '.local'), 'utf8')) as StackEndpoints;
  } catch {
    return {};
  }
}

/** Finds the stack, signs in and says who the CLI is. */
export async function openSession(env: Env, userFlag: string | undefined): Promise<Session> {
  const stack = await readStack(env);
  const apiUrl = env.COT_API_URL || stack.apiUrl;
  const wsUrl = env.COT_WS_URL || stack.wsUrl;
  if (!apiUrl || !wsUrl) throw new CliError('no stack found: start one with `npm start` (in this folder), or set COT_API_URL and COT_WS_URL');

  let token: () => Promise<string>;
  let how: string;
  if (env.COT_TOKEN) {
    if (userFlag !== undefined) throw new UsageError('--user signs in at the local stack, but COT_TOKEN is set: unset COT_TOKEN, or leave out --user');
    const fixed = env.COT_TOKEN;
    token = async () => fixed;
    how = 'the token in COT_TOKEN';
  } else {
    const user = userFlag ?? (env.COT_USER || DEFAULT_USER);
    if (!isValidUsername(user)) throw new UsageError(`"${user}" cannot sign in: ${USERNAME_RULE}`);
    const issuer = env.COT_OIDC_ISSUER || stack.oidc?.issuer;
    const audience = env.COT_OIDC_AUDIENCE || stack.oidc?.audience;
    if (!issuer) throw new CliError('no way to sign in: start the local stack with `npm start`, or set COT_TOKEN');
    token = localSignIn(issuer, audience, user);
    how = userFlag !== undefined ? 'local sign-in, --user' : env.COT_USER ? 'local sign-in, COT_USER' : 'local sign-in; --user or COT_USER to change';
  }
  const who = subjectOf(await token()) ?? 'an unknown user';
  return {
    apiUrl,
    wsUrl,
    who,
    how,
    ...(userFlag !== undefined ? { userFlag } : {}),
    token,
    api: async <T>(method: 'GET' | 'POST', path: string, body?: unknown) => call<T>(apiUrl, await token(), method, path, body),
  };
}

function localSignIn(issuer: string, audience: string | undefined, user: string): () => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > TOKEN_REUSE_MS) {
      try {
        cached = { token: await getAccessToken({ issuer, user, audience }), at: Date.now() };
      } catch (err) {
        if (err instanceof LoginRejectedError || err instanceof IdentityProviderError) {
          throw new CliError(`could not sign in as ${user} at ${issuer}: ${err.message}`, { cause: err });
        }
        throw err;
      }
    }
    return cached.token;
  };
}

/** The `sub` of a JWT, read without checking it (the API checks; this is only to say who we are). */
export function subjectOf(jwt: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof payload.sub === 'string' && payload.sub ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

async function call<T>(apiUrl: string, token: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, apiUrl), {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new CliError(`could not reach the API at ${apiUrl} (${(err as Error).message}): is the stack running?`, { cause: err });
  }
  const json = (await res.json().catch(() => undefined)) as (T & { error?: { code?: string; message?: string } }) | undefined;
  if (!res.ok) {
    const error = json?.error;
    throw new ApiRefusedError(res.status, error?.code ?? 'unknown', error?.message ?? `the API answered ${res.status}`);
  }
  return json as T;
}
