/**
 * The optional Bedrock guardrail: made from configuration (denied topics, PII), published as
 * a version, passed to the worker, and ApplyGuardrail granted on exactly it and on the
 * guardrails the circle file names itself. Construct templates only (no Docker staging).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { InfraConfigError, readCdkJsonContext, readInfraConfig } from '../../infra/lib/config.js';
import { AdviceGuardrail } from '../../infra/lib/constructs/advice-guardrail.js';
import { buildCotApp } from '../../infra/lib/cot-app.js';
import { ENV } from '../../services/shared/contracts/names.js';

const GUARDRAIL = {
  deniedTopics: [{ name: 'Investment advice', definition: 'Recommendations to buy or sell specific securities.', examples: ['Which stock should I buy?'] }],
  pii: [
    { type: 'EMAIL', action: 'ANONYMIZE' },
    { type: 'US_SOCIAL_SECURITY_NUMBER', action: 'BLOCK' },
  ],
  blockedMessage: 'The content guardrail blocked this answer.',
} as const;

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function appWith(context: Record<string, unknown>): App {
  const outdir = mkdtempSync(join(tmpdir(), 'cot-infra-guardrail-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...readCdkJsonContext(), ...context } });
}

/** The worker role's policy statements, resolved. */
function workerStatements(service: ReturnType<typeof buildCotApp>['service']): { Action: string | string[]; Resource: unknown }[] {
  const policy = service.workerTask.taskDefinition.taskRole.node.findChild('DefaultPolicy') as iam.Policy;
  return (service.resolve(policy.document.toJSON()) as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement;
}

const applies = (s: { Action: string | string[] }): boolean => [s.Action].flat().includes('bedrock:ApplyGuardrail');

describe('AdviceGuardrail', () => {
  const app = new App();
  const stack = new Stack(app, 'GuardrailStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const role = new iam.Role(stack, 'Worker', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
  const guardrail = new AdviceGuardrail(stack, 'Guardrail', { name: 'cot-advice', ...GUARDRAIL });
  guardrail.grantApply(role);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const template = Template.fromStack(stack);

  it('creates the guardrail with its denied topics, PII handling and blocked message', () => {
    template.hasResourceProperties('AWS::Bedrock::Guardrail', {
      Name: 'cot-advice',
      BlockedInputMessaging: GUARDRAIL.blockedMessage,
      BlockedOutputsMessaging: GUARDRAIL.blockedMessage,
      TopicPolicyConfig: {
        TopicsConfig: [{ Name: 'Investment advice', Definition: GUARDRAIL.deniedTopics[0].definition, Examples: ['Which stock should I buy?'], Type: 'DENY' }],
      },
      SensitiveInformationPolicyConfig: {
        PiiEntitiesConfig: [
          { Type: 'EMAIL', Action: 'ANONYMIZE' },
          { Type: 'US_SOCIAL_SECURITY_NUMBER', Action: 'BLOCK' },
        ],
      },
    });
  });

  it('publishes a version of it for the calls to name', () => {
    const [logicalId] = Object.keys(template.findResources('AWS::Bedrock::Guardrail'));
    template.hasResourceProperties('AWS::Bedrock::GuardrailVersion', { GuardrailIdentifier: { 'Fn::GetAtt': [logicalId, 'GuardrailId'] } });
  });

  it('grants bedrock:ApplyGuardrail on exactly this guardrail', () => {
    const [logicalId] = Object.keys(template.findResources('AWS::Bedrock::Guardrail'));
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'bedrock:ApplyGuardrail', Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalId, 'GuardrailArn'] } }] },
    });
  });

  it('refuses a guardrail that would guard nothing', () => {
    const empty = new Stack(new App(), 'Empty');
    expect(() => new AdviceGuardrail(empty, 'G', { name: 'x', deniedTopics: [], pii: [], blockedMessage: 'no' })).toThrow(/at least one denied topic or PII/);
  });
});

describe('the deployment guardrail in the app', () => {
  it('reads a guardrail from cdk.json or from a -c JSON string, and none by default', () => {
    expect(readInfraConfig(appWith({}).node, {}).guardrail).toBeUndefined();
    expect(readInfraConfig(appWith({ guardrail: GUARDRAIL }).node, {}).guardrail).toMatchObject({ pii: GUARDRAIL.pii });
    expect(readInfraConfig(appWith({ guardrail: JSON.stringify({ pii: [{ type: 'PHONE', action: 'BLOCK' }] }) }).node, {}).guardrail).toMatchObject({
      pii: [{ type: 'PHONE', action: 'BLOCK' }],
      deniedTopics: [],
      blockedMessage: 'The content guardrail blocked this answer.',
    });
  });

  it('names a bad guardrail setting in a readable error', () => {
    for (const guardrail of [{ pii: [{ type: 'SHOE_SIZE', action: 'BLOCK' }] }, {}, '{not json']) {
      expect(() => readInfraConfig(appWith({ guardrail }).node, {})).toThrow(InfraConfigError);
    }
    expect(() => readInfraConfig(appWith({ guardrail: '{not json' }).node, {})).toThrow(/guardrail: must be a JSON object/);
  });

  it('passes the guardrail to the worker and grants ApplyGuardrail on it and on the circle file’s own, nothing else', () => {
    const { service } = buildCotApp(appWith({ circleFile: 'fixtures/circles/guardrail.circle.json', guardrail: GUARDRAIL }));
    expect(service.guardrail).toBeDefined();
    const statements = workerStatements(service).filter(applies);
    expect(statements).toHaveLength(2);
    const resources = statements.map((s) => s.Resource);
    expect(resources).toContainEqual(service.resolve(service.guardrail!.guardrailArn));
    expect(resources).toContainEqual('arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123mistral');
    const rendered = service.resolve(service.workerTask.appContainer.renderContainerDefinition()) as { environment: { name: string; value: unknown }[] };
    const env = Object.fromEntries(rendered.environment.map((e) => [e.name, e.value]));
    expect(env[ENV.guardrailIdentifier]).toEqual(service.resolve(service.guardrail!.guardrailId));
    expect(env[ENV.guardrailVersion]).toEqual(service.resolve(service.guardrail!.guardrailVersion));
  });

  it('creates no guardrail and grants no ApplyGuardrail for the shipped circle without one', () => {
    const { service } = buildCotApp(appWith({}));
    expect(service.guardrail).toBeUndefined();
    expect(workerStatements(service).filter(applies)).toEqual([]);
    expect(service.node.tryFindChild('Guardrail')).toBeUndefined();
  });

  it('refuses a circle file that asks for the deployment’s guardrail when none is configured', () => {
    expect(() => buildCotApp(appWith({ circleFile: 'fixtures/circles/guardrail.circle.json' }))).toThrow(/gives a member "guardrail": "deployment", but the context configures no guardrail/);
  });
});
