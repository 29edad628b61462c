/**
 * The synthesized Circle of Trust app: one synthesis for the whole file (it stages the
 * Docker contexts and is the slow part), then precise assertions on the templates, the
 * containers' environment fed back through the services' own config loaders, and cdk-nag.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { buildCotApp, type CotStacks } from '../../infra/lib/cot-app.js';
import { readCdkJsonContext } from '../../infra/lib/config.js';
import { HTTP_ROUTES, WEBSOCKET_STAGE } from '../../infra/lib/api.stack.js';
import { INTEGRATION_SECRET_PARAMETER, WEBSOCKET_BACKEND_PATHS } from '../../infra/lib/constructs/websocket-proxy-routes.js';
import { WS_INTEGRATION_SECRET_HEADER } from '../../services/shared/contracts/ws.js';
import { BEDROCK_INVOKE_ACTIONS } from '../../infra/lib/constructs/bedrock-access.js';
import { WORKER_STOP_TIMEOUT_SECONDS } from '../../infra/lib/container-env.js';
import { SITE_CACHE_CONTROL, SPA_ROUTING_CODE } from '../../infra/lib/web.stack.js';
import { WEB_SECURITY_HEADERS } from '../../services/shared/contracts/web-security.js';
import { TABLES, type TableDefinition } from '../../services/shared/contracts/tables.js';
import { ENV, JOB_VISIBILITY_SECONDS_DEFAULT, MAX_RECEIVE_COUNT_DEFAULT } from '../../services/shared/contracts/names.js';
import { loadApiConfig, loadWorkerConfig } from '../../services/shared/config.js';
import { loadCircle, modelIdsOf } from '../../services/shared/circle/circle.js';

const ISSUER = 'https://auth.pingone.com/0f6c1c7e-test-env/as';
const AUDIENCE = 'circle-of-trust-test-api';
const CLIENT_ID = 'cot-test-spa';

type Resources = Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>;

let outdir: string;
let app: App;
let stacks: CotStacks;
let t: { security: Template; data: Template; network: Template; api: Template; service: Template; edgeWaf: Template; web: Template };

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'cot-infra-test-'));
  app = new App({
    outdir,
    context: { ...readCdkJsonContext(), pingIssuer: ISSUER, pingAudience: AUDIENCE, pingClientId: CLIENT_ID },
  });
  stacks = buildCotApp(app, { webDistDir: fakeWebBuild(join(outdir, 'web-dist')) });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  // Synthesis runs the cdk-nag plugin and CloudFormation's default rules; it throws on any
  // unacknowledged finding, so reaching the assertions already means a clean report.
  app.synth();
  t = {
    security: Template.fromStack(stacks.security),
    data: Template.fromStack(stacks.data),
    network: Template.fromStack(stacks.network),
    api: Template.fromStack(stacks.api),
    service: Template.fromStack(stacks.service),
    edgeWaf: Template.fromStack(stacks.edgeWaf),
    web: Template.fromStack(stacks.web),
  };
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** What `vite build` leaves in web/dist: index.html, hashed assets, an unhashed public file, the local build stamp. */
function fakeWebBuild(dir: string): string {
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html lang="en"><head><script type="module" src="/assets/index-Bx12cd34.js"></script></head></html>\n');
  writeFileSync(join(dir, 'assets/index-Bx12cd34.js'), 'fetch("/config.json");\n');
  writeFileSync(join(dir, 'assets/index-Cd56ef78.css'), 'body{margin:0}\n');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  writeFileSync(join(dir, '.cot-build.json'), '{"hash":"local"}\n');
  return dir;
}

/** A container definition of the service stack by container name. */
function container(name: string): Record<string, any> {
  const taskDefs = t.service.findResources('AWS::ECS::TaskDefinition') as Resources;
  for (const taskDef of Object.values(taskDefs)) {
    const found = (taskDef.Properties.ContainerDefinitions as Record<string, any>[]).find((c) => c.Name === name);
    if (found) return found;
  }
  throw new Error(`no container named ${name}`);
}

