import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, base64url, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { startOidcProvider, type LocalOidcProvider } from '../../services/local/oidc/provider.js';
import { getAccessToken, getClientCredentialsToken } from '../../services/local/oidc/token-client.js';
import { IdentityProviderError, LoginRejectedError } from '../../services/local/oidc/errors.js';
import { CLIENT_IDS } from '../../services/local/oidc/oidc.constants.js';
import { createJwtVerifier, type JwtVerifier } from '../../services/shared/auth/jwt-verifier.js';
import { AuthError, type AuthErrorCode } from '../../services/shared/auth/errors.js';

/** A real issuer on loopback that publishes one key and lets the test sign whatever it likes. */
interface KeyServer {
  issuer: string;
  jwksUrl: string;
  sign(payload: JWTPayload, header?: { kid?: string }): Promise<string>;
  close(): Promise<void>;
}

async function startKeyServer(): Promise<KeyServer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const server = createServer((req, res) => {
    const { port } = server.address() as AddressInfo;
    const issuer = `http://127.0.0.1:${port}`;
    const body =
      req.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/jwks` }
        : req.url === '/jwks'
          ? { keys: [jwk] }
          : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    sign: (payload, header) => signWith(privateKey, payload, header?.kid ?? 'test-key'),
    close: () => closeServer(server),
  };
}

function signWith(key: CryptoKey, payload: JWTPayload, kid: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid }).sign(key);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A loopback port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

function decodePart(token: string, index: number): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

function encodePart(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** Verifies and returns the AuthError, checking it never repeats the token it was given. */
async function rejection(verifier: JwtVerifier, token: string): Promise<AuthError> {
  const error = await verifier.verify(token).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(AuthError);
  const authError = error as AuthError;
  if (token.length > 0) expect(authError.message).not.toContain(token);
  return authError;
}

async function expectRejected(verifier: JwtVerifier, token: string, code: AuthErrorCode, message: RegExp): Promise<void> {
  const error = await rejection(verifier, token);
  expect({ code: error.code, message: error.message }).toEqual({ code, message: expect.stringMatching(message) });
}

const ALGORITHMS = ['RS256', 'PS256', 'ES256'];
const hourFromNow = () => Math.floor(Date.now() / 1000) + 3600;

describe('local OpenID provider', () => {
  let provider: LocalOidcProvider;

  beforeAll(async () => {
    provider = await startOidcProvider();
  });
  afterAll(async () => {
    await provider?.close();
  });

  it('issues alice a JWT access token whose verified sub, audience and issuer are hers', async () => {
    const token = await getAccessToken({ issuer: provider.issuer, user: 'alice', audience: provider.audience });
    const verifier = createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, algorithms: ALGORITHMS });

    const principal = await verifier.verify(token);

    expect(principal.sub).toBe('alice');
    expect(principal.claims).toMatchObject({ iss: provider.issuer, aud: 'circle-of-trust', client_id: CLIENT_IDS.cli });
    expect(principal.scopes).toEqual(['cot.api']);
    expect(decodePart(token, 0)).toMatchObject({ alg: 'RS256' });
  });

  it('issues tokens for the API even when the client names no audience', async () => {
    const token = await getAccessToken({ issuer: provider.issuer, user: 'bob' });
    const verifier = createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, algorithms: ALGORITHMS });

    expect((await verifier.verify(token)).sub).toBe('bob');
  });

  it('signs in the web client on whatever loopback port the UI runs on', async () => {
    const token = await getAccessToken({
      issuer: provider.issuer,
      user: 'carol.smith',
      clientId: CLIENT_IDS.web,
      redirectUri: 'http://localhost:5173/callback',
      audience: provider.audience,
    });
    const verifier = createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, algorithms: ALGORITHMS });

    expect((await verifier.verify(token)).claims).toMatchObject({ sub: 'carol.smith', client_id: CLIENT_IDS.web });
  });

  it('issues the scripts client a token of its own by client credentials', async () => {
    const token = await getClientCredentialsToken({
      issuer: provider.issuer,
      clientId: provider.scriptsClient.clientId,
      clientSecret: provider.scriptsClient.clientSecret,
      audience: provider.audience,
    });
    const verifier = createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, algorithms: ALGORITHMS });

    expect(await verifier.verify(token)).toMatchObject({ sub: CLIENT_IDS.scripts, scopes: ['cot.api'] });
  });

  it('refuses client credentials with a wrong secret', async () => {
    const attempt = getClientCredentialsToken({
      issuer: provider.issuer,
      clientId: provider.scriptsClient.clientId,
      clientSecret: 'not-the-secret',
    });

    await expect(attempt).rejects.toThrow(IdentityProviderError);
    await expect(attempt).rejects.toThrow(/invalid_client/);
  });

  it('rejects a username outside [a-z0-9._-]{1,64} with the rule in the message', async () => {
    for (const user of ['Alice', 'alice smith', 'a'.repeat(65), '']) {
      const attempt = getAccessToken({ issuer: provider.issuer, user });
      await expect(attempt).rejects.toThrow(LoginRejectedError);
      await expect(attempt).rejects.toThrow(/1 to 64 characters/);
    }
  });

  it('refuses a redirect URI the client has not registered', async () => {
    const attempt = getAccessToken({ issuer: provider.issuer, user: 'alice', redirectUri: 'http://evil.example/callback' });

    await expect(attempt).rejects.toThrow(IdentityProviderError);
    await expect(attempt).rejects.toThrow(/redirect_uri/);
  });

  it('reports a provider that is not running as unreachable', async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}`;

    await expect(getAccessToken({ issuer, user: 'alice' })).rejects.toThrow(/cannot reach the identity provider/);
  });
});

