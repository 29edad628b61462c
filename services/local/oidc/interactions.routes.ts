/**
 * The provider's interaction routes: a username form for login and automatic consent for
 * our own clients. Mounted in front of oidc-provider's own routes.
 */
import { Router } from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import { errors, type default as Provider, type Interaction } from 'oidc-provider';
import { USERNAME_RULE, isValidUsername } from './oidc.constants.js';
import { errorPage, loginPage } from './login-page.js';

/** Routes under /interaction/:uid for `provider`. */
export function interactionRoutes(provider: Provider): Router {
  const router = new Router();
  const form = bodyParser({ enableTypes: ['form'], formLimit: '4kb' });

  router.use(noStore, expiredInteractionPage);
  router.get('/interaction/:uid', (ctx) => showInteraction(provider, ctx));
  router.post('/interaction/:uid/login', form, (ctx) => submitLogin(provider, ctx));
  return router;
}

async function noStore(ctx: Context, next: Next): Promise<void> {
  ctx.set('cache-control', 'no-store');
  await next();
}

/** A stale or foreign interaction cookie is the user's problem to restart, not a 500. */
async function expiredInteractionPage(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    if (!(err instanceof errors.SessionNotFound)) throw err;
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = errorPage({ error: 'session_not_found', error_description: 'this sign-in has expired; start again from the application' });
  }
}

async function showInteraction(provider: Provider, ctx: Context): Promise<void> {
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  switch (interaction.prompt.name) {
    case 'login':
      ctx.type = 'html';
      ctx.body = loginPage({ uid: interaction.uid, clientId: clientIdOf(interaction) });
      return;
    case 'consent':
      // Every registered client is our own, so consent is given on the user's behalf.
      await grantConsent(provider, ctx, interaction);
      return;
    default:
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = errorPage({ error: 'invalid_request', error_description: `unsupported prompt ${interaction.prompt.name}` });
  }
}

async function submitLogin(provider: Provider, ctx: Context): Promise<void> {
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  if (interaction.prompt.name !== 'login') {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = errorPage({ error: 'invalid_request', error_description: 'this sign-in step is already complete' });
    return;
  }
  const body = (ctx.request as { body?: unknown }).body;
  const raw = body && typeof body === 'object' ? (body as Record<string, unknown>).username : undefined;
  const username = typeof raw === 'string' ? raw.trim() : '';
  if (!isValidUsername(username)) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = loginPage({ uid: interaction.uid, clientId: clientIdOf(interaction), error: USERNAME_RULE, username: username.slice(0, 64) });
    return;
  }
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
}

/** Grants exactly what the pending request is missing (the oidc-provider example's consent step). */
async function grantConsent(provider: Provider, ctx: Context, interaction: Interaction): Promise<void> {
  const accountId = interaction.session?.accountId;
  if (!accountId) throw new errors.SessionNotFound('no signed-in user for this consent');
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId, clientId: clientIdOf(interaction) });
  if (!grant) throw new errors.SessionNotFound('the grant for this consent has expired');

  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  const consent = interaction.grantId ? {} : { grantId };
  await provider.interactionFinished(ctx.req, ctx.res, { consent }, { mergeWithLastSubmission: true });
}

function clientIdOf(interaction: Interaction): string {
  const clientId = interaction.params.client_id;
  return typeof clientId === 'string' ? clientId : '';
}
