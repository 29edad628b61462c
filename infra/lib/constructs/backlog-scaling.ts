/**
 * Scales the worker service on queue backlog per task (the SQS scaling metric AWS
 * recommends): (visible + in-flight job messages) / running tasks, tracked at the jobs one
 * task runs at once. Target tracking rather than step scaling: it adds and removes tasks in
 * proportion to the backlog and owns both alarms; raw queue depth would not be normalised
 * by the number of tasks. The CDK L2 only tracks single metrics, so the policy is L1 with a
 * metric-math CustomizedMetricSpecification.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface BacklogPerTaskScalingProps {
  readonly cluster: ecs.ICluster;
  readonly service: ecs.FargateService;
  readonly queue: sqs.IQueue;
  readonly minTasks: number;
  readonly maxTasks: number;
  /** Jobs one task works on at once (COT_WORKER_CONCURRENCY): the backlog per task to hold. */
  readonly jobsPerTask: number;
}

/** The metric math expression, exported for the tests and the docs. */
export const BACKLOG_PER_TASK_EXPRESSION = '(FILL(visible, 0) + FILL(inflight, 0)) / IF(FILL(running, 0) > 0, FILL(running, 0), 1)';

/** Target tracking on backlog per task for an ECS service. */
export class BacklogPerTaskScaling extends Construct {
  public readonly scalableTarget: appscaling.ScalableTarget;
  public readonly policy: appscaling.CfnScalingPolicy;

  constructor(scope: Construct, id: string, props: BacklogPerTaskScalingProps) {
    super(scope, id);
    this.scalableTarget = new appscaling.ScalableTarget(this, 'Target', {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: `service/${props.cluster.clusterName}/${props.service.serviceName}`,
      minCapacity: props.minTasks,
      maxCapacity: props.maxTasks,
    });
    const queueName = props.queue.queueName;
    const sqsMetric = (id: string, metricName: string) => ({
      id,
      returnData: false,
      metricStat: {
        metric: { namespace: 'AWS/SQS', metricName, dimensions: [{ name: 'QueueName', value: queueName }] },
        stat: 'Maximum',
      },
    });
    this.policy = new appscaling.CfnScalingPolicy(this, 'BacklogPerTask', {
      policyName: `${Stack.of(this).stackName}-worker-backlog-per-task`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: this.scalableTarget.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: props.jobsPerTask,
        // Scale out fast when jobs pile up; scale in slowly (a stopped Spot task hands its jobs over).
        scaleOutCooldown: Duration.seconds(60).toSeconds(),
        scaleInCooldown: Duration.seconds(300).toSeconds(),
        customizedMetricSpecification: {
          metrics: [
            sqsMetric('visible', 'ApproximateNumberOfMessagesVisible'),
            sqsMetric('inflight', 'ApproximateNumberOfMessagesNotVisible'),
            {
              id: 'running',
              returnData: false,
              metricStat: {
                metric: {
                  namespace: 'ECS/ContainerInsights',
                  metricName: 'RunningTaskCount',
                  dimensions: [
                    { name: 'ClusterName', value: props.cluster.clusterName },
                    { name: 'ServiceName', value: props.service.serviceName },
                  ],
                },
                stat: 'Average',
              },
            },
            { id: 'backlogPerTask', label: 'Job messages per running worker task', expression: BACKLOG_PER_TASK_EXPRESSION, returnData: true },
          ],
        },
      },
    });
  }
}
