import { describe, expect, it } from 'vitest';
import { LOCAL_DEFAULTS, loadLocalConfig, loadStackServiceSettings } from '../../../services/local/local-config.js';
import { LocalConfigError } from '../../../services/local/errors.js';
import { loadWorkerConfig } from '../../../services/shared/config.js';

describe('loadLocalConfig', () => {
  it('uses the documented npm start defaults when nothing is set', () => {
    const c = loadLocalConfig({});
    expect(c.ports).toEqual({ api: 8080, ws: 8081, oidc: 8082, bedrock: 8083, bedrockControl: 8084, dynamodb: 8000, sqs: 9324, web: 8085 });
    expect(c.workers).toBe(LOCAL_DEFAULTS.workers);
    expect(c.dir).toBe('.local');
    expect(c.webDir).toBe('web');
  });

  it('reads ports, workers and Bedrock timing from the environment', () => {
    const c = loadLocalConfig({ COT_API_PORT: '0', COT_LOCAL_SQS_PORT: '9999', COT_LOCAL_WORKERS: '3', COT_LOCAL_BEDROCK_TOKEN_DELAY_MS: '5' });
    expect(c.ports.api).toBe(0);
    expect(c.ports.sqs).toBe(9999);
    expect(c.workers).toBe(3);
    expect(c.bedrock.tokenDelayMs).toBe(5);
  });

  it('reads the web app\'s port and folder', () => {
    const c = loadLocalConfig({ COT_LOCAL_WEB_PORT: '0', COT_LOCAL_WEB_DIR: '/tmp/some-app' });
    expect(c.ports.web).toBe(0);
    expect(c.webDir).toBe('/tmp/some-app');
    expect(() => loadLocalConfig({ COT_LOCAL_WEB_PORT: '-1' })).toThrow(/COT_LOCAL_WEB_PORT/);
  });

  it('turns the simulated advisors’ bad day on with a share of calls, and leaves it off by default', () => {
    expect(loadLocalConfig({}).bedrock.badDay).toBeUndefined();
    expect(loadLocalConfig({ COT_LOCAL_BEDROCK_BAD_DAY: '0' }).bedrock.badDay).toBeUndefined();
    expect(loadLocalConfig({ COT_LOCAL_BEDROCK_BAD_DAY: '0.3' }).bedrock.badDay).toEqual({ rate: 0.3, seed: 'bad-day' });
    expect(() => loadLocalConfig({ COT_LOCAL_BEDROCK_BAD_DAY: '30%' })).toThrow(/COT_LOCAL_BEDROCK_BAD_DAY/);
    expect(() => loadLocalConfig({ COT_LOCAL_BEDROCK_BAD_DAY: '2' })).toThrow(/COT_LOCAL_BEDROCK_BAD_DAY/);
  });

  it('names the variable when a value is invalid', () => {
    expect(() => loadLocalConfig({ COT_LOCAL_DYNAMODB_PORT: 'eighty' })).toThrow(LocalConfigError);
    expect(() => loadLocalConfig({ COT_LOCAL_DYNAMODB_PORT: '70000' })).toThrow(/COT_LOCAL_DYNAMODB_PORT/);
  });
});

describe('loadStackServiceSettings', () => {
  it('takes the redrive count, visibility and shutdown grace the services will use', () => {
    expect(loadStackServiceSettings({})).toEqual({ maxReceiveCount: 100, visibilitySeconds: 6, shutdownGraceMs: 90_000 });
    expect(loadStackServiceSettings({ COT_MAX_RECEIVE_COUNT: '3', COT_SHUTDOWN_GRACE_SECONDS: '2' })).toMatchObject({ maxReceiveCount: 3, shutdownGraceMs: 2_000 });
  });

  it('reads the same values as the worker, so the queue matches what the workers assume', () => {
    const env = { COT_JOB_QUEUE_URL: 'http://127.0.0.1:1/000000000000/q', COT_VISIBILITY_SECONDS: '12', COT_MAX_RECEIVE_COUNT: '7', COT_SHUTDOWN_GRACE_SECONDS: '4' };
    const worker = loadWorkerConfig(env);
    expect(loadStackServiceSettings(env)).toEqual({ visibilitySeconds: worker.visibilitySeconds, maxReceiveCount: worker.maxReceiveCount, shutdownGraceMs: worker.shutdownGraceMs });
  });

  it('names the variable when a value is invalid', () => {
    expect(() => loadStackServiceSettings({ COT_MAX_RECEIVE_COUNT: '0' })).toThrow(LocalConfigError);
    expect(() => loadStackServiceSettings({ COT_VISIBILITY_SECONDS: 'ten' })).toThrow(/COT_VISIBILITY_SECONDS/);
  });
});
