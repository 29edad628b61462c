/**
 * The CDK app's configuration, read once from context (infra/cdk.json, `-c key=value`) and
 * the CDK CLI's environment (CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION), validated by a
 * schema so a typo fails synthesis with a readable message instead of a broken deploy.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Node } from 'constructs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { formatIssues } from '../../services/shared/contracts/issues.js';

/** The repository root: the Docker build context and the base of relative paths in context. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where `npm run synth` writes the cloud assembly (gitignored). */
export const DEFAULT_OUTDIR = resolve(REPO_ROOT, 'infra/cdk.out');
/** CloudFront-scoped WAF web ACLs can only be created in us-east-1. */
export const EDGE_REGION = 'us-east-1';

/** Context is invalid: names every problem at once. */
export class InfraConfigError extends Error {
  override name = 'InfraConfigError';
}

const count = (def: number) => z.coerce.number().int().min(0).default(def);
const positive = (def: number) => z.coerce.number().int().positive().default(def);
/** A list given as a JSON array in cdk.json or as a comma/space separated string with -c. */
const list = z
  .union([z.array(z.string()), z.string()])
  .default([])
  .transform((v) => (Array.isArray(v) ? v : v.split(/[\s,]+/)).map((s) => s.trim()).filter(Boolean));
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() ? v.trim() : undefined));
const retentionDays = new Set(Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'));

/** PII entity types a Bedrock guardrail can block or anonymize. */
export const GUARDRAIL_PII_TYPES = [
  'ADDRESS', 'AGE', 'AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'CA_HEALTH_NUMBER', 'CA_SOCIAL_INSURANCE_NUMBER',
  'CREDIT_DEBIT_CARD_CVV', 'CREDIT_DEBIT_CARD_EXPIRY', 'CREDIT_DEBIT_CARD_NUMBER', 'DRIVER_ID', 'EMAIL',
  'INTERNATIONAL_BANK_ACCOUNT_NUMBER', 'IP_ADDRESS', 'LICENSE_PLATE', 'MAC_ADDRESS', 'NAME', 'PASSWORD', 'PHONE', 'PIN',
  'SWIFT_CODE', 'UK_NATIONAL_HEALTH_SERVICE_NUMBER', 'UK_NATIONAL_INSURANCE_NUMBER', 'UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER',
  'URL', 'USERNAME', 'US_BANK_ACCOUNT_NUMBER', 'US_BANK_ROUTING_NUMBER', 'US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER',
  'US_PASSPORT_NUMBER', 'US_SOCIAL_SECURITY_NUMBER', 'VEHICLE_IDENTIFICATION_NUMBER',
] as const;

/**
 * The optional guardrail, as an object in cdk.json or a JSON string with -c: denied topics,
 * PII handling and the message shown instead of blocked content. Absent or "": none.
 */
const guardrailSchema = z
  .object({
    deniedTopics: z
      .array(
        z.object({
          name: z.string().regex(/^[0-9a-zA-Z_ !?.-]{1,100}$/, 'letters, digits, spaces and _ !?.- (at most 100)'),
          definition: z.string().min(1).max(1000),
          examples: z.array(z.string().min(1).max(100)).max(5).default([]),
        }),
      )
      .max(30)
      .default([]),
    pii: z.array(z.object({ type: z.enum(GUARDRAIL_PII_TYPES), action: z.enum(['BLOCK', 'ANONYMIZE']) })).default([]),
    blockedMessage: z.string().min(1).max(500).default('The content guardrail blocked this answer.'),
  })
  .refine((g) => g.deniedTopics.length + g.pii.length > 0, 'a guardrail needs at least one denied topic or PII entity');
const optionalGuardrail = z
  .union([z.string(), z.record(z.string(), z.unknown())])
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object (with -c, quote it: -c guardrail=\'{"pii":[…]}\')' });
      return z.NEVER;
    }
  })
  .pipe(guardrailSchema.optional());

