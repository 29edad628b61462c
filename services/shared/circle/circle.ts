/**
 * The circle configuration: advisors, the chair, quorum and step policies, validated by a
 * schema when loaded. Each member says what its model can do (`toolUse`: structured
 * reviews through a tool, as Bedrock's model feature table lists it) and may name a Bedrock
 * guardrail, its own or the deployment's (`"guardrail": "deployment"`). infra/ reads the
 * model ids and guardrails from here to scope Bedrock permissions.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { StepPolicies, Usage } from '../../../machines/advisory.types.js';
import { policyProblems } from '../../../machines/retry.js';
import { ConfigError } from '../errors.js';
import { formatIssues } from '../contracts/issues.js';

/** The circle file shipped with the code. */
export const DEFAULT_CIRCLE_FILE = fileURLToPath(new URL('./circle.json', import.meta.url));

/** A member's `guardrail` that stands for the guardrail the deployment provides (COT_GUARDRAIL_*). */
export const DEPLOYMENT_GUARDRAIL = 'deployment';

const guardrailSchema = z.object({
  /** Guardrail id or ARN. */
  identifier: z.string().regex(/^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail\/[a-z0-9]+))$/, 'a guardrail id or ARN'),
  /** A version number or DRAFT. */
  version: z.string().regex(/^(([1-9][0-9]{0,7})|(DRAFT))$/, 'a version number or DRAFT'),
  trace: z.enum(['enabled', 'disabled', 'enabled_full']).default('disabled'),
});

const memberSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'ids are lower-case letters, digits and dashes'),
  name: z.string().min(1).max(40),
  modelId: z.string().min(1),
  persona: z.string().min(1).max(4000),
  inference: z
    .object({
      maxTokens: z.number().int().positive().max(8192).optional(),
      temperature: z.number().min(0).max(1).optional(),
      topP: z.number().min(0).max(1).optional(),
    })
    .default({}),
  price: z.object({ inputPer1k: z.number().nonnegative(), outputPer1k: z.number().nonnegative() }),
  /**
   * Tool use (Converse toolConfig) for structured reviews; absent: the review is asked for as
   * JSON in the text. `choice`: what Converse toolChoice the model accepts (`tool` forces the
   * named tool: Claude 3+, Nova; `any`; `auto`: the prompt asks for the call). `streaming`:
   * whether the model can stream a tool call (ConverseStream), else Converse is used.
   */
  toolUse: z.object({ choice: z.enum(['tool', 'any', 'auto']), streaming: z.boolean() }).optional(),
  /** A Bedrock guardrail on every call of this member; `deployment` = the one the deployment configures. */
  guardrail: z.union([z.literal(DEPLOYMENT_GUARDRAIL), guardrailSchema]).optional(),
});

const retrierSchema = z.object({
  ErrorEquals: z.array(z.string().min(1)).min(1),
  IntervalSeconds: z.number().nonnegative().optional(),
  MaxAttempts: z.number().int().nonnegative().optional(),
  BackoffRate: z.number().min(1).optional(),
  MaxDelaySeconds: z.number().positive().optional(),
  JitterStrategy: z.enum(['FULL', 'NONE']).optional(),
});

const taskPolicySchema = z.object({
  TimeoutSeconds: z.number().positive(),
  Retry: z.array(retrierSchema),
  Catch: z.array(z.object({ ErrorEquals: z.array(z.string().min(1)).min(1) })),
});

