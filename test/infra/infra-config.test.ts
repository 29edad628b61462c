/**
 * The CDK app's configuration and its small pure pieces: context validation, Bedrock ARNs,
 * the worker's capacity strategy. No synthesis here, so these run in milliseconds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { InfraConfigError, readCdkJsonContext, readInfraConfig } from '../../infra/lib/config.js';
import { bedrockModelArns } from '../../infra/lib/constructs/bedrock-access.js';
import { workerCapacityStrategy } from '../../infra/lib/service.stack.js';
import { buildCotApp } from '../../infra/lib/cot-app.js';
import { loadCircle, modelIdsOf } from '../../services/shared/circle/circle.js';

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function appWith(context: Record<string, unknown>): App {
  const outdir = mkdtempSync(join(tmpdir(), 'cot-infra-config-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...readCdkJsonContext(), ...context } });
}

describe('readInfraConfig', () => {
  it('reads infra/cdk.json defaults and takes the region from CDK_DEFAULT_REGION', () => {
    const config = readInfraConfig(appWith({}).node, { CDK_DEFAULT_REGION: 'eu-west-1' });
    expect(config.region).toBe('eu-west-1');
    expect(config.account).toBeUndefined();
    expect(config.identityIsPlaceholder).toBe(true);
    expect(config.pingScopes).toEqual(['openid', 'profile', 'email']);
    expect(config.bedrockModelIds).toEqual([]);
  });

  it('accepts -c style strings for numbers and lists', () => {
    const config = readInfraConfig(
      appWith({ maxWorkerTasks: '25', workerOnDemandBase: '2', bedrockModelIds: 'a.b-v1:0, us.c.d-v2:0', region: 'us-west-2', pingIssuer: 'https://sso.example.com/as', pingClientId: 'spa' }).node,
      { CDK_DEFAULT_ACCOUNT: '111122223333' },
    );
    expect(config).toMatchObject({ maxWorkerTasks: 25, workerOnDemandBase: 2, region: 'us-west-2', account: '111122223333', identityIsPlaceholder: false });
    expect(config.bedrockModelIds).toEqual(['a.b-v1:0', 'us.c.d-v2:0']);
  });

  it('names every invalid setting in one error', () => {
    const app = appWith({ pingIssuer: 'http://insecure.example.com', maxWorkerTasks: 0, logRetentionDays: 13, alarmEmail: 'not-an-email' });
    expect(() => readInfraConfig(app.node, {})).toThrow(InfraConfigError);
    try {
      readInfraConfig(app.node, {});
    } catch (error) {
      for (const key of ['pingIssuer', 'maxWorkerTasks', 'logRetentionDays', 'alarmEmail']) expect((error as Error).message).toContain(key);
    }
  });
});

describe('bedrockModelArns', () => {
  const stack = new Stack(new App({ context: readCdkJsonContext() }), 'Arns', { env: { region: 'eu-central-1' } });
  const resolved = (ids: string[]) => bedrockModelArns(stack, ids).map((arn) => JSON.stringify(stack.resolve(arn)));

  it('scopes a foundation model id to its regional foundation-model ARN', () => {
    expect(resolved(['anthropic.claude-3-5-sonnet-20240620-v1:0'])).toEqual([
      JSON.stringify('arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0'),
    ]);
  });

  it('scopes an inference profile to the profile and its model in the regions it routes to', () => {
    const arns = resolved(['eu.anthropic.claude-3-7-sonnet-20250219-v1:0']);
    expect(arns).toHaveLength(2);
    expect(arns[0]).toContain(':inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0');
    expect(arns[1]).toContain('arn:aws:bedrock:*::foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0');
    expect(arns).not.toContain(JSON.stringify('*'));
  });
});

describe('workerCapacityStrategy', () => {
  it('runs every worker task on Spot by default', () => {
    expect(workerCapacityStrategy(0)).toEqual([{ capacityProvider: 'FARGATE_SPOT', weight: 1 }]);
  });

  it('keeps an on-demand base below the Spot tasks when asked', () => {
    expect(workerCapacityStrategy(2)).toEqual([
      { capacityProvider: 'FARGATE', base: 2, weight: 0 },
      { capacityProvider: 'FARGATE_SPOT', weight: 1 },
    ]);
  });
});

describe('buildCotApp', () => {
  it('grants the circle\'s models unless context overrides the model ids', () => {
    const defaults = buildCotApp(appWith({}));
    expect(defaults.modelIds).toEqual(modelIdsOf(loadCircle()));

    const app = appWith({ bedrockModelIds: ['us.anthropic.claude-3-5-sonnet-20240620-v1:0'] });
    const { service, modelIds } = buildCotApp(app);
    expect(modelIds).toEqual(['us.anthropic.claude-3-5-sonnet-20240620-v1:0']);
    const policy = service.workerTask.taskDefinition.taskRole.node.findChild('DefaultPolicy') as iam.Policy;
    const document = JSON.stringify(service.resolve(policy.document.toJSON()));
    expect(document).toContain('inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0');
    expect(document).not.toContain('mistral');
  });
});
