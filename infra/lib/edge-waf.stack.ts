/**
 * The WAF web ACL in front of the HTTP API and the web UI. AWS WAF cannot be associated
 * with an API Gateway HTTP or WebSocket API (only REST APIs, ALBs, AppSync, Cognito,
 * App Runner, Verified Access, CloudFront), so the managed rule groups sit on the
 * CloudFront distribution that serves the UI and forwards /api/* to the HTTP API. A
 * CloudFront-scoped web ACL must be created in us-east-1, hence this small stack.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';

export interface EdgeWafStackProps extends StackProps {
  /** Requests per IP per 5 minutes before the rate rule blocks. */
  readonly rateLimitPer5Min: number;
}

/** AWS managed rule groups + a per-IP rate limit, scoped to CloudFront. */
export class EdgeWafStack extends Stack {
  public readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: EdgeWafStackProps) {
    super(scope, id, props);
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const managed = (name: string, priority: number, ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[]): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides } },
      visibilityConfig: visibility(name),
    });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('cot-web-acl'),
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimitPer5Min, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        managed('AWSManagedRulesAmazonIpReputationList', 1),
        // Questions of 4,000 characters can exceed the rule set's 8 KB body limit in UTF-8;
        // the API enforces its own size limit (413), so that one rule only counts.
        managed('AWSManagedRulesCommonRuleSet', 2, [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }]),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 3),
      ],
    });
    new CfnOutput(this, 'WebAclArn', { value: this.webAcl.attrArn });
  }
}