/**
 * The container environment as the process would see it: values that are deploy-time
 * tokens (other stacks' outputs, URL suffixes) become placeholder URLs, the way the
 * real values are URLs.
 */
function environmentOf(name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { Name, Value } of container(name).Environment as { Name: string; Value: unknown }[]) {
    env[Name] = typeof Value === 'string' ? Value : `https://${Name.toLowerCase().replaceAll('_', '-')}.deploy-time.invalid`;
  }
  return env;
}

/** The logical id of the WebSocket integration secret in the Api stack. */
function integrationSecretId(): string {
  return stacks.api.getLogicalId(stacks.api.webSocketIntegrationSecret.node.defaultChild as CfnElement);
}

/** Every IAM policy statement in a template. */
function statements(template: Template): Record<string, any>[] {
  const policies = {
    ...template.findResources('AWS::IAM::Policy'),
    ...template.findResources('AWS::IAM::ManagedPolicy'),
  } as Resources;
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, any>[]);
}

const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** A resolved ARN with the partition pseudo parameter written out, for comparisons. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(flatten).join(join[0]);
  const ref = (value as { Ref?: string }).Ref;
  if (ref === 'AWS::Partition') return 'aws';
  if (ref === 'AWS::AccountId') return '{account}';
  return JSON.stringify(value);
}

describe('data stack', () => {
  it('is termination-protected', () => {
    expect(stacks.data.terminationProtection).toBe(true);
  });

  it('creates every table of the TABLES contract with its keys, indexes and TTL', () => {
    const tables = t.data.findResources('AWS::DynamoDB::Table') as Resources;
    expect(Object.keys(tables)).toHaveLength(Object.keys(TABLES).length);
    for (const definition of Object.values(TABLES) as TableDefinition[]) {
      const keySchema = [
        { AttributeName: definition.partitionKey.name, KeyType: 'HASH' },
        ...(definition.sortKey ? [{ AttributeName: definition.sortKey.name, KeyType: 'RANGE' }] : []),
      ];
      t.data.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({
          TableName: stacks.data.tables.names[definition.id],
          KeySchema: keySchema,
          BillingMode: 'PAY_PER_REQUEST',
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
          TimeToLiveSpecification: { AttributeName: definition.ttlAttribute, Enabled: true },
          GlobalSecondaryIndexes:
            definition.globalIndexes.length === 0
              ? Match.absent()
              : definition.globalIndexes.map((index) => ({
                  IndexName: index.name,
                  KeySchema: [
                    { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
                    ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' }] : []),
                  ],
                  Projection:
                    index.projection === 'ALL'
                      ? { ProjectionType: 'ALL' }
                      : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] },
                })),
        }),
      });
    }
  });

  it('encrypts the tables with the rotating customer-managed data key', () => {
    const keys = t.data.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } });
    expect(Object.keys(keys)).toHaveLength(1);
    const [keyId] = Object.keys(keys);
    const tables = t.data.findResources('AWS::DynamoDB::Table') as Resources;
    for (const table of Object.values(tables)) {
      expect(table.Properties.SSESpecification.KMSMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    }
  });

  it('redrives job messages to the DLQ after MAX_RECEIVE_COUNT_DEFAULT receives', () => {
    const dlqId = stacks.data.getLogicalId(stacks.data.jobQueue.deadLetterQueue.node.defaultChild as any);
    t.data.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: MAX_RECEIVE_COUNT_DEFAULT },
      KmsMasterKeyId: Match.anyValue(),
      VisibilityTimeout: JOB_VISIBILITY_SECONDS_DEFAULT,
    });
    t.data.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 24 * 3600, KmsMasterKeyId: Match.anyValue() });
  });

  it('refuses non-TLS access to both queues', () => {
    const policies = t.data.findResources('AWS::SQS::QueuePolicy') as Resources;
    const denials = Object.values(policies).filter((p) =>
      (p.Properties.PolicyDocument.Statement as any[]).some(
        (s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      ),
    );
    expect(denials).toHaveLength(2);
  });

  it('alarms on DLQ depth, counting messages the DLQ sweep holds hidden, and on the age of the oldest message', () => {
    const depth = (name: string) =>
      Match.objectLike({ Id: name === 'ApproximateNumberOfMessagesVisible' ? 'visible' : 'hidden', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: name, Namespace: 'AWS/SQS' }) }) });
    t.data.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'visible + hidden' }),
        depth('ApproximateNumberOfMessagesVisible'),
        depth('ApproximateNumberOfMessagesNotVisible'),
      ]),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: Match.anyValue(),
    });
    const ageAlarms = t.data.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'ApproximateAgeOfOldestMessage' } });
    expect(Object.keys(ageAlarms)).toHaveLength(2);
  });
});

