/** Renders the whole app at a path, signed in (or not), with the network faked at its edge. */
import { render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { User } from 'oidc-client-ts';
import { ApiClient } from '../api/api-client';
import { App } from '../app/App';
import { syncLocation } from '../app/router';
import { ServicesProvider } from '../app/services';
import { Auth } from '../auth/auth';
import type { WebConfig } from '../contracts';
import { fakeApi, fakeSockets, type FakeApi, type FakeSockets } from './fake-network';

export const CONFIG: WebConfig = {
  apiUrl: 'http://api.test',
  wsUrl: 'ws://ws.test/local',
  oidc: { authority: 'http://idp.test', clientId: 'cot-web', scope: 'openid cot.api', resource: 'urn:circle-of-trust' },
};

export interface RenderOptions {
  signedIn?: boolean;
  /** Seconds until the stored access token expires (negative: already expired). */
  expiresIn?: number;
  config?: Partial<WebConfig>;
  api?: FakeApi;
  sockets?: FakeSockets;
}

export async function renderApp(path: string, options: RenderOptions = {}) {
  const config = { ...CONFIG, ...options.config };
  if (options.signedIn !== false) {
    const user = new User({
      access_token: 'token-alice',
      id_token: 'id-token-alice',
      token_type: 'Bearer',
      scope: config.oidc.scope,
      profile: { sub: 'alice', preferred_username: 'alice', iss: config.oidc.authority, aud: config.oidc.clientId, exp: 0, iat: 0 },
      expires_at: Math.floor(Date.now() / 1000) + (options.expiresIn ?? 3600),
    });
    sessionStorage.setItem(`oidc.user:${config.oidc.authority}:${config.oidc.clientId}`, user.toStorageString());
  }
  const auth = new Auth(config.oidc, 'http://localhost:3000');
  await auth.init();
  const api = options.api ?? fakeApi(config.apiUrl);
  const sockets = options.sockets ?? fakeSockets();
  const client = new ApiClient({ baseUrl: config.apiUrl, token: () => auth.accessToken(), onUnauthorized: () => auth.expire(), fetch: api.fetch });
  window.history.replaceState(null, '', path);
  syncLocation();
  const user = userEvent.setup();
  const result = render(
    <ServicesProvider value={{ config, auth, api: client, openSocket: sockets.open }}>
      <App />
    </ServicesProvider>,
  );
  return { ...result, user, api, sockets, auth };
}
