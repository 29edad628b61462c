/** The web app's `config.json` for the local stack: its endpoints and the local provider's web client. */
import type { WebConfig } from '../../shared/contracts/web-config.js';
import { API_SCOPES, CLIENT_IDS, apiResourceIndicator } from '../oidc/oidc.constants.js';

export interface LocalWebConfigInput {
  apiUrl: string;
  wsUrl: string;
  oidc: { issuer: string; audience: string };
  /** True when the issuer is the stack's own provider (which takes RFC 8707 resource indicators). */
  localProvider: boolean;
  /** True when the advisors are the Bedrock stand-in's simulation. */
  simulated: boolean;
}

/** Scopes the web app asks for: an ID token with the user's name, and access to the API. */
export const WEB_SCOPE = ['openid', 'profile', ...API_SCOPES].join(' ');

export function localWebConfig(input: LocalWebConfigInput): WebConfig {
  return {
    apiUrl: input.apiUrl,
    wsUrl: input.wsUrl,
    oidc: {
      authority: input.oidc.issuer,
      clientId: CLIENT_IDS.web,
      scope: WEB_SCOPE,
      ...(input.localProvider ? { resource: apiResourceIndicator(input.oidc.audience) } : {}),
    },
    simulated: input.simulated,
  };
}