describe('service stack', () => {
  it('runs the worker on FARGATE_SPOT and the API on on-demand FARGATE', () => {
    const workerId = stacks.service.getLogicalId(stacks.service.workerService.node.defaultChild as any);
    const apiId = stacks.service.getLogicalId(stacks.service.apiService.node.defaultChild as any);
    const services = t.service.findResources('AWS::ECS::Service') as Resources;
    expect(services[workerId]?.Properties.CapacityProviderStrategy).toEqual([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    expect(services[apiId]?.Properties.CapacityProviderStrategy).toEqual([{ CapacityProvider: 'FARGATE', Weight: 1 }]);
    const associations = t.service.findResources('AWS::ECS::ClusterCapacityProviderAssociations', {
      Properties: { CapacityProviders: Match.arrayWith(['FARGATE', 'FARGATE_SPOT']) },
    });
    const [associationId] = Object.keys(associations);
    // Created before the services, or their capacity provider strategy is rejected.
    expect((services[workerId] as unknown as { DependsOn: string[] }).DependsOn).toContain(associationId);
    expect((services[apiId] as unknown as { DependsOn: string[] }).DependsOn).toContain(associationId);
  });

  it('gives the worker 120 s between SIGTERM and SIGKILL, more than its shutdown grace', () => {
    const worker = container('worker');
    expect(worker.StopTimeout).toBe(WORKER_STOP_TIMEOUT_SECONDS);
    expect(WORKER_STOP_TIMEOUT_SECONDS).toBe(120);
    const config = loadWorkerConfig(environmentOf('worker'));
    expect(config.shutdownGraceMs).toBeLessThan(WORKER_STOP_TIMEOUT_SECONDS * 1000);
  });

  it('sets only environment names the services read', () => {
    const known = new Set<string>(Object.values(ENV));
    for (const name of ['worker', 'api']) {
      const unknown = Object.keys(environmentOf(name)).filter((key) => !known.has(key));
      expect(unknown, `${name} container`).toEqual([]);
    }
  });

  it('gives the worker an environment loadWorkerConfig accepts, matching the queue it consumes', () => {
    const config = loadWorkerConfig(environmentOf('worker'));
    expect(config.tables).toEqual(stacks.data.tables.names);
    expect(config.jobQueueUrl).toMatch(/^https:/);
    expect(config.deadLetterQueueUrl).toMatch(/^https:/);
    expect(config.wsManagementEndpoint).toMatch(/^https:/);
    expect(config.tracing).toBe(true);
    expect(config.maxReceiveCount).toBe(MAX_RECEIVE_COUNT_DEFAULT);
    expect(config.maxReceiveCount).toBe(stacks.data.jobQueue.maxReceiveCount);
    expect(config.visibilitySeconds).toBe(JOB_VISIBILITY_SECONDS_DEFAULT);
    // The lease lapses with the message's visibility, so a dead worker's job resumes in seconds.
    expect(config.leaseMs).toBe(config.visibilitySeconds * 1000);
    expect(config.concurrency).toBe(stacks.config.workerConcurrency);
    const worker = container('worker');
    const endpoint = (worker.Environment as any[]).find((e) => e.Name === ENV.wsManagementEndpoint).Value;
    expect(flatten(endpoint)).toMatch(new RegExp(`^https://.+\\.execute-api\\.us-east-1\\..+/${WEBSOCKET_STAGE}$`));
  });

  it('gives the API an environment loadApiConfig accepts, with the PingID issuer and audience', () => {
    // ECS adds the integration secret from Secrets Manager when the container starts.
    const config = loadApiConfig({ ...environmentOf('api'), [ENV.wsIntegrationSecret]: 'S'.repeat(64) });
    expect(config.oidc.issuer).toBe(ISSUER);
    expect(config.oidc.audience).toBe(AUDIENCE);
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(8080);
    expect(config.tables).toEqual(stacks.data.tables.names);
    expect(container('api').PortMappings).toEqual([{ ContainerPort: 8080, Protocol: 'tcp' }]);
  });

  it('allows exactly the web app\'s CloudFront origin to call the API from a browser', () => {
    expect(loadApiConfig({ ...environmentOf('api'), [ENV.wsIntegrationSecret]: 'S'.repeat(64) }).corsOrigins).toEqual(['https://cot-cors-origins.deploy-time.invalid']);
    const raw = (container('api').Environment as { Name: string; Value: unknown }[]).find((e) => e.Name === ENV.corsOrigins)?.Value;
    expect(raw).toEqual({ 'Fn::Join': ['', ['https://', expect.objectContaining({ 'Fn::GetStackOutput': expect.objectContaining({ StackName: stacks.web.stackName }) })]] });
    expect(JSON.stringify(raw)).toMatch(/Distribution\w*DomainName/);
    expect((container('worker').Environment as { Name: string }[]).map((e) => e.Name)).not.toContain(ENV.corsOrigins);
  });

  it('runs an X-Ray daemon sidecar next to both services', () => {
    for (const taskDef of Object.values(t.service.findResources('AWS::ECS::TaskDefinition') as Resources)) {
      const names = (taskDef.Properties.ContainerDefinitions as any[]).map((c) => c.Name);
      const xray = (taskDef.Properties.ContainerDefinitions as any[]).find((c) => c.Name === 'xray');
      expect(names).toContain('xray');
      expect(xray.Image).toBe(stacks.config.xrayDaemonImage);
      expect(xray.PortMappings).toEqual([{ ContainerPort: 2000, Protocol: 'udp' }]);
    }
    expect(container('worker').DependsOn).toEqual([{ ContainerName: 'xray', Condition: 'START' }]);
  });

  it('grants Bedrock InvokeModel/InvokeModelWithResponseStream on the circle\'s models only', () => {
    const expected = modelIdsOf(loadCircle()).map((id) => `arn:aws:bedrock:us-east-1::foundation-model/${id}`);
    const bedrock = statements(t.service).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('bedrock:')));
    expect(bedrock).toHaveLength(1);
    const [statement] = bedrock;
    expect(asArray(statement!.Action).sort()).toEqual([...BEDROCK_INVOKE_ACTIONS].sort());
    const resources = asArray(statement!.Resource).map(flatten);
    expect(resources.sort()).toEqual(expected.sort());
    expect(resources).not.toContain('*');
    for (const template of Object.values(t)) {
      const anywhere = statements(template).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('bedrock') || a === '*'));
      expect(anywhere.length).toBeLessThanOrEqual(template === t.service ? 1 : 0);
    }
  });

  it('lets only the services manage connections, on the WebSocket stage\'s @connections', () => {
    const manage = statements(t.api).filter((s) => asArray(s.Action).includes('execute-api:ManageConnections'));
    expect(manage).toHaveLength(1);
    const wsApiId = stacks.api.getLogicalId(stacks.api.webSocketApi.node.defaultChild as any);
    expect(asArray(manage[0]!.Resource).map(flatten)).toEqual([
      `arn:aws:execute-api:us-east-1:{account}:${JSON.stringify({ Ref: wsApiId })}/${WEBSOCKET_STAGE}/*/@connections/*`,
    ]);
    const roles = t.service.findResources('AWS::IAM::Role') as Resources;
    const withPolicy = Object.values(roles).filter((r) => JSON.stringify(r.Properties.ManagedPolicyArns ?? []).includes('ManageConnectionsPolicy'));
    expect(withPolicy).toHaveLength(2);
  });

  it('scales the worker on job messages per running task, targeting its concurrency', () => {
    t.service.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ScalableDimension: 'ecs:service:DesiredCount',
      MinCapacity: stacks.config.minWorkerTasks,
      MaxCapacity: stacks.config.maxWorkerTasks,
    });
    t.service.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: stacks.config.workerConcurrency,
        CustomizedMetricSpecification: {
          Metrics: Match.arrayWith([
            Match.objectLike({ Id: 'visible', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesVisible' }) }) }),
            Match.objectLike({ Id: 'running', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'RunningTaskCount', Namespace: 'ECS/ContainerInsights' }) }) }),
            Match.objectLike({ Id: 'backlogPerTask', ReturnData: true, Expression: Match.stringLikeRegexp('/ IF\\(FILL\\(running') }),
          ]),
        },
      }),
    });
  });

  it('enables Container Insights on the cluster', () => {
    t.service.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
  });
});

