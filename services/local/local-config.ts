/**
 * Settings of `npm start` itself (ports of the stand-ins, number of workers, where state
 * lives), parsed once from the environment with a schema. The services' own settings
 * (timeouts, table names, …) stay in services/shared/config.ts and pass through unchanged.
 */
import { z } from 'zod';
import { ENV } from '../shared/contracts/names.js';
import { loadQueueSettings, type QueueSettings } from '../shared/config.js';
import { ConfigError } from '../shared/errors.js';
import { formatIssues } from '../shared/contracts/issues.js';
import { LocalConfigError } from './errors.js';

type Env = Record<string, string | undefined>;

/** Environment variables of the local stack launcher. */
export const LOCAL_ENV = {
  dir: 'COT_LOCAL_DIR',
  workers: 'COT_LOCAL_WORKERS',
  dynamodbPort: 'COT_LOCAL_DYNAMODB_PORT',
  sqsPort: 'COT_LOCAL_SQS_PORT',
  bedrockPort: 'COT_LOCAL_BEDROCK_PORT',
  bedrockControlPort: 'COT_LOCAL_BEDROCK_CONTROL_PORT',
  bedrockTokenDelayMs: 'COT_LOCAL_BEDROCK_TOKEN_DELAY_MS',
  bedrockFirstTokenDelayMs: 'COT_LOCAL_BEDROCK_FIRST_TOKEN_DELAY_MS',
  bedrockBadDay: 'COT_LOCAL_BEDROCK_BAD_DAY',
  oidcPort: 'COT_LOCAL_OIDC_PORT',
  wsPort: 'COT_LOCAL_WS_PORT',
  webPort: 'COT_LOCAL_WEB_PORT',
  webDir: 'COT_LOCAL_WEB_DIR',
} as const;

/** Defaults of `npm start`; tests use ephemeral ports instead. */
export const LOCAL_DEFAULTS = {
  dir: '.local',
  workers: 2,
  apiPort: 8080,
  wsPort: 8081,
  oidcPort: 8082,
  bedrockPort: 8083,
  bedrockControlPort: 8084,
  dynamodbPort: 8000,
  sqsPort: 9324,
  webPort: 8085,
  webDir: 'web',
} as const;

const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
const optionalMs = z.coerce.number().int().min(0).max(60_000).optional();

const schema = z.object({
  [LOCAL_ENV.dir]: z.string().min(1).default(LOCAL_DEFAULTS.dir),
  [LOCAL_ENV.workers]: z.coerce.number().int().min(0).max(32).default(LOCAL_DEFAULTS.workers),
  [ENV.apiPort]: port(LOCAL_DEFAULTS.apiPort),
  [LOCAL_ENV.wsPort]: port(LOCAL_DEFAULTS.wsPort),
  [LOCAL_ENV.oidcPort]: port(LOCAL_DEFAULTS.oidcPort),
  [LOCAL_ENV.bedrockPort]: port(LOCAL_DEFAULTS.bedrockPort),
  [LOCAL_ENV.bedrockControlPort]: port(LOCAL_DEFAULTS.bedrockControlPort),
  [LOCAL_ENV.dynamodbPort]: port(LOCAL_DEFAULTS.dynamodbPort),
  [LOCAL_ENV.sqsPort]: port(LOCAL_DEFAULTS.sqsPort),
  [LOCAL_ENV.webPort]: port(LOCAL_DEFAULTS.webPort),
  [LOCAL_ENV.webDir]: z.string().min(1).default(LOCAL_DEFAULTS.webDir),
  [LOCAL_ENV.bedrockTokenDelayMs]: optionalMs,
  [LOCAL_ENV.bedrockFirstTokenDelayMs]: optionalMs,
  // The share of model calls that misbehave like real models on a bad day (0 or unset: none).
  [LOCAL_ENV.bedrockBadDay]: z.coerce.number().min(0).max(1).optional(),
});

export interface LocalConfig {
  dir: string;
  workers: number;
  ports: { api: number; ws: number; oidc: number; bedrock: number; bedrockControl: number; dynamodb: number; sqs: number; web: number };
  /** The web app's folder (built to its dist/ and served). */
  webDir: string;
  bedrock: { tokenDelayMs?: number; firstTokenDelayMs?: number; badDay?: { rate: number; seed: string } };
}

/** The launcher's configuration; a bad value is a LocalConfigError naming the variable. */
export function loadLocalConfig(env: Env): LocalConfig {
  const e = parseOrThrow(schema, env);
  const badDay = e[LOCAL_ENV.bedrockBadDay];
  return {
    dir: e[LOCAL_ENV.dir],
    workers: e[LOCAL_ENV.workers],
    ports: {
      api: e[ENV.apiPort],
      ws: e[LOCAL_ENV.wsPort],
      oidc: e[LOCAL_ENV.oidcPort],
      bedrock: e[LOCAL_ENV.bedrockPort],
      bedrockControl: e[LOCAL_ENV.bedrockControlPort],
      dynamodb: e[LOCAL_ENV.dynamodbPort],
      sqs: e[LOCAL_ENV.sqsPort],
      web: e[LOCAL_ENV.webPort],
    },
    webDir: e[LOCAL_ENV.webDir],
    bedrock: {
      tokenDelayMs: e[LOCAL_ENV.bedrockTokenDelayMs],
      firstTokenDelayMs: e[LOCAL_ENV.bedrockFirstTokenDelayMs],
      ...(badDay ? { badDay: { rate: badDay, seed: 'bad-day' } } : {}),
    },
  };
}

/**
 * The service settings the launcher itself needs (queue redrive/visibility, how long workers
 * may take to stop), parsed by the services' own schema so the queue matches the workers.
 */
export function loadStackServiceSettings(env: Env): QueueSettings {
  try {
    return loadQueueSettings(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new LocalConfigError(err.message, { cause: err });
    throw err;
  }
}

function parseOrThrow<S extends z.ZodType>(s: S, env: Env): z.infer<S> {
  const result = s.safeParse(env);
  if (!result.success) {
    throw new LocalConfigError(`invalid local stack configuration: ${formatIssues(result.error.issues)}`);
  }
  return result.data;
}
