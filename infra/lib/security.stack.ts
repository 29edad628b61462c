/**
 * Security and governance: the CloudTrail audit trail (with its own retained, SSL-only
 * bucket and a CloudWatch Logs copy) and the Secrets Manager secret for the PingID
 * confidential client that scripts and smoke tests use.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { privateBucketProps } from './constructs/private-bucket.js';

export interface SecurityStackProps extends StackProps {
  readonly logRetention: logs.RetentionDays;
  /** The PingID client id stored next to its secret. */
  readonly pingClientId: string;
}

/** CloudTrail trail and the PingID client secret. */
export class SecurityStack extends Stack {
  public readonly trail: cloudtrail.Trail;
  public readonly pingClientSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: SecurityStackProps) {
    super(scope, id, { ...props, terminationProtection: true });

    const accessLogs = new s3.Bucket(this, 'TrailAccessLogs', {
      ...privateBucketProps(),
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the destination of the trail bucket\'s server access logs; logging it into itself would loop.',
    });
    const trailBucket = new s3.Bucket(this, 'TrailBucket', {
      ...privateBucketProps(),
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'trail-bucket/',
      // Audit logs outlive the application: kept for seven years, cheaper storage after 90 days.
      lifecycleRules: [
        { transitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) }], expiration: Duration.days(7 * 365) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.trail = new cloudtrail.Trail(this, 'Trail', {
      bucket: trailBucket,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableFileValidation: true,
      sendToCloudWatchLogs: true,
      cloudWatchLogsRetention: props.logRetention,
    });

    // The services need no secret: task roles sign AWS calls (Bedrock included, so there
    // are no Bedrock keys to store) and the API checks JWTs against PingID's public JWKS.
    // What does need one is the confidential PingID client that CLI scripts and smoke tests
    // use for the client-credentials grant; operators set clientSecret after deploying.
    this.pingClientSecret = new secretsmanager.Secret(this, 'PingClientSecret', {
      description: 'Circle of Trust: PingID confidential client (client credentials) for scripts and smoke tests',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ clientId: props.pingClientId }),
        generateStringKey: 'clientSecret',
        excludePunctuation: true,
      },
    });
    Validations.of(this.pingClientSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The value is a client secret issued by PingID; it is rotated in PingID and copied here, so a Secrets Manager rotation Lambda cannot rotate it.',
    });

    new CfnOutput(this, 'PingClientSecretArn', { value: this.pingClientSecret.secretArn });
    new CfnOutput(this, 'TrailBucketName', { value: trailBucket.bucketName });
  }
}
