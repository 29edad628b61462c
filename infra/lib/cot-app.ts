/**
 * Assembles the Circle of Trust stacks on an App from the validated context. bin/app.ts
 * synthesizes it; the tests build the same app in memory.
 */
import { relative } from 'node:path';
import { Annotations, Duration, Tags, type App, type Environment } from 'aws-cdk-lib';
import { guardrailOf, loadCircle, modelIdsOf, usesDeploymentGuardrail } from '../../services/shared/circle/circle.js';
import { ApiStack } from './api.stack.js';
import { EDGE_REGION, InfraConfigError, readInfraConfig, REPO_ROOT, type InfraConfig } from './config.js';
import { DataStack } from './data.stack.js';
import { EdgeWafStack } from './edge-waf.stack.js';
import { NetworkStack } from './network.stack.js';
import { ObservabilityStack } from './observability.stack.js';
import { SecurityStack } from './security.stack.js';
import { ServiceStack } from './service.stack.js';
import { WebStack } from './web.stack.js';

export interface CotStacks {
  readonly config: InfraConfig;
  /** The Bedrock model ids the worker is granted. */
  readonly modelIds: readonly string[];
  readonly security: SecurityStack;
  readonly data: DataStack;
  readonly network: NetworkStack;
  readonly api: ApiStack;
  readonly service: ServiceStack;
  readonly edgeWaf: EdgeWafStack;
  readonly web: WebStack;
  readonly observability: ObservabilityStack;
}

/** Adds every stack of the architecture to `app`; throws InfraConfigError on bad context. */
export function buildCotApp(app: App, options: { webDistDir?: string } = {}): CotStacks {
  const config = readInfraConfig(app.node);
  const env: Environment = { account: config.account, region: config.region };
  const name = (stack: string) => `${config.stackPrefix}-${stack}`;
  const circle = loadCircle(config.circleFilePath);
  // Context may widen the grant, e.g. to cross-region inference profiles the circle file names.
  const modelIds = config.bedrockModelIds.length > 0 ? config.bedrockModelIds : modelIdsOf(circle);
  const circleIsDefault = config.circleFile === 'services/shared/circle/circle.json';
  const members = [...circle.advisors, circle.chair];
  if (usesDeploymentGuardrail(circle) && !config.guardrail) {
    throw new InfraConfigError(
      `the circle file ${config.circleFile} gives a member "guardrail": "deployment", but the context configures no guardrail: set "guardrail" in infra/cdk.json (denied topics, PII)`,
    );
  }
  if (config.guardrail && !usesDeploymentGuardrail(circle)) {
    Annotations.of(app).addWarningV2('cot:guardrail-unused', `a guardrail is configured, but no member of ${config.circleFile} names "guardrail": "deployment", so no call uses it.`);
  }

  if (config.identityIsPlaceholder) {
    Annotations.of(app).addWarningV2(
      'cot:pingid-placeholder',
      'pingIssuer/pingClientId still hold the cdk.json placeholders: set them (-c pingIssuer=… -c pingClientId=… -c pingAudience=…) before deploying; see docs/deploy.md.',
    );
  }

  const security = new SecurityStack(app, name('Security'), {
    env,
    description: 'Circle of Trust: CloudTrail trail and the PingID client secret',
    logRetention: config.logRetentionDays,
    pingClientId: config.pingClientId,
  });
  const data = new DataStack(app, name('Data'), {
    env,
    description: 'Circle of Trust: DynamoDB tables, job queue + DLQ, data KMS key, alarms (stateful, retained)',
    tableNamePrefix: config.stackPrefix,
    maxQueueAge: Duration.seconds(config.maxQueueAgeSeconds),
    alarmEmail: config.alarmEmail,
  });
  const network = new NetworkStack(app, name('Network'), {
    env,
    description: 'Circle of Trust: VPC, endpoints, internal NLB, VPC links',
    maxAzs: config.maxAzs,
    natGateways: config.natGateways,
    logRetention: config.logRetentionDays,
  });
  const api = new ApiStack(app, name('Api'), {
    env,
    description: 'Circle of Trust: HTTP API (PingID JWT) and WebSocket API',
    network,
    issuer: config.pingIssuer,
    audience: config.pingAudience,
    throttle: { rateLimit: config.apiThrottleRateLimit, burstLimit: config.apiThrottleBurstLimit },
    logRetention: config.logRetentionDays,
  });
  const edgeWaf = new EdgeWafStack(app, name('EdgeWaf'), {
    env: { account: config.account, region: EDGE_REGION },
    description: 'Circle of Trust: AWS WAF web ACL for the CloudFront distribution (us-east-1)',
    rateLimitPer5Min: config.wafRateLimitPer5Min,
  });
  const web = new WebStack(app, name('Web'), {
    env,
    description: 'Circle of Trust: web app on S3 + CloudFront (OAC, WAF, CSP), /api/* to the HTTP API',
    api,
    waf: edgeWaf,
    oidc: { issuer: config.pingIssuer, clientId: config.pingClientId, scope: config.pingScopes.join(' '), resource: config.pingResource },
    webDistDir: options.webDistDir,
  });

  const service = new ServiceStack(app, name('Service'), {
    env,
    description: 'Circle of Trust: ECS cluster, API service (Fargate), worker service (Fargate Spot)',
    data,
    network,
    api,
    modelIds,
    issuer: config.pingIssuer,
    audience: config.pingAudience,
    minApiTasks: config.minApiTasks,
    maxApiTasks: config.maxApiTasks,
    minWorkerTasks: config.minWorkerTasks,
    maxWorkerTasks: config.maxWorkerTasks,
    workerOnDemandBase: config.workerOnDemandBase,
    workerConcurrency: config.workerConcurrency,
    logRetention: config.logRetentionDays,
    xrayDaemonImage: config.xrayDaemonImage,
    circleFileInImage: circleIsDefault ? undefined : `/app/${relative(REPO_ROOT, config.circleFilePath)}`,
    // The app calls the API on its own origin (/api/*), so browsers send no preflight;
    // the allow-list still names exactly that origin, so no other page may read it.
    corsOrigins: [web.siteOrigin],
    guardrail: config.guardrail,
    memberGuardrails: members.flatMap((m) => guardrailOf(m)?.identifier ?? []),
  });

  const observability = new ObservabilityStack(app, name('Observability'), {
    env,
    description: 'Circle of Trust: CloudWatch dashboard and alarms on the services\' metrics, X-Ray sampling rules',
    alarmTopic: data.alarmTopic,
    members: [...circle.advisors.map((a) => a.id), circle.chair.id],
    thresholds: {
      jobFailurePercent: config.alarmJobFailurePercent,
      overheadP90Ms: config.alarmOverheadP90Ms,
      modelErrorPercent: config.alarmModelErrorPercent,
      hourlyCostBudgetUsd: config.hourlyCostBudgetUsd,
    },
    namePrefix: config.stackPrefix,
  });

  Tags.of(app).add('project', 'circle-of-trust');
  return { config, modelIds, security, data, network, api, service, edgeWaf, web, observability };
}