describe('network stack', () => {
  it('keeps AWS traffic on VPC endpoints', () => {
    const endpoints = Object.values(t.network.findResources('AWS::EC2::VPCEndpoint') as Resources).map((e) => flatten(e.Properties.ServiceName));
    for (const service of ['dynamodb', 's3', 'sqs', 'bedrock-runtime', 'secretsmanager', 'logs', 'ecr.api', 'ecr.dkr', 'xray']) {
      expect(endpoints.some((name) => name.endsWith(`.${service}`)), service).toBe(true);
    }
  });

  it('puts the API service behind an internal NLB reachable through both VPC links', () => {
    t.network.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internal' });
    const nlbId = stacks.network.getLogicalId(stacks.network.apiLoadBalancer.node.defaultChild as any);
    t.network.hasResourceProperties('AWS::ApiGateway::VpcLink', { TargetArns: [{ Ref: nlbId }] });
    t.network.hasResourceProperties('AWS::ApiGatewayV2::VpcLink', { SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() });
    t.network.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { TargetType: 'ip', Port: 8080, HealthCheckPath: '/healthz' });
  });
});

describe('api stack', () => {
  it('validates PingID tokens with the configured issuer and audience', () => {
    t.api.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: ISSUER, Audience: [AUDIENCE] },
    });
  });

  it('routes every HTTP call to the API service, authenticated except the public ones', () => {
    const routes = Object.values(t.api.findResources('AWS::ApiGatewayV2::Route') as Resources).map((r) => r.Properties);
    for (const { method, path, authenticated } of HTTP_ROUTES) {
      const route = routes.find((r) => r.RouteKey === `${method} ${path}`);
      expect(route, `${method} ${path}`).toBeDefined();
      expect(route!.AuthorizationType).toBe(authenticated ? 'JWT' : 'NONE');
    }
    // Exactly the API's routes (the list its OpenAPI description documents): none forwarded that it does not serve.
    const httpRouteKeys = routes.map((r) => r.RouteKey as string).filter((key) => !key.startsWith('$'));
    expect(httpRouteKeys.sort()).toEqual(HTTP_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    t.api.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'HTTP_PROXY', ConnectionType: 'VPC_LINK', PayloadFormatVersion: '1.0' });
  });

  it('throttles and access-logs both APIs', () => {
    t.api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: stacks.config.apiThrottleRateLimit, ThrottlingBurstLimit: stacks.config.apiThrottleBurstLimit },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
    t.api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: WEBSOCKET_STAGE,
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: stacks.config.apiThrottleRateLimit }),
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.not(Match.stringLikeRegexp('querystring|token')) },
    });
  });

  it('forwards $connect, $disconnect and $default to the API service over the VPC link v1', () => {
    const vpcLinkOutput = Match.objectLike({ 'Fn::GetStackOutput': Match.objectLike({ StackName: stacks.network.stackName }) });
    for (const [routeKey, path] of Object.entries(WEBSOCKET_BACKEND_PATHS)) {
      t.api.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
        IntegrationType: 'HTTP_PROXY',
        IntegrationMethod: 'POST',
        ConnectionType: 'VPC_LINK',
        ConnectionId: vpcLinkOutput,
        IntegrationUri: { 'Fn::Join': ['', ['http://', Match.anyValue(), path]] },
        RequestParameters: Match.objectLike({
          'integration.request.header.x-connection-id': 'context.connectionId',
          'integration.request.header.x-route-key': 'context.routeKey',
          'integration.request.header.x-event-type': 'context.eventType',
          'integration.request.querystring.token': routeKey === '$connect' ? 'route.request.querystring.token' : Match.absent(),
          // A quoted static value, resolved from Secrets Manager by CloudFormation at deploy time.
          [INTEGRATION_SECRET_PARAMETER]: { 'Fn::Join': ['', ["'{{resolve:secretsmanager:", { Ref: integrationSecretId() }, ":SecretString:::}}'"]] },
        }),
      });
      t.api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, Target: Match.anyValue() });
    }
    t.api.hasResourceProperties('AWS::ApiGatewayV2::RouteResponse', { RouteResponseKey: '$default' });
    t.api.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' });
  });
});

