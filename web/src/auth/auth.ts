/**
 * Sign-in with OpenID Connect: authorization code + PKCE through oidc-client-ts, the user
 * (and the sign-in state) kept in sessionStorage, never localStorage. The access token is
 * the API's bearer token and the WebSocket's `?token=`. When the configuration names a
 * resource (RFC 8707), it is sent on the authorize and token requests so the access token
 * is a JWT for the API's audience.
 */
import { UserManager, WebStorageStateStore, type INavigator, type User } from 'oidc-client-ts';
import type { WebConfig } from '../contracts';
import { createStore, type Store } from '../app/store';

export type AuthState =
  | { status: 'loading' }
  | { status: 'signed-out' }
  | { status: 'signed-in'; name: string }
  /** The session ran out: the page stays as it is and offers to sign in again. */
  | { status: 'expired'; name?: string };

/** Where to come back to after the sign-in round trip. */
interface SignInState {
  returnTo: string;
}

export class Auth {
  readonly state: Store<AuthState> = createStore<AuthState>({ status: 'loading' });
  private readonly manager: UserManager;
  private user?: User;

  /**
   * `origin` is where the provider sends the browser back (`<origin>/callback`). A test may
   * pass the page navigation (`redirect`), the one part of the flow a test cannot perform.
   */
  constructor(config: WebConfig['oidc'], origin: string, options: { storage?: Storage; redirect?: INavigator } = {}) {
    const store = new WebStorageStateStore({ store: options.storage ?? sessionStorage });
    // The resource rides on the authorize request (`resource`) and the token request
    // (`extraTokenParams`); not extraQueryParams, which would also go to the sign-out URL.
    const resource = config.resource ? { resource: config.resource } : undefined;
    this.manager = new UserManager({
      authority: config.authority,
      client_id: config.clientId,
      redirect_uri: `${origin}/callback`,
      post_logout_redirect_uri: `${origin}/`,
      response_type: 'code',
      scope: config.scope,
      userStore: store,
      stateStore: store,
      ...(resource ? { resource: resource.resource, extraTokenParams: resource } : {}),
      // Public client without refresh tokens: an expired session asks to sign in again.
      automaticSilentRenew: false,
      loadUserInfo: false,
    }, options.redirect);
    this.manager.events.addAccessTokenExpired(() => this.expire());
  }

  /** Reads the stored session, if any. */
  async init(): Promise<void> {
    const user = (await this.manager.getUser()) ?? undefined;
    this.user = user;
    if (!user) this.state.set({ status: 'signed-out' });
    else if (user.expired) this.state.set({ status: 'expired', name: nameOf(user) });
    else this.state.set({ status: 'signed-in', name: nameOf(user) });
  }

  /** Leaves for the provider's sign-in page; comes back to `returnTo`. */
  async signIn(returnTo: string): Promise<void> {
    await this.manager.signinRedirect({ state: { returnTo } satisfies SignInState });
  }

  /** Completes the sign-in on /callback; returns the path to go back to. */
  async completeSignIn(url: string): Promise<string> {
    const user = await this.manager.signinRedirectCallback(url);
    this.user = user;
    this.state.set({ status: 'signed-in', name: nameOf(user) });
    const returnTo = (user.state as Partial<SignInState> | undefined)?.returnTo;
    // Only a path of this app: never an open redirect.
    return typeof returnTo === 'string' && returnTo.startsWith('/') && !returnTo.startsWith('//') ? returnTo : '/';
  }

  /** Forgets the session here and at the provider. */
  async signOut(): Promise<void> {
    const idToken = this.user?.id_token;
    await this.manager.removeUser();
    this.user = undefined;
    this.state.set({ status: 'signed-out' });
    try {
      await this.manager.signoutRedirect(idToken ? { id_token_hint: idToken } : {});
    } catch {
      // A provider without an end-session endpoint: signed out here is all there is.
    }
  }

  /** The bearer token, or undefined (and the session marked expired) when it has run out. */
  accessToken(): string | undefined {
    const user = this.user;
    if (!user) return undefined;
    if (user.expired) {
      this.expire();
      return undefined;
    }
    return user.access_token;
  }

  /** The API refused the token: the session is over. */
  expire(): void {
    const current = this.state.get();
    if (current.status === 'signed-in') this.state.set({ status: 'expired', name: current.name });
  }
}

function nameOf(user: User): string {
  const p = user.profile;
  return (typeof p.preferred_username === 'string' && p.preferred_username) || (typeof p.name === 'string' && p.name) || p.sub;
}
