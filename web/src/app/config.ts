/** Reads and checks the runtime configuration (`/config.json`, written by the deployment). */
import { WEB_CONFIG_PATH, type WebConfig } from '../contracts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUrl = (v: unknown, protocols: string[]): v is string => {
  if (typeof v !== 'string') return false;
  try {
    return protocols.includes(new URL(v).protocol);
  } catch {
    return false;
  }
};

/** The configuration in `raw`, or a ConfigError naming what is wrong. */
export function parseConfig(raw: unknown): WebConfig {
  if (!isRecord(raw)) throw new ConfigError('config.json is not a JSON object');
  const { apiUrl, wsUrl, oidc, simulated } = raw;
  if (!isUrl(apiUrl, ['http:', 'https:'])) throw new ConfigError('config.json: apiUrl must be an http(s) URL');
  if (!isUrl(wsUrl, ['ws:', 'wss:'])) throw new ConfigError('config.json: wsUrl must be a ws(s) URL');
  if (!isRecord(oidc)) throw new ConfigError('config.json: oidc is missing');
  if (!isUrl(oidc.authority, ['http:', 'https:'])) throw new ConfigError('config.json: oidc.authority must be an http(s) URL');
  if (typeof oidc.clientId !== 'string' || !oidc.clientId) throw new ConfigError('config.json: oidc.clientId is missing');
  if (typeof oidc.scope !== 'string' || !oidc.scope) throw new ConfigError('config.json: oidc.scope is missing');
  if (oidc.resource !== undefined && typeof oidc.resource !== 'string') throw new ConfigError('config.json: oidc.resource must be a string');
  return {
    apiUrl: apiUrl.replace(/\/+$/, ''),
    wsUrl,
    oidc: { authority: oidc.authority, clientId: oidc.clientId, scope: oidc.scope, ...(oidc.resource ? { resource: oidc.resource } : {}) },
    ...(simulated === true ? { simulated: true } : {}),
  };
}

/** Fetches the configuration beside the app. */
export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<WebConfig> {
  let res: Response;
  try {
    res = await fetchImpl(WEB_CONFIG_PATH, { cache: 'no-store' });
  } catch {
    throw new ConfigError('Could not load the app’s configuration (config.json). Check your connection and reload.');
  }
  if (!res.ok) throw new ConfigError(`Could not load the app’s configuration: config.json answered ${res.status}.`);
  return parseConfig(await res.json().catch(() => undefined));
}
