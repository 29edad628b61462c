/**
 * The web app's runtime configuration: `config.json` beside its static files, written by
 * the deployment (the CDK web stack in AWS, `npm start` locally), never baked into the build.
 */
export interface WebConfig {
  /** Base URL of the HTTP API, without a trailing slash. */
  apiUrl: string;
  /** URL of the WebSocket API (the token is added as `?token=`). */
  wsUrl: string;
  oidc: {
    /** The OpenID issuer: PingID in AWS, the local provider here. */
    authority: string;
    /** The web app's public client (authorization code + PKCE, no secret). */
    clientId: string;
    /** Scopes to ask for, e.g. "openid profile". */
    scope: string;
    /** RFC 8707 resource indicator naming the API, so access tokens carry its audience; absent where the issuer needs none. */
    resource?: string;
  };
  /** The advisors are the local simulation (the Bedrock stand-in): the app says so on every page. */
  simulated?: boolean;
}

/** Where the web app reads its configuration, relative to its own origin. */
export const WEB_CONFIG_PATH = '/config.json';
