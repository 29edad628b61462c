/**
 * Bedrock permissions scoped to the models the circle calls: InvokeModel and
 * InvokeModelWithResponseStream (the IAM actions behind Converse and ConverseStream) on
 * those model ARNs only, never on `*`.
 */
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/** The IAM actions Converse / ConverseStream are authorised by. */
export const BEDROCK_INVOKE_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'] as const;

/** Cross-region inference profile ids start with a geography: us., eu., apac., global., … */
const INFERENCE_PROFILE = /^(us|us-gov|eu|apac|jp|au|ca|global)\.(.+)$/;

/**
 * The ARNs to grant for each model id. A foundation model id gives its regional
 * foundation-model ARN; an inference profile id gives the profile's ARN plus the
 * underlying model in whichever region the profile routes to.
 */
export function bedrockModelArns(stack: Stack, modelIds: readonly string[]): string[] {
  const arns = new Set<string>();
  for (const modelId of modelIds) {
    const profile = INFERENCE_PROFILE.exec(modelId);
    if (profile) {
      arns.add(stack.formatArn({ service: 'bedrock', resource: 'inference-profile', resourceName: modelId }));
      arns.add(stack.formatArn({ service: 'bedrock', region: '*', account: '', resource: 'foundation-model', resourceName: profile[2] }));
    } else {
      arns.add(stack.formatArn({ service: 'bedrock', account: '', resource: 'foundation-model', resourceName: modelId }));
    }
  }
  return [...arns];
}

/** A guardrail's ARN from the id or ARN a circle file names. */
export function guardrailArnOf(stack: Stack, identifier: string): string {
  return identifier.startsWith('arn:') ? identifier : stack.formatArn({ service: 'bedrock', resource: 'guardrail', resourceName: identifier });
}

/** Lets `grantee` call Converse/ConverseStream on exactly these models. */
export function grantBedrockInvoke(scope: IConstruct, grantee: iam.IGrantable, modelIds: readonly string[]): iam.Grant {
  if (modelIds.length === 0) throw new Error('grantBedrockInvoke needs at least one model id');
  return iam.Grant.addToPrincipal({ grantee, actions: [...BEDROCK_INVOKE_ACTIONS], resourceArns: bedrockModelArns(Stack.of(scope), modelIds) });
}