export const circleSchema = z
  .object({
    quorum: z.number().int().positive(),
    advisors: z.array(memberSchema).min(1).max(8),
    chair: memberSchema,
    policies: z.object({ advise: taskPolicySchema, review: taskPolicySchema, synthesize: taskPolicySchema }),
  })
  .superRefine((circle, ctx) => {
    const ids = circle.advisors.map((a) => a.id);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: 'custom', message: 'advisor ids must be unique' });
    if (ids.includes(circle.chair.id)) ctx.addIssue({ code: 'custom', message: 'the chair id must differ from advisor ids' });
    if (circle.quorum > ids.length) ctx.addIssue({ code: 'custom', message: `quorum ${circle.quorum} exceeds the ${ids.length} advisors` });
    for (const [kind, policy] of Object.entries(circle.policies)) {
      for (const problem of policyProblems(policy)) ctx.addIssue({ code: 'custom', path: ['policies', kind], message: problem });
      policy.Retry.forEach((retrier, i) => {
        for (const name of retrier.ErrorEquals.filter((n) => n.endsWith('.InvalidOutput'))) {
          ctx.addIssue({
            code: 'custom',
            path: ['policies', kind, 'Retry', i],
            message: `${name} is never retried with the same prompt: unusable output gets one repair that says what was wrong. Remove it from Retry`,
          });
        }
      });
    }
  });

export type CircleMember = z.infer<typeof memberSchema>;
export type Circle = z.infer<typeof circleSchema> & { policies: StepPolicies };
export type Guardrail = z.infer<typeof guardrailSchema>;

export interface LoadCircleOptions {
  /** The deployment's guardrail (COT_GUARDRAIL_IDENTIFIER / _VERSION), for members that name `deployment`. */
  deploymentGuardrail?: { identifier: string; version: string };
  /** The circle will call models (the worker): a `deployment` guardrail must then be configured. */
  forCalls?: boolean;
}

/**
 * Reads and validates a circle file; throws ConfigError with every problem listed. A member
 * whose guardrail is `deployment` gets the deployment's guardrail when one is given; for
 * calls (`forCalls`) one must be.
 */
export function loadCircle(file: string = DEFAULT_CIRCLE_FILE, options: LoadCircleOptions = {}): Circle {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read circle file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = circleSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid circle file ${file}: ${formatIssues(parsed.error.issues, '(root)')}`);
  }
  const circle = parsed.data as Circle;
  const deployment = options.deploymentGuardrail;
  const resolve = (member: CircleMember): CircleMember => {
    if (member.guardrail !== DEPLOYMENT_GUARDRAIL) return member;
    if (!deployment) {
      if (!options.forCalls) return member;
      throw new ConfigError(
        `circle file ${file}: ${member.id} uses the deployment's guardrail, but none is configured (set COT_GUARDRAIL_IDENTIFIER and COT_GUARDRAIL_VERSION)`,
      );
    }
    return { ...member, guardrail: { ...deployment, trace: 'disabled' } };
  };
  return { ...circle, advisors: circle.advisors.map(resolve), chair: resolve(circle.chair) };
}

/** The guardrail a member's calls carry, once `deployment` has been resolved by loadCircle. */
export function guardrailOf(member: CircleMember): Guardrail | undefined {
  return typeof member.guardrail === 'object' ? member.guardrail : undefined;
}

/** Whether any member names the deployment's guardrail (the CDK app then must create one). */
export function usesDeploymentGuardrail(circle: Circle): boolean {
  return [...circle.advisors, circle.chair].some((m) => m.guardrail === DEPLOYMENT_GUARDRAIL);
}

/** A member of the circle (advisor or chair) by id. */
export function memberOf(circle: Circle, id: string): CircleMember | undefined {
  return circle.chair.id === id ? circle.chair : circle.advisors.find((a) => a.id === id);
}

/** Every distinct Bedrock model id the circle calls. */
export function modelIdsOf(circle: Circle): string[] {
  return [...new Set([...circle.advisors.map((a) => a.modelId), circle.chair.modelId])];
}

/** USD cost of one call, from the member's price per 1k tokens (rounded to 1e-6). */
export function costOf(member: CircleMember, usage: Usage): number {
  const usd = (usage.inputTokens / 1000) * member.price.inputPer1k + (usage.outputTokens / 1000) * member.price.outputPer1k;
  return Math.round(usd * 1e6) / 1e6;
}
