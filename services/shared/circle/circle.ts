/**
 * The circle configuration: advisors, the chair, quorum and step policies, validated by a
 * schema when loaded. infra/ reads the model ids from here to scope Bedrock permissions.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { StepPolicies, Usage } from '../../../machines/advisory.types.js';
import { policyProblems } from '../../../machines/retry.js';
import { ConfigError } from '../errors.js';

/** The circle file shipped with the code. */
export const DEFAULT_CIRCLE_FILE = fileURLToPath(new URL('./circle.json', import.meta.url));

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
    }
  });

export type CircleMember = z.infer<typeof memberSchema>;
export type Circle = z.infer<typeof circleSchema> & { policies: StepPolicies };

/** Reads and validates a circle file; throws ConfigError with every problem listed. */
export function loadCircle(file: string = DEFAULT_CIRCLE_FILE): Circle {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read circle file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = circleSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid circle file ${file}: ${problems}`);
  }
  return parsed.data as Circle;
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
