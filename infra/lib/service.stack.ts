/**
 * The compute layer: an ECS cluster (Container Insights) with the API service on Fargate
 * on-demand behind the internal NLB, and the worker service on Fargate Spot scaling on
 * queue backlog per task. Images are built from this repository; each task has an X-Ray
 * sidecar and a task role with only the grants its service needs.
 */
import { Duration, IgnoreMode, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { ApiStack } from './api.stack.js';
import type { DataStack } from './data.stack.js';
import { API_CONTAINER_PORT, type NetworkStack } from './network.stack.js';
import { BacklogPerTaskScaling } from './constructs/backlog-scaling.js';
import { AdviceGuardrail, APPLY_GUARDRAIL_ACTION, type AdviceGuardrailProps } from './constructs/advice-guardrail.js';
import { grantBedrockInvoke, guardrailArnOf } from './constructs/bedrock-access.js';
import { JOB_VISIBILITY_SECONDS } from './constructs/job-queue.js';
import { TracedFargateTask } from './constructs/traced-fargate-task.js';
import { apiEnvironment, workerEnvironment, WORKER_STOP_TIMEOUT_SECONDS, type SharedEnvironment } from './container-env.js';
import { REPO_ROOT } from './config.js';
import { ENV } from '../../services/shared/contracts/names.js';
import { TABLES, type TableDefinition, type TableId } from '../../services/shared/contracts/tables.js';
import { nagArn, wildcardAction, wildcardResource } from './nag-findings.js';

export interface ServiceStackProps extends StackProps {
  readonly data: DataStack;
  readonly network: NetworkStack;
  readonly api: ApiStack;
  /** Bedrock model (or inference profile) ids the worker may invoke. */
  readonly modelIds: readonly string[];
  readonly issuer: string;
  readonly audience: string;
  readonly minApiTasks: number;
  readonly maxApiTasks: number;
  readonly minWorkerTasks: number;
  readonly maxWorkerTasks: number;
  /** Worker tasks kept on on-demand Fargate below the Spot ones (0 = Spot only). */
  readonly workerOnDemandBase: number;
  readonly workerConcurrency: number;
  readonly logRetention: logs.RetentionDays;
  readonly xrayDaemonImage: string;
  /** Circle file path inside the image, when not the default one. */
  readonly circleFileInImage?: string;
  /** Origins allowed to call the API from a browser (the web app's CloudFront origin); never `*`. */
  readonly corsOrigins?: readonly string[];
  /** The deployment's guardrail to create, for circle members that name `deployment`. */
  readonly guardrail?: Omit<AdviceGuardrailProps, 'name'>;
  /** Guardrail ids or ARNs the circle file names itself; the worker may apply exactly these. */
  readonly memberGuardrails?: readonly string[];
}

/** ECS cluster, API service, worker service, scaling and task roles. */
export class ServiceStack extends Stack {
  public readonly cluster: ecs.Cluster;
  public readonly apiService: ecs.FargateService;
  public readonly workerService: ecs.FargateService;
  public readonly apiTask: TracedFargateTask;
  public readonly workerTask: TracedFargateTask;
  /** The deployment's guardrail, when configured. */
  public readonly guardrail?: AdviceGuardrail;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { data, network, api } = props;
    const queue = data.jobQueue.queue;
    const deadLetterQueue = data.jobQueue.deadLetterQueue;

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      enableFargateCapacityProviders: true,
    });

    const shared: SharedEnvironment = {
      tables: data.tables.entries().map(({ definition }) => ({ env: definition.env, name: data.tables.names[definition.id] })),
      jobQueueUrl: queue.queueUrl,
      wsManagementEndpoint: api.webSocketStage.callbackUrl,
      circleFile: props.circleFileInImage,
    };
    const privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    if (props.guardrail) this.guardrail = new AdviceGuardrail(this, 'Guardrail', { name: `${this.stackName}-advice`, ...props.guardrail });

    // API: on-demand Fargate (it answers people; Spot interruptions would drop requests).
    this.apiTask = new TracedFargateTask(this, 'Api', {
      name: 'api',
      image: imageOf('api'),
      cpu: 512,
      memoryLimitMiB: 1024,
      environment: apiEnvironment(shared, { issuer: props.issuer, audience: props.audience, port: API_CONTAINER_PORT, corsOrigins: props.corsOrigins }),
      secrets: { [ENV.wsIntegrationSecret]: ecs.Secret.fromSecretsManager(api.webSocketIntegrationSecret) },
      portMappings: [{ containerPort: API_CONTAINER_PORT, protocol: ecs.Protocol.TCP }],
      logRetention: props.logRetention,
      xrayDaemonImage: props.xrayDaemonImage,
    });
    this.apiService = new ecs.FargateService(this, 'ApiService', {
      cluster: this.cluster,
      taskDefinition: this.apiTask.taskDefinition,
      capacityProviderStrategies: [{ capacityProvider: 'FARGATE', weight: 1 }],
      vpcSubnets: privateSubnets,
      securityGroups: [network.apiServiceSecurityGroup],
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      healthCheckGracePeriod: Duration.seconds(60),
      circuitBreaker: { rollback: true },
    });
    this.apiService.attachToNetworkTargetGroup(network.apiTargetGroup);
    const apiScaling = this.apiService.autoScaleTaskCount({ minCapacity: props.minApiTasks, maxCapacity: props.maxApiTasks });
    apiScaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });

    // Worker: Fargate Spot, with an optional on-demand base that Spot shortages cannot take away.
    this.workerTask = new TracedFargateTask(this, 'Worker', {
      name: 'worker',
      image: imageOf('worker'),
      cpu: 512,
      memoryLimitMiB: 1024,
      environment: workerEnvironment(shared, {
        deadLetterQueueUrl: deadLetterQueue.queueUrl,
        maxReceiveCount: data.jobQueue.maxReceiveCount,
        visibilitySeconds: JOB_VISIBILITY_SECONDS,
        concurrency: props.workerConcurrency,
        ...(this.guardrail ? { guardrail: { identifier: this.guardrail.guardrailId, version: this.guardrail.guardrailVersion } } : {}),
      }),
      stopTimeout: Duration.seconds(WORKER_STOP_TIMEOUT_SECONDS),
      logRetention: props.logRetention,
      xrayDaemonImage: props.xrayDaemonImage,
    });
    this.workerService = new ecs.FargateService(this, 'WorkerService', {
      cluster: this.cluster,
      taskDefinition: this.workerTask.taskDefinition,
      capacityProviderStrategies: workerCapacityStrategy(props.workerOnDemandBase),
      vpcSubnets: privateSubnets,
      securityGroups: [network.workerSecurityGroup],
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
    });
    // A capacity provider strategy fails unless the cluster's provider association exists first.
    for (const service of [this.apiService, this.workerService]) service.node.addDependency(this.cluster);
    new BacklogPerTaskScaling(this, 'WorkerScaling', {
      cluster: this.cluster,
      service: this.workerService,
      queue,
      minTasks: props.minWorkerTasks,
      maxTasks: props.maxWorkerTasks,
      jobsPerTask: props.workerConcurrency,
    });

    const tables = data.tables.referencesIn(this);
    this.grantApi(props, tables);
    this.grantWorker(props, tables);
    this.acknowledgeTaskFindings(data.tables.names);
  }

  /** The API stores and reads jobs, enqueues them, tracks connections and answers subscribers. */
  private grantApi(props: ServiceStackProps, tables: Readonly<Record<TableId, dynamodb.ITable>>): void {
    const role = this.apiTask.taskDefinition.taskRole;
    tables.jobs.grantReadWriteData(role);
    tables.connections.grantReadWriteData(role);
    // Cancel sets cancelRequested on the State item; the worker applies it.
    tables.state.grantReadWriteData(role);
    tables.results.grantReadData(role);
    tables.transitions.grantReadData(role);
    // Job timelines (GET /jobs/{id}/timeline) read the worker runs' records.
    tables.runs.grantReadData(role);
    props.data.jobQueue.queue.grantSendMessages(role);
    role.addManagedPolicy(props.api.manageConnectionsPolicy);
  }

  /** The worker runs jobs: every table, the queue (hand-over re-sends), the DLQ sweep, Bedrock, push. */
  private grantWorker(props: ServiceStackProps, tables: Readonly<Record<TableId, dynamodb.ITable>>): void {
    const role = this.workerTask.taskDefinition.taskRole;
    for (const table of Object.values(tables)) table.grantReadWriteData(role);
    props.data.jobQueue.queue.grantConsumeMessages(role);
    props.data.jobQueue.queue.grantSendMessages(role);
    props.data.jobQueue.deadLetterQueue.grantConsumeMessages(role);
    grantBedrockInvoke(this, role, props.modelIds);
    // Calls that carry a guardrail need ApplyGuardrail on exactly the guardrails named.
    this.guardrail?.grantApply(role);
    const named = (props.memberGuardrails ?? []).map((id) => guardrailArnOf(this, id));
    if (named.length) iam.Grant.addToPrincipal({ grantee: role, actions: [APPLY_GUARDRAIL_ACTION], resourceArns: [...new Set(named)] });
    role.addManagedPolicy(props.api.manageConnectionsPolicy);
  }

  private acknowledgeTaskFindings(tableNames: Readonly<Record<TableId, string>>): void {
    const indexedTables = (Object.values(TABLES) as TableDefinition[]).filter((t) => t.globalIndexes.length > 0);
    for (const task of [this.apiTask, this.workerTask]) {
      const { taskDefinition } = task;
      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason: 'The environment carries only resource names, URLs and tuning values the services read with loadApiConfig/loadWorkerConfig; no secret is passed in the environment.',
      });
      Validations.of(taskDefinition.taskRole).acknowledge(
        {
          id: wildcardResource('*'),
          reason: 'The X-Ray daemon sidecar\'s PutTraceSegments/PutTelemetryRecords/GetSampling* actions support no resource-level permissions; nothing else is granted on *.',
        },
        {
          id: wildcardAction('kms:GenerateDataKey*'),
          reason: 'Added by the table/queue grant* calls, limited to the data key: SQS and DynamoDB need GenerateDataKey and GenerateDataKeyWithoutPlaintext for SSE-KMS.',
        },
        {
          id: wildcardAction('kms:ReEncrypt*'),
          reason: 'Added by the DynamoDB grant* calls, limited to the data key (ReEncryptFrom/To) that encrypts the tables.',
        },
        ...indexedTables.map((t) => ({
          id: wildcardResource(nagArn(this, 'dynamodb', this.region, this.account, `table/${tableNames[t.id]}/index/*`)),
          reason: `Queries use the ${t.id} table's global secondary indexes (${t.globalIndexes.map((i) => i.name).join(', ')}); the grant covers that table's indexes only.`,
        })),
      );
      Validations.of(taskDefinition.obtainExecutionRole()).acknowledge({
        id: wildcardResource('*'),
        reason: 'ecr:GetAuthorizationToken, which the task execution role needs to pull the image, supports no resource-level permissions.',
      });
    }
  }
}

/** Spot for every task above an optional on-demand base. */
export function workerCapacityStrategy(onDemandBase: number): ecs.CapacityProviderStrategy[] {
  const spot: ecs.CapacityProviderStrategy = { capacityProvider: 'FARGATE_SPOT', weight: 1 };
  return onDemandBase > 0 ? [{ capacityProvider: 'FARGATE', base: onDemandBase, weight: 0 }, spot] : [spot];
}

/**
 * The service image, built from the repository root (so services/ and machines/ are in the
 * build context); .dockerignore keeps the context and the synth-time asset staging small.
 */
function imageOf(service: 'api' | 'worker'): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(REPO_ROOT, {
    file: 'services/Dockerfile',
    buildArgs: { SERVICE: service },
    platform: Platform.LINUX_AMD64,
    ignoreMode: IgnoreMode.DOCKER,
  });
}