describe('createJwtVerifier', () => {
  let provider: LocalOidcProvider;
  let keys: KeyServer;
  let providerVerifier: JwtVerifier;
  let keysVerifier: JwtVerifier;
  let aliceToken: string;

  beforeAll(async () => {
    [provider, keys] = await Promise.all([startOidcProvider(), startKeyServer()]);
    aliceToken = await getAccessToken({ issuer: provider.issuer, user: 'alice', audience: provider.audience });
    providerVerifier = createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, algorithms: ALGORITHMS });
    keysVerifier = createJwtVerifier({ issuer: keys.issuer, audience: 'circle-of-trust', jwksUrl: keys.jwksUrl, algorithms: ALGORITHMS });
  });
  afterAll(async () => {
    await Promise.all([provider?.close(), keys?.close()]);
  });

  it('accepts a token signed by a key the issuer publishes', async () => {
    const token = await keys.sign({ sub: 'dave', iss: keys.issuer, aud: 'circle-of-trust', exp: hourFromNow(), scp: ['a', 'b'] });

    expect(await keysVerifier.verify(token)).toMatchObject({ sub: 'dave', scopes: ['a', 'b'] });
  });

  it('rejects an empty token as missing_token', async () => {
    await expectRejected(providerVerifier, '', 'missing_token', /access token is required/);
  });

  it('rejects an expired token as expired_token', async () => {
    const token = await keys.sign({ sub: 'alice', iss: keys.issuer, aud: 'circle-of-trust', exp: Math.floor(Date.now() / 1000) - 3600 });

    await expectRejected(keysVerifier, token, 'expired_token', /expired/);
  });

  it('rejects a token meant for another audience', async () => {
    const verifier = createJwtVerifier({ issuer: provider.issuer, audience: 'another-api', algorithms: ALGORITHMS });

    await expectRejected(verifier, aliceToken, 'invalid_token', /not meant for this service/);
  });

  it('rejects a token from another issuer', async () => {
    const token = await keys.sign({ sub: 'alice', iss: 'https://impostor.example', aud: 'circle-of-trust', exp: hourFromNow() });

    await expectRejected(keysVerifier, token, 'invalid_token', /not issued by the expected identity provider/);
  });

  it('rejects an unsigned token (alg none)', async () => {
    const payload = decodePart(aliceToken, 1);
    const token = `${encodePart({ alg: 'none', typ: 'JWT' })}.${encodePart(payload)}.`;

    await expectRejected(providerVerifier, token, 'invalid_token', /algorithm this service does not accept/);
  });

  it('rejects a token whose payload was altered after signing', async () => {
    const [header, , signature] = aliceToken.split('.');
    const forged = `${header}.${encodePart({ ...decodePart(aliceToken, 1), sub: 'mallory' })}.${signature}`;

    await expectRejected(providerVerifier, forged, 'invalid_token', /signature is not valid/);
  });

  it('rejects a token signed by a different key under the issuer’s key id', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const kid = decodePart(aliceToken, 0).kid as string;
    const token = await signWith(privateKey, { ...decodePart(aliceToken, 1) }, kid);

    await expectRejected(providerVerifier, token, 'invalid_token', /signature is not valid/);
  });

  it('rejects a token signed by a key the issuer never published', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await signWith(privateKey, { ...decodePart(aliceToken, 1) }, 'unknown-key');

    await expectRejected(providerVerifier, token, 'invalid_token', /signature is not valid/);
  });

  it('rejects a garbage string as malformed', async () => {
    await expectRejected(providerVerifier, 'not-a-jwt', 'invalid_token', /malformed/);
    await expectRejected(providerVerifier, 'a.b.c', 'invalid_token', /malformed/);
  });

  it('rejects a token signed with an algorithm outside the allow-list', async () => {
    const verifier = createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, algorithms: ['ES256'] });

    await expectRejected(verifier, aliceToken, 'invalid_token', /algorithm this service does not accept/);
  });

  it('rejects a token without exp', async () => {
    const token = await keys.sign({ sub: 'alice', iss: keys.issuer, aud: 'circle-of-trust' });

    await expectRejected(keysVerifier, token, 'invalid_token', /lacks the "exp" claim/);
  });

  it('answers invalid_token, not a crash, when the issuer cannot be reached for discovery', async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}`;
    const verifier = createJwtVerifier({ issuer, audience: 'circle-of-trust', algorithms: ALGORITHMS });

    await expectRejected(verifier, aliceToken, 'invalid_token', /signing keys could not be fetched/);
  });

  it('answers invalid_token, not a crash, when the JWKS URL cannot be reached', async () => {
    const verifier = createJwtVerifier({
      issuer: provider.issuer,
      audience: provider.audience,
      jwksUrl: `http://127.0.0.1:${await closedPort()}/jwks`,
      algorithms: ALGORITHMS,
    });

    await expectRejected(verifier, aliceToken, 'invalid_token', /signing keys could not be fetched/);
  });

  it('answers invalid_token when the JWKS URL serves no key set', async () => {
    const verifier = createJwtVerifier({ issuer: keys.issuer, audience: 'circle-of-trust', jwksUrl: `${keys.issuer}/missing`, algorithms: ALGORITHMS });
    const token = await keys.sign({ sub: 'alice', iss: keys.issuer, aud: 'circle-of-trust', exp: hourFromNow() });

    await expectRejected(verifier, token, 'invalid_token', /signing keys could not be fetched/);
  });
});
