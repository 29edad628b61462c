/**
 * The Bedrock stand-in served in the test's process, and the real SDK client pointed at it
 * through the SDK's own endpoint variable, exactly as the worker is configured (no client
 * options), with the worker's adapter on top. Registers its own beforeAll/afterAll and puts
 * back the AWS variables it changed.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll } from 'vitest';
import { BedrockControl } from '../../services/local/bedrock/control-client.js';
import { startBedrockStandin, type BedrockStandin } from '../../services/local/bedrock/server.js';
import type { StandinConfig } from '../../services/local/bedrock/standin.types.js';
import { BedrockModelClient } from '../../services/shared/adapters/aws/bedrock-model-client.js';
import { createBedrockRuntime } from '../../services/shared/aws-clients.js';
import { ModelCallError } from '../../services/shared/errors.js';

export interface BedrockSdkFixture {
  standin: BedrockStandin;
  control: BedrockControl;
  sdk: BedrockRuntimeClient;
  models: BedrockModelClient;
}

const ENV_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_BEDROCK_RUNTIME'];

/** Use its fields inside tests and hooks (they are set in beforeAll). */
export function withBedrockSdk(timing: Partial<Pick<StandinConfig, 'firstTokenDelayMs' | 'tokenDelayMs'>>): BedrockSdkFixture {
  const fx = {} as BedrockSdkFixture;
  const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  beforeAll(async () => {
    for (const k of ENV_KEYS) delete process.env[k];
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' });
    fx.standin = await startBedrockStandin(timing);
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = fx.standin.url;
    fx.control = new BedrockControl(fx.standin.controlUrl);
    fx.sdk = createBedrockRuntime();
    fx.models = new BedrockModelClient(fx.sdk);
  });
  afterAll(async () => {
    fx.sdk?.destroy();
    await fx.standin?.close();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  return fx;
}

/** The ModelCallError a call rejects with; anything else (or no rejection) fails the test. */
export async function failure(promise: Promise<unknown>): Promise<ModelCallError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ModelCallError)) throw new Error(`expected a ModelCallError, got ${String(err)}`);
  return err;
}
