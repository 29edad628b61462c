import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOidcProvider, type LocalOidcProvider } from '../../services/local/oidc/provider.js';
import { createJwtVerifier } from '../../services/shared/auth/jwt-verifier.js';
import { ENV } from '../../services/shared/contracts/names.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const TOKEN_ENTRY = join(ROOT, 'services', 'local', 'token.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The test's environment without any identity settings it may have inherited. */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env[ENV.oidcIssuer];
  delete env[ENV.oidcAudience];
  return { ...env, ...extra };
}

const JWT_LINE = /^[\w-]+\.[\w-]+\.[\w-]+\n$/;

describe('npm run token', () => {
  let provider: LocalOidcProvider;
  let scratch: string;

  beforeAll(async () => {
    provider = await startOidcProvider({ audience: 'cot-cli-test' });
    scratch = await mkdtemp(join(tmpdir(), 'cot-token-cli-'));
  });
  afterAll(async () => {
    await provider?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('prints only an access token for alice that the API verifier accepts', async () => {
    const env = baseEnv({ [ENV.oidcIssuer]: provider.issuer, [ENV.oidcAudience]: provider.audience });

    const result = await run('npm', ['run', '--silent', 'token', '--', 'alice'], { cwd: ROOT, env });

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(JWT_LINE);
    const verifier = createJwtVerifier({ issuer: provider.issuer, audience: 'cot-cli-test', algorithms: ['RS256'] });
    expect((await verifier.verify(result.stdout.trim())).sub).toBe('alice');
  });

  it('finds the provider in .local/stack.json written by npm start', async () => {
    const cwd = join(scratch, 'stack');
    await mkdir(join(cwd, '.local'), { recursive: true });
    await writeFile(
      join(cwd, '.local', 'stack.json'),
      JSON.stringify({ oidc: { issuer: provider.issuer, audience: provider.audience }, other: { parts: 'ignored' } }),
    );

    const result = await run(TSX, [TOKEN_ENTRY, 'bob'], { cwd, env: baseEnv() });

    expect(result.code).toBe(0);
    const verifier = createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, algorithms: ['RS256'] });
    expect((await verifier.verify(result.stdout.trim())).sub).toBe('bob');
  });

  it('exits 2 with the username rule for a bad username, without a stack trace', async () => {
    const env = baseEnv({ [ENV.oidcIssuer]: provider.issuer, [ENV.oidcAudience]: provider.audience });

    const result = await run(TSX, [TOKEN_ENTRY, 'Not A User'], { cwd: ROOT, env });

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/rejected the username "Not A User".*1 to 64 characters/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 telling the user to start the stack when there is no stack file', async () => {
    const cwd = join(scratch, 'empty');
    await mkdir(cwd, { recursive: true });

    const result = await run(TSX, [TOKEN_ENTRY, 'alice'], { cwd, env: baseEnv() });

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/start the stack with npm start first/);
  });

  it('exits 2 with a usage line when no username is given', async () => {
    const result = await run(TSX, [TOKEN_ENTRY], { cwd: ROOT, env: baseEnv({ [ENV.oidcIssuer]: provider.issuer }) });

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/usage: npm run -s token -- <username>/);
  });
});
