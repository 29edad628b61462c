/**
 * Stateful resources in their own termination-protected stack: the tables, the job queue
 * and its DLQ, the customer-managed key that encrypts them, and the alarm topic.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { JobQueue } from './constructs/job-queue.js';
import { JobTables } from './constructs/job-tables.js';

export interface DataStackProps extends StackProps {
  /** Table name prefix (see tablePhysicalName). */
  readonly tableNamePrefix: string;
  /** Alarm when the oldest queued job waits longer than this. */
  readonly maxQueueAge: Duration;
  /** Optional e-mail address subscribed to the alarm topic. */
  readonly alarmEmail?: string;
}

/** Tables, queues, their KMS key and the alarm topic; retained on stack deletion. */
export class DataStack extends Stack {
  public readonly dataKey: kms.Key;
  public readonly tables: JobTables;
  public readonly jobQueue: JobQueue;
  public readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, terminationProtection: true });

    // A customer-managed key adds what the AWS-owned default cannot: a key policy that
    // decides who may decrypt questions and answers at rest, CloudTrail records of every
    // use, and the option to revoke access to the data (and its backups) by disabling it.
    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'Circle of Trust: encrypts the job tables, the job queues and the alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch alarms publish to the encrypted topic only if the key lets them.
    this.dataKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Circle of Trust alarms',
      masterKey: this.dataKey,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    this.tables = new JobTables(this, 'Tables', { encryptionKey: this.dataKey, namePrefix: props.tableNamePrefix });
    this.jobQueue = new JobQueue(this, 'Jobs', {
      encryptionKey: this.dataKey,
      alarmTopic: this.alarmTopic,
      maxQueueAge: props.maxQueueAge,
    });

    for (const { definition, table } of this.tables.entries()) {
      new CfnOutput(this, `${definition.id}TableName`, { value: table.tableName, description: `${definition.env}` });
    }
    new CfnOutput(this, 'JobQueueUrl', { value: this.jobQueue.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.jobQueue.deadLetterQueue.queueUrl });
  }
}