describe('the WebSocket integration secret', () => {
  it('is generated in Secrets Manager, without characters a static mapping value could not carry', () => {
    t.api.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp(WS_INTEGRATION_SECRET_HEADER),
      GenerateSecretString: { ExcludePunctuation: true, PasswordLength: 64 },
    });
  });

  it('reaches the API container as a secret ECS injects, never as a plain environment variable', () => {
    const api = container('api');
    expect(api.Secrets).toEqual([{ Name: ENV.wsIntegrationSecret, ValueFrom: expect.anything() }]);
    expect(JSON.stringify(api.Secrets[0].ValueFrom)).toContain(integrationSecretId());
    expect((api.Environment as { Name: string }[]).map((e) => e.Name)).not.toContain(ENV.wsIntegrationSecret);
    expect(container('worker').Secrets).toBeUndefined();
  });
});

describe('edge and web stacks', () => {
  it('puts AWS managed WAF rule groups and a rate limit in front of CloudFront, in us-east-1', () => {
    expect(stacks.edgeWaf.region).toBe('us-east-1');
    const acl = Object.values(t.edgeWaf.findResources('AWS::WAFv2::WebACL') as Resources)[0]!.Properties;
    expect(acl.Scope).toBe('CLOUDFRONT');
    const groups = (acl.Rules as any[]).map((r) => r.Statement.ManagedRuleGroupStatement?.Name).filter(Boolean);
    expect(groups).toEqual(['AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet']);
    expect((acl.Rules as any[]).some((r) => r.Statement.RateBasedStatement?.AggregateKeyType === 'IP')).toBe(true);
  });

  const distribution = () => Object.values(t.web.findResources('AWS::CloudFront::Distribution') as Resources)[0]!.Properties.DistributionConfig;
  const deployments = () => {
    const found = t.web.findResources('Custom::CDKBucketDeployment') as Resources;
    const byId = (id: string) => Object.entries(found).find(([logicalId]) => logicalId.startsWith(id))?.[1];
    return { all: Object.values(found), assets: byId('DeployAssets'), site: byId('DeploySite') };
  };

  it('serves the app from a private bucket through CloudFront with OAC, WAF and /api/* to the HTTP API', () => {
    t.web.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    t.web.hasResourceProperties('AWS::CloudFront::OriginAccessControl', Match.anyValue());
    // LIST lets S3 answer a missing file with 404 instead of 403; only CloudFront may read or list.
    const siteRead = Object.values(t.web.findResources('AWS::S3::BucketPolicy') as Resources)
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, any>[])
      .filter((st) => st.Principal?.Service === 'cloudfront.amazonaws.com');
    expect(siteRead).toEqual([expect.objectContaining({ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'] })]);
    const config = distribution();
    expect(config.WebACLId).toBeDefined();
    expect(config.Logging).toBeDefined();
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.CacheBehaviors).toEqual([
      expect.objectContaining({ PathPattern: '/api/*', ViewerProtocolPolicy: 'https-only', AllowedMethods: expect.arrayContaining(['POST', 'GET']) }),
    ]);
  });

  it('sends the app\'s client-side routes to index.html, and files (or a missing one) through as they are', () => {
    const config = distribution();
    // Custom error responses would apply to /api/* as well and turn the API's 403/404 errors into the app's page.
    expect(config.CustomErrorResponses).toBeUndefined();
    const association = (config.DefaultCacheBehavior.FunctionAssociations as any[]).find((a) => a.EventType === 'viewer-request');
    const functions = t.web.findResources('AWS::CloudFront::Function') as Resources;
    const spa = Object.entries(functions).find(([id]) => association.FunctionARN['Fn::GetAtt'][0] === id)?.[1];
    expect(spa?.Properties.FunctionCode).toBe(SPA_ROUTING_CODE);
    // Run the function the way CloudFront does: a viewer request in, the (maybe rewritten) request out.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- runs the synthesized CloudFront function's own source
    const handler = new Function(`${SPA_ROUTING_CODE}\nreturn handler;`)() as (event: { request: { uri: string } }) => { uri: string };
    const uriFor = (uri: string) => handler({ request: { uri } }).uri;
    for (const route of ['/', '/callback', '/jobs/3f0c2a1e-8b7d-4c5e-9f10-1a2b3c4d5e6f', '/history', '/jobs/']) expect(uriFor(route), route).toBe('/index.html');
    for (const file of ['/config.json', '/assets/index-Bx12cd34.js', '/assets/index-missing.js', '/favicon.svg']) expect(uriFor(file), file).toBe(file);
  });

  it('answers with a CSP that admits exactly the WebSocket API and PingID besides its own origin, and the security headers', () => {
    const policies = t.web.findResources('AWS::CloudFront::ResponseHeadersPolicy') as Resources;
    const [policyId, policy] = Object.entries(policies)[0]!;
    expect(Object.keys(policies)).toHaveLength(1);
    expect(distribution().DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual({ Ref: policyId });
    const config = policy.Properties.ResponseHeadersPolicyConfig;
    const csp = flatten(config.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy);
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
    const connect = directives.get('connect-src') ?? [];
    expect(connect).toHaveLength(3);
    expect(connect[0]).toBe("'self'");
    expect(connect[1]).toMatch(/^wss:\/\/.*Cot-Api.*\.execute-api\.us-east-1\.\S+$/);
    expect(connect[2]).toBe(new URL(ISSUER).origin);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-(inline|eval)|\*/);
    expect(config.SecurityHeadersConfig).toMatchObject({
      ContentSecurityPolicy: { Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: WEB_SECURITY_HEADERS['X-Frame-Options'], Override: true },
      ReferrerPolicy: { ReferrerPolicy: WEB_SECURITY_HEADERS['Referrer-Policy'], Override: true },
      StrictTransportSecurity: { AccessControlMaxAgeSec: 31_536_000, IncludeSubdomains: true, Override: true },
    });
    expect(config.CustomHeadersConfig.Items).toEqual(
      expect.arrayContaining([
        { Header: 'Permissions-Policy', Value: WEB_SECURITY_HEADERS['Permissions-Policy'], Override: true },
        { Header: 'Cross-Origin-Opener-Policy', Value: WEB_SECURITY_HEADERS['Cross-Origin-Opener-Policy'], Override: true },
      ]),
    );
  });

  it('writes config.json (the WebConfig contract) at deploy time from the stacks\' outputs and the PingID settings', () => {
    const config = stacks.web.resolve(stacks.web.siteConfig) as Record<string, any>;
    expect(flatten(config.apiUrl)).toMatch(/^https:\/\/.+\/api$/);
    expect(flatten(config.wsUrl)).toMatch(new RegExp(`^wss://.+/${WEBSOCKET_STAGE}$`));
    expect(config.oidc).toEqual({ authority: ISSUER, clientId: CLIENT_ID, scope: 'openid profile email' });
    expect(config.simulated).toBe(false);
    // Deploy-time values travel as markers the deployment fills in: the distribution's domain and the WebSocket API's id.
    const markers = JSON.stringify(deployments().site!.Properties.SourceMarkers);
    expect(markers).toMatch(/"Distribution\w*","DomainName"/);
    expect(markers).toMatch(/"StackName":"Cot-Api"/);
  });

  it('deploys hashed assets cached for a year and everything else, config.json included, revalidated', () => {
    const { all, assets, site } = deployments();
    expect(all).toHaveLength(2);
    expect(assets!.Properties).toMatchObject({ DestinationBucketKeyPrefix: 'assets/', Prune: false, SystemMetadata: { 'cache-control': SITE_CACHE_CONTROL.hashedAssets } });
    expect(SITE_CACHE_CONTROL.hashedAssets).toBe('public, max-age=31536000, immutable');
    expect(site!.Properties).toMatchObject({ Prune: true, Exclude: ['assets/*'], SystemMetadata: { 'cache-control': 'no-cache' }, DistributionPaths: ['/*'] });
    // The build's files and config.json: two sources.
    expect(site!.Properties.SourceObjectKeys).toHaveLength(2);
    const siteId = Object.entries(t.web.findResources('Custom::CDKBucketDeployment') as Resources).find(([, r]) => r === site)![0];
    const assetsId = Object.entries(t.web.findResources('Custom::CDKBucketDeployment') as Resources).find(([, r]) => r === assets)![0];
    expect((t.web.toJSON().Resources as Record<string, { DependsOn?: string[] }>)[siteId]!.DependsOn).toContain(assetsId);
    expect(stacks.web.placeholder).toBe(false);
  });

  it('deploys a placeholder page, with a warning, when web/dist has not been built', () => {
    const placeholderApp = new App({
      outdir: join(outdir, 'placeholder'),
      context: { ...readCdkJsonContext(), pingIssuer: ISSUER, pingAudience: AUDIENCE, pingClientId: CLIENT_ID },
    });
    const built = buildCotApp(placeholderApp, { webDistDir: join(outdir, 'no-web-build') });
    const web = Template.fromStack(built.web);
    const found = Object.values(web.findResources('Custom::CDKBucketDeployment') as Resources);
    expect(built.web.placeholder).toBe(true);
    // Only the site deployment: the placeholder index.html and config.json.
    expect(found).toHaveLength(1);
    expect(found[0]!.Properties.SourceObjectKeys).toHaveLength(2);
    const warnings = Annotations.fromStack(built.web).findWarning('*', Match.stringLikeRegexp('no index.html: a placeholder page is deployed'));
    expect(warnings).toHaveLength(1);
  });
});

describe('security stack', () => {
  it('records a multi-region CloudTrail trail with log file validation', () => {
    t.security.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsMultiRegionTrail: true,
      EnableLogFileValidation: true,
      IncludeGlobalServiceEvents: true,
      CloudWatchLogsLogGroupArn: Match.anyValue(),
    });
    t.security.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ VersioningConfiguration: { Status: 'Enabled' } }) });
  });

  it('keeps the PingID client secret in Secrets Manager', () => {
    t.security.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: JSON.stringify({ clientId: CLIENT_ID }), GenerateStringKey: 'clientSecret' }),
    });
  });

  it('sets a retention on every log group', () => {
    for (const template of Object.values(t)) {
      for (const group of Object.values(template.findResources('AWS::Logs::LogGroup') as Resources)) {
        expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
      }
    }
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  it('reports no unacknowledged error or warning', () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  });

  it('gives every acknowledgement a written reason', () => {
    const acknowledgements: { path: string; id: string; reason: string }[] = [];
    const visit = (node: IConstruct) => {
      for (const entry of node.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) acknowledgements.push({ path: node.node.path, id, reason });
      }
      node.node.children.forEach(visit);
    };
    visit(app);
    expect(acknowledgements.length).toBeGreaterThan(10);
    const unexplained = acknowledgements.filter((a) => typeof a.reason !== 'string' || a.reason.trim().split(/\s+/).length < 8);
    expect(unexplained).toEqual([]);
  });

  it('synthesizes environment-agnostic templates (no account id baked in)', () => {
    for (const stack of Object.values(stacks).filter((s): s is Stack => s instanceof Stack)) {
      expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toMatch(/\b\d{12}\b/);
    }
  });
});