const contextSchema = z
  .object({
    region: optionalText,
    stackPrefix: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,20}$/).default('Cot'),
    pingIssuer: z.string().url().refine((u) => u.startsWith('https://'), 'the issuer must be an https URL'),
    pingAudience: z.string().min(1),
    pingClientId: z.string().min(1),
    pingScopes: list,
    /** An RFC 8707 resource indicator the web app sends, when PingID needs one to pick the API's audience. */
    pingResource: optionalText,
    circleFile: z.string().min(1).default('services/shared/circle/circle.json'),
    bedrockModelIds: list,
    minWorkerTasks: count(1),
    maxWorkerTasks: positive(10),
    workerOnDemandBase: count(0),
    workerConcurrency: z.coerce.number().int().positive().max(256).default(8),
    minApiTasks: positive(2),
    maxApiTasks: positive(6),
    maxAzs: z.coerce.number().int().min(2).max(6).default(2),
    natGateways: z.coerce.number().int().min(1).max(6).default(1),
    logRetentionDays: z.coerce
      .number()
      .int()
      .refine((d) => retentionDays.has(d), 'must be one of CloudWatch Logs retention values (1, 3, 5, 7, 14, 30, 60, 90, …)')
      .default(30),
    alarmEmail: optionalText.pipe(z.string().email().optional()),
    apiThrottleRateLimit: positive(50),
    apiThrottleBurstLimit: positive(100),
    wafRateLimitPer5Min: z.coerce.number().int().min(10).default(1000),
    maxQueueAgeSeconds: positive(600),
    // Alarms on the services' metrics (infra/lib/constructs/job-observability.ts).
    alarmJobFailurePercent: z.coerce.number().min(0).max(100).default(10),
    alarmOverheadP90Ms: positive(5000),
    alarmModelErrorPercent: z.coerce.number().min(0).max(100).default(20),
    hourlyCostBudgetUsd: z.coerce.number().positive().default(5),
    xrayDaemonImage: z.string().min(1).default('public.ecr.aws/xray/aws-xray-daemon:3.x'),
    guardrail: optionalGuardrail,
  })
  .superRefine((c, ctx) => {
    if (c.maxWorkerTasks < Math.max(c.minWorkerTasks, 1)) ctx.addIssue({ code: 'custom', path: ['maxWorkerTasks'], message: 'must be at least minWorkerTasks and at least 1' });
    if (c.workerOnDemandBase > c.maxWorkerTasks) ctx.addIssue({ code: 'custom', path: ['workerOnDemandBase'], message: 'must not exceed maxWorkerTasks' });
    if (c.maxApiTasks < c.minApiTasks) ctx.addIssue({ code: 'custom', path: ['maxApiTasks'], message: 'must be at least minApiTasks' });
  });

export type ContextValues = z.input<typeof contextSchema>;

export interface InfraConfig extends Omit<z.output<typeof contextSchema>, 'region'> {
  /** Deployment account; undefined means an environment-agnostic synthesis (offline). */
  readonly account?: string;
  readonly region: string;
  /** The circle file as an absolute path on the synthesising machine. */
  readonly circleFilePath: string;
  /** True while pingIssuer/pingClientId still hold the cdk.json placeholders. */
  readonly identityIsPlaceholder: boolean;
}

const CONTEXT_KEYS = Object.keys(contextSchema.shape) as (keyof ContextValues)[];

/** Reads and validates the app's context; throws InfraConfigError listing every problem. */
export function readInfraConfig(node: Node, env: Record<string, string | undefined> = process.env): InfraConfig {
  const raw: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) raw[key] = node.tryGetContext(key);
  const parsed = contextSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InfraConfigError(`invalid CDK context (infra/cdk.json or -c): ${formatIssues(parsed.error.issues, '(context)')}`);
  }
  const { region, ...rest } = parsed.data;
  return {
    ...rest,
    account: env.CDK_DEFAULT_ACCOUNT || undefined,
    region: region ?? (env.CDK_DEFAULT_REGION || 'us-east-1'),
    circleFilePath: resolve(REPO_ROOT, rest.circleFile),
    identityIsPlaceholder: /REPLACE/i.test(rest.pingIssuer) || /REPLACE/i.test(rest.pingClientId),
  };
}

/** The `context` block of infra/cdk.json, so running the app without the CDK CLI sees the same defaults. */
export function readCdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(resolve(REPO_ROOT, 'infra/cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}
