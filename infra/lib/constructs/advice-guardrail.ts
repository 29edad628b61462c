/**
 * An Amazon Bedrock guardrail for the circle's model calls, made from configuration:
 * denied topics and PII handling, a published version, and a grant of
 * `bedrock:ApplyGuardrail` on exactly this guardrail (Converse checks that permission when a
 * call carries `guardrailConfig`). Circle members that name `"guardrail": "deployment"` use it.
 */
import * as bedrock from 'aws-cdk-lib/aws-bedrock';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The IAM action behind a Converse call's guardrailConfig. */
export const APPLY_GUARDRAIL_ACTION = 'bedrock:ApplyGuardrail';

export interface DeniedTopic {
  /** Short name, e.g. "Investment advice". */
  readonly name: string;
  /** What the topic covers, in a sentence or two (Bedrock matches on it). */
  readonly definition: string;
  /** Up to five example phrases. */
  readonly examples?: readonly string[];
}

export interface PiiHandling {
  /** A Bedrock PII entity type, e.g. EMAIL, PHONE, US_SOCIAL_SECURITY_NUMBER. */
  readonly type: string;
  /** BLOCK the answer or ANONYMIZE the entity in it. */
  readonly action: 'BLOCK' | 'ANONYMIZE';
}

export interface AdviceGuardrailProps {
  /** Guardrail name (unique in the account and region). */
  readonly name: string;
  readonly deniedTopics: readonly DeniedTopic[];
  readonly pii: readonly PiiHandling[];
  /** What a person sees in place of a blocked question or answer. */
  readonly blockedMessage: string;
}

export class AdviceGuardrail extends Construct {
  public readonly guardrail: bedrock.CfnGuardrail;
  public readonly version: bedrock.CfnGuardrailVersion;
  /** The guardrail's id, for COT_GUARDRAIL_IDENTIFIER. */
  public readonly guardrailId: string;
  public readonly guardrailArn: string;
  /** The published version, for COT_GUARDRAIL_VERSION. */
  public readonly guardrailVersion: string;

  constructor(scope: Construct, id: string, props: AdviceGuardrailProps) {
    super(scope, id);
    if (props.deniedTopics.length === 0 && props.pii.length === 0) {
      throw new Error('AdviceGuardrail needs at least one denied topic or PII entity');
    }
    this.guardrail = new bedrock.CfnGuardrail(this, 'Guardrail', {
      name: props.name,
      description: 'Circle of Trust: denied topics and PII handling for the advisors and the chair',
      blockedInputMessaging: props.blockedMessage,
      blockedOutputsMessaging: props.blockedMessage,
      ...(props.deniedTopics.length
        ? {
            topicPolicyConfig: {
              topicsConfig: props.deniedTopics.map((t) => ({
                name: t.name,
                definition: t.definition,
                type: 'DENY',
                ...(t.examples?.length ? { examples: [...t.examples] } : {}),
              })),
            },
          }
        : {}),
      ...(props.pii.length ? { sensitiveInformationPolicyConfig: { piiEntitiesConfig: props.pii.map((p) => ({ type: p.type, action: p.action })) } } : {}),
    });
    // Calls name a published version: a later edit of the DRAFT never changes what runs.
    this.version = new bedrock.CfnGuardrailVersion(this, 'Version', {
      guardrailIdentifier: this.guardrail.attrGuardrailId,
      description: 'Published by the Circle of Trust deployment',
    });
    this.guardrailId = this.guardrail.attrGuardrailId;
    this.guardrailArn = this.guardrail.attrGuardrailArn;
    this.guardrailVersion = this.version.attrVersion;
  }

  /** Lets `grantee` apply this guardrail (and only it) to its model calls. */
  grantApply(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: [APPLY_GUARDRAIL_ACTION], resourceArns: [this.guardrailArn] });
  }
}
