/**
 * A Fargate task definition with the application container and an X-Ray daemon sidecar
 * (UDP 2000 on the task's localhost, where aws-xray-sdk-core sends segments by default),
 * both logging to one log group with a retention.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface TracedFargateTaskProps {
  /** Container name and log stream prefix, e.g. 'api' or 'worker'. */
  readonly name: string;
  readonly image: ecs.ContainerImage;
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  readonly environment: Record<string, string>;
  /** Secrets ECS injects as environment variables when the container starts (never in the task definition). */
  readonly secrets?: Record<string, ecs.Secret>;
  readonly logRetention: logs.RetentionDays;
  readonly xrayDaemonImage: string;
  readonly portMappings?: ecs.PortMapping[];
  /** Time between SIGTERM and SIGKILL for the application container. */
  readonly stopTimeout?: Duration;
}

/** Task definition + app container + X-Ray sidecar + log group. */
export class TracedFargateTask extends Construct {
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly appContainer: ecs.ContainerDefinition;
  public readonly xrayContainer: ecs.ContainerDefinition;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: TracedFargateTaskProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryLimitMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.xrayContainer = this.taskDefinition.addContainer('xray', {
      image: ecs.ContainerImage.fromRegistry(props.xrayDaemonImage),
      cpu: 32,
      memoryReservationMiB: 64,
      portMappings: [{ containerPort: 2000, protocol: ecs.Protocol.UDP }],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'xray' }),
      // Losing traces must not take the service down with it.
      essential: false,
    });
    this.appContainer = this.taskDefinition.addContainer(props.name, {
      image: props.image,
      environment: props.environment,
      secrets: props.secrets,
      portMappings: props.portMappings,
      stopTimeout: props.stopTimeout,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: props.name }),
      essential: true,
    });
    // ECS stops dependants first: the daemon outlives the app and flushes its last segments.
    this.appContainer.addContainerDependencies({ container: this.xrayContainer, condition: ecs.ContainerDependencyCondition.START });
    this.taskDefinition.addToTaskRolePolicy(
      new iam.PolicyStatement({
        sid: 'XRayDaemonWrite',
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'],
        resources: ['*'],
      }),
    );
  }
}
