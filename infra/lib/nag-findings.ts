/**
 * cdk-nag finding ids are the rule id plus the offending action or resource as cdk-nag
 * renders it (`arn:<AWS::Partition>:…`, `<LogicalId.Arn>`). These helpers build them from
 * the same values the constructs use, so an acknowledgement names exactly one finding.
 */
import { Stack, Token } from 'aws-cdk-lib';

/** `AwsSolutions-IAM5[Resource::…]` for one wildcard resource. */
export function wildcardResource(resource: string): string {
  return `AwsSolutions-IAM5[Resource::${resource}]`;
}

/** `AwsSolutions-IAM5[Action::…]` for one wildcard action. */
export function wildcardAction(action: string): string {
  return `AwsSolutions-IAM5[Action::${action}]`;
}

/** An ARN as cdk-nag prints it: pseudo parameters it cannot resolve appear as `<AWS::…>`. */
export function nagArn(stack: Stack, service: string, region: string, account: string, resource: string): string {
  const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
  const resolvedRegion = Token.isUnresolved(region) ? '<AWS::Region>' : region;
  const resolvedAccount = Token.isUnresolved(account) ? '<AWS::AccountId>' : account;
  return `arn:${partition}:${service}:${resolvedRegion}:${resolvedAccount}:${resource}`;
}
