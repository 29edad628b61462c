/**
 * The job queue and its dead-letter queue. The SQS message is only a wake-up pointer
 * {jobId}. Poison is decided by the worker from runs counted in DynamoDB; the redrive count
 * (the shared MAX_RECEIVE_COUNT_DEFAULT, passed to the worker as COT_MAX_RECEIVE_COUNT) is
 * only a backstop, high because lost deliveries raise receive counts too.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { JOB_VISIBILITY_SECONDS_DEFAULT, MAX_RECEIVE_COUNT_DEFAULT } from '../../../services/shared/contracts/names.js';

/** The worker's default COT_VISIBILITY_SECONDS (= its lease): short, so a dead worker's job resumes in seconds; heartbeats extend it. */
export const JOB_VISIBILITY_SECONDS = JOB_VISIBILITY_SECONDS_DEFAULT;

export interface JobQueueProps {
  readonly encryptionKey: kms.IKey;
  /** Where the DLQ and queue-age alarms notify. */
  readonly alarmTopic: sns.ITopic;
  /** Alarm when the oldest waiting job is older than this. */
  readonly maxQueueAge: Duration;
  /** Redrive threshold; defaults to the shared MAX_RECEIVE_COUNT_DEFAULT. */
  readonly maxReceiveCount?: number;
}

/** Job queue + DLQ (KMS, SSL-only, retention) and the alarms on DLQ depth and message age. */
export class JobQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly maxReceiveCount: number;
  public readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: JobQueueProps) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? MAX_RECEIVE_COUNT_DEFAULT;
    const encryption = {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      // Fewer KMS calls: SQS reuses a data key for this long.
      dataKeyReuse: Duration.minutes(15),
      enforceSSL: true,
      // Kept with the tables they point into; the DLQ may hold messages someone must inspect.
      removalPolicy: RemovalPolicy.RETAIN,
    };
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...encryption,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...encryption,
      visibilityTimeout: Duration.seconds(JOB_VISIBILITY_SECONDS),
      receiveMessageWaitTime: Duration.seconds(20),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
    this.alarms = this.createAlarms(props);
  }

  private createAlarms(props: JobQueueProps): cloudwatch.Alarm[] {
    const period = Duration.minutes(1);
    const alarms = [
      new cloudwatch.Alarm(this, 'DeadLetterDepthAlarm', {
        alarmDescription: 'A job message is in the dead-letter queue: a worker crashed on it repeatedly or could not parse it.',
        // Visible and in flight: the workers' DLQ sweep keeps a poisoned message hidden for
        // 15 minutes after each look, so counting only visible messages would miss it.
        metric: new cloudwatch.MathExpression({
          label: 'Dead-lettered job messages',
          expression: 'visible + hidden',
          usingMetrics: {
            visible: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
            hidden: this.deadLetterQueue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Maximum' }),
          },
          period,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'OldestJobAgeAlarm', {
        alarmDescription: 'Jobs wait in the queue longer than expected: workers are not keeping up or not running.',
        metric: this.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' }),
        threshold: props.maxQueueAge.toSeconds(),
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'OldestDeadLetterAgeAlarm', {
        alarmDescription: 'A dead-lettered job message is more than 10 days old and will expire at 14 days: inspect it now.',
        metric: this.deadLetterQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(15), statistic: 'Maximum' }),
        threshold: Duration.days(10).toSeconds(),
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    for (const alarm of alarms) alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
    return alarms;
  }
}
