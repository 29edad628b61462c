/**
 * `npm run -s token -- <user>`: prints an access token for <user> from the local OpenID
 * provider, and nothing else, so it can be captured: TOKEN=$(npm run -s token -- alice).
 * The issuer comes from COT_OIDC_ISSUER / COT_OIDC_AUDIENCE, else from .local/stack.json
 * written by `npm start`.
 * Exit codes: 0 token printed, 1 no stack or the provider failed, 2 bad usage or username.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ENV } from '../shared/contracts/names.js';
import { IdentityProviderError, LoginRejectedError } from './oidc/errors.js';
import { getAccessToken } from './oidc/token-client.js';

type Env = Record<string, string | undefined>;

interface Target {
  issuer: string;
  audience?: string;
}

/** The stack file is written by another process; only the part this tool needs is checked. */
const stackSchema = z.object({
  oidc: z.object({ issuer: z.url(), audience: z.string().min(1).optional() }),
});

/** Thrown for problems the user fixes outside this tool; `exitCode` says which kind. */
class TokenCommandError extends Error {
  override name = 'TokenCommandError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const USAGE = 'usage: npm run -s token -- <username>';

/** Runs the command; returns the process exit code. */
export async function main(argv: string[], env: Env = process.env, cwd = process.cwd()): Promise<number> {
  try {
    const user = usernameArgument(argv);
    const target = await findIssuer(env, cwd);
    const token = await fetchToken(target, user);
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof TokenCommandError)) throw err;
    process.stderr.write(`token: ${err.message}\n`);
    return err.exitCode;
  }
}

function usernameArgument(argv: string[]): string {
  const args = argv.filter((a) => a !== '--');
  if (args.length !== 1 || args[0] === '-h' || args[0] === '--help') throw new TokenCommandError(USAGE, 2);
  return args[0] ?? '';
}

async function findIssuer(env: Env, cwd: string): Promise<Target> {
  const issuer = env[ENV.oidcIssuer]?.trim();
  const audience = env[ENV.oidcAudience]?.trim() || undefined;
  if (issuer) {
    if (!URL.canParse(issuer)) throw new TokenCommandError(`${ENV.oidcIssuer} is not a URL: ${issuer}`, 1);
    return { issuer, audience };
  }
  const fromStack = await readStackFile(join(cwd, '.local', 'stack.json'));
  return { issuer: fromStack.issuer, audience: audience ?? fromStack.audience };
}

async function readStackFile(path: string): Promise<Target> {
  const notRunning = `no local stack found (${path} is missing or has no oidc.issuer): start the stack with npm start first, or set ${ENV.oidcIssuer}`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TokenCommandError(notRunning, 1, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TokenCommandError(notRunning, 1, { cause: err });
  }
  const parsed = stackSchema.safeParse(json);
  if (!parsed.success) throw new TokenCommandError(notRunning, 1, { cause: parsed.error });
  return parsed.data.oidc;
}

async function fetchToken(target: Target, user: string): Promise<string> {
  try {
    return await getAccessToken({ issuer: target.issuer, user, audience: target.audience });
  } catch (err) {
    if (err instanceof LoginRejectedError) throw new TokenCommandError(err.message, 2, { cause: err });
    if (err instanceof IdentityProviderError) {
      throw new TokenCommandError(`${err.message} (is the stack running? start it with npm start)`, 1, { cause: err });
    }
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // Unexpected: a bug, not user input. Say so in one line rather than dumping a stack.
      process.stderr.write(`token: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
