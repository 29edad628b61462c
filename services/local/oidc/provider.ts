/**
 * The local OpenID Connect provider that stands in for PingID: oidc-provider on loopback,
 * signing JWT access tokens for the API with an RS256 key made at start-up. Users sign in
 * with a username only; consent for our own clients is automatic.
 */
import { closeServer, listen } from '../../shared/net.js';
import { createServer } from 'node:http';
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { calculateJwkThumbprint, type JWK } from 'jose';
import Provider, { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../../shared/logging.js';
import { interactionRoutes } from './interactions.routes.js';
import { errorPage, logoutPage, signedOutPage } from './login-page.js';
import {
  API_SCOPES,
  CLI_REDIRECT_URI,
  CLIENT_IDS,
  DEFAULT_AUDIENCE,
  DEFAULT_WEB_REDIRECT_URIS,
  apiResourceIndicator,
  isValidUsername,
} from './oidc.constants.js';

export interface OidcProviderOptions {
  /** Interface to bind; loopback unless told otherwise. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** `aud` of the API's access tokens; default 'circle-of-trust'. */
  audience?: string;
  /** Lifetime of access tokens; default one hour. */
  accessTokenTtlSeconds?: number;
  /** Extra redirect URIs for the web UI (loopback URIs match on any port). */
  webRedirectUris?: string[];
  /** Secret of the `cot-scripts` client; a random one when unset. */
  scriptsClientSecret?: string;
  /** Where server errors go (messages only, never tokens); silent when unset. */
  logger?: Logger;
}

export interface LocalOidcProvider {
  issuer: string;
  audience: string;
  /** The resource indicator (RFC 8707) a client sends to get tokens for `audience`. */
  resource: string;
  /** Credentials of the confidential `cot-scripts` client, for client-credentials grants. */
  scriptsClient: { clientId: string; clientSecret: string };
  close(): Promise<void>;
}

const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 3600;
const generateRsaKeyPair = promisify(generateKeyPair);

/** Starts the provider on loopback; resolves once it accepts connections. */
export async function startOidcProvider(opts: OidcProviderOptions = {}): Promise<LocalOidcProvider> {
  const host = opts.host ?? '127.0.0.1';
  const audience = opts.audience ?? DEFAULT_AUDIENCE;
  const ttl = opts.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new RangeError('accessTokenTtlSeconds must be a positive integer');
  const clientSecret = opts.scriptsClientSecret ?? randomBytes(32).toString('base64url');

  // The issuer includes the port, so listen first and attach the provider once it is known.
  const server = createServer();
  const port = await listen(server, opts.port ?? 0, host);
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  try {
    const provider = new Provider(
      issuer,
      await providerConfiguration({
        audience,
        ttl,
        clientSecret,
        webRedirectUris: [...DEFAULT_WEB_REDIRECT_URIS, ...(opts.webRedirectUris ?? [])],
      }),
    );
    provider.on('server_error', (_ctx: unknown, err: Error) => {
      opts.logger?.error({ err: { name: err.name, message: err.message } }, 'oidc provider error');
    });
    provider.use(interactionRoutes(provider).routes());
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's request handler never rejects: it answers errors itself
    server.on('request', provider.callback());
  } catch (err) {
    await closeServer(server);
    throw err;
  }

  return {
    issuer,
    audience,
    resource: apiResourceIndicator(audience),
    scriptsClient: { clientId: CLIENT_IDS.scripts, clientSecret },
    close: () => closeServer(server),
  };
}

interface ConfigurationInput {
  audience: string;
  ttl: number;
  clientSecret: string;
  webRedirectUris: string[];
}

async function providerConfiguration(input: ConfigurationInput): Promise<Configuration> {
  const resource = apiResourceIndicator(input.audience);
  return {
    clients: clients(input),
    jwks: { keys: [await signingKey()] },
    // Cookie signing keys live as long as the process, like every session in memory.
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: (_ctx, sub) =>
      isValidUsername(sub) ? { accountId: sub, claims: () => ({ sub, preferred_username: sub }) } : undefined,
    scopes: ['openid', 'profile'],
    claims: { openid: ['sub'], profile: ['preferred_username'] },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // The provider's own pages instead of its defaults (which load web fonts and fail contrast checks).
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.type = 'html';
          ctx.body = signedOutPage();
        },
      },
      resourceIndicators: {
        enabled: true,
        // A client that names no resource still gets tokens for the API: it is the only one.
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== resource) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return {
            scope: API_SCOPES.join(' '),
            audience: input.audience,
            accessTokenTTL: input.ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: input.ttl,
      ClientCredentials: input.ttl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 86_400,
      Grant: 86_400,
    },
    clientBasedCORS: (_ctx, origin) => isLoopbackOrigin(origin),
    renderError: (ctx: KoaContextWithOIDC, out) => {
      ctx.type = 'html';
      ctx.body = errorPage({ error: out.error, error_description: out.error_description });
    },
  };
}

function clients(input: ConfigurationInput): ClientMetadata[] {
  const publicClient: Partial<ClientMetadata> = {
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  };
  return [
    {
      ...publicClient,
      client_id: CLIENT_IDS.web,
      // 'native' is what lets loopback redirect URIs match on any port (RFC 8252 §7.3);
      // the UI's dev server and test servers pick their ports at run time.
      application_type: 'native',
      redirect_uris: unique(input.webRedirectUris),
      post_logout_redirect_uris: unique(input.webRedirectUris),
    },
    { ...publicClient, client_id: CLIENT_IDS.cli, application_type: 'native', redirect_uris: [CLI_REDIRECT_URI] },
    {
      client_id: CLIENT_IDS.scripts,
      client_secret: input.clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ];
}

/** A fresh RS256 signing key; its public half is served at the JWKS endpoint. */
async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

/** The browser UI calls the token endpoint cross-origin from whatever loopback port it runs on. */
function isLoopbackOrigin(origin: string): boolean {
  const url = URL.parse(origin);
  return url !== null && url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}


/** `tsx services/local/oidc/provider.ts [port]`: runs the provider alone until interrupted. */
export async function main(argv = process.argv.slice(2)): Promise<void> {
  const port = Number(argv[0] ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`not a port: ${argv[0]}\n`);
    process.exitCode = 2;
    return;
  }
  const provider = await startOidcProvider({ port });
  process.stdout.write(`local OpenID provider at ${provider.issuer} (audience ${provider.audience})\n`);
  const stop = () => void provider.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
