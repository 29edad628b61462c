/**
 * Observability of the running service: the CloudWatch dashboard and alarms over the EMF
 * metrics the services write to their logs, and the X-Ray sampling rules. Stateless, so in
 * its own stack: changing a threshold never touches the data or the services.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { JobObservability, type AlarmThresholds } from './constructs/job-observability.js';

export interface ObservabilityStackProps extends StackProps {
  readonly alarmTopic: sns.ITopic;
  /** Circle member ids (advisors and the chair). */
  readonly members: readonly string[];
  readonly thresholds: AlarmThresholds;
  readonly namePrefix: string;
}

export class ObservabilityStack extends Stack {
  public readonly observability: JobObservability;

  constructor(scope: Construct, id: string, props: ObservabilityStackProps) {
    super(scope, id, props);
    this.observability = new JobObservability(this, 'Observability', {
      alarmTopic: props.alarmTopic,
      members: props.members,
      thresholds: props.thresholds,
      namePrefix: props.namePrefix,
    });
  }
}
