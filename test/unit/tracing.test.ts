import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../services/shared/config.js';
import { silentLogger } from '../../services/shared/logging.js';
import { createTracing } from '../../services/shared/adapters/aws/xray-tracing.js';
import { NO_TRACER } from '../../services/shared/ports/tracer.js';

const require = createRequire(import.meta.url);
const xrayLoaded = () => require.resolve('aws-xray-sdk-core') in require.cache;

describe('createTracing', () => {
  it('is off by default and then never loads the X-Ray SDK', async () => {
    const config = loadApiConfig({ COT_JOB_QUEUE_URL: 'http://127.0.0.1:1/q', COT_OIDC_ISSUER: 'http://127.0.0.1:1', COT_OIDC_AUDIENCE: 'cot' });

    const tracing = await createTracing({ enabled: config.tracing, logger: silentLogger() });

    expect(config.tracing).toBe(false);
    expect(tracing).toBeUndefined();
    // Loading the SDK alone would switch on its async hooks for every request and job.
    expect(xrayLoaded()).toBe(false);
  });
});

describe('NO_TRACER', () => {
  it('runs the work untraced and hands back its result or its error', async () => {
    const result = await NO_TRACER.segment('cot-api', async (span) => {
      span.annotate({ route: '/chat' });
      span.flag('fault');
      return NO_TRACER.subsegment('model-call', async () => 'answer');
    });
    const failure = await NO_TRACER.subsegment('model-call', async () => {
      throw new Error('throttled');
    }).catch((err: unknown) => err);

    expect(result).toBe('answer');
    expect(failure).toEqual(new Error('throttled'));
    expect(xrayLoaded()).toBe(false);
  });
});
