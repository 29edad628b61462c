/**
 * Reads a Converse / ConverseStream request body: validates it the way Bedrock does
 * (ValidationException with a readable message), including `toolConfig` and
 * `guardrailConfig`, and reads the prompt markup written by services/worker/prompts.ts
 * (fences whose tag names carry the prompt's nonce) into what the simulated advisors need.
 */
import { z } from 'zod';
import type { StepKind } from './standin.types.js';

/** A request Bedrock would reject with 400 ValidationException. */
export class ConverseValidationError extends Error {
  override name = 'ConverseValidationError';
}

const textBlock = z.looseObject({ text: z.string().optional() });
const toolSpec = z.looseObject({
  toolSpec: z.looseObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
    description: z.string().min(1).optional(),
    inputSchema: z.looseObject({ json: z.record(z.string(), z.unknown()) }),
  }),
});
const toolConfigSchema = z.looseObject({
  tools: z.array(toolSpec).min(1),
  toolChoice: z
    .union([
      z.object({ auto: z.object({}) }),
      z.object({ any: z.object({}) }),
      z.object({ tool: z.object({ name: z.string().min(1) }) }),
    ])
    .optional(),
});
const guardrailConfigSchema = z.looseObject({
  guardrailIdentifier: z.string().regex(/^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail\/[a-z0-9]+))$/),
  guardrailVersion: z.string().regex(/^(([1-9][0-9]{0,7})|(DRAFT))$/),
  trace: z.enum(['enabled', 'disabled', 'enabled_full']).optional(),
  streamProcessingMode: z.enum(['sync', 'async']).optional(),
});
const bodySchema = z.looseObject({
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.array(textBlock) })),
  system: z.array(textBlock).optional(),
  inferenceConfig: z
    .looseObject({
      maxTokens: z.number().int().min(1).optional(),
      temperature: z.number().min(0).max(1).optional(),
      topP: z.number().min(0).max(1).optional(),
    })
    .optional(),
  // Bedrock's documented limits: at most 16 entries, keys 1-256 and values 0-256 of these characters.
  requestMetadata: z
    .record(z.string().regex(/^[a-zA-Z0-9\s:_@$#=/+,.-]{1,256}$/), z.string().regex(/^[a-zA-Z0-9\s:_@$#=/+,.-]{0,256}$/))
    .refine((m) => Object.keys(m).length <= 16, 'Member must have at most 16 entries')
    .optional(),
  toolConfig: toolConfigSchema.optional(),
  guardrailConfig: guardrailConfigSchema.optional(),
});

export interface ConverseRequest {
  system: string;
  messages: { role: 'user' | 'assistant'; text: string }[];
  maxTokens?: number;
  requestMetadata: Record<string, string>;
  /** Characters of prompt text, for the input token estimate. */
  inputChars: number;
  /** The one tool offered, and how the model is told to use it. */
  tool?: { name: string; choice: 'auto' | 'any' | 'tool' };
  guardrail?: { identifier: string; version: string; trace: 'enabled' | 'disabled' | 'enabled_full' };
}

/** Parses and validates a request body; throws ConverseValidationError with Bedrock-like wording. */
export function parseConverseBody(raw: string): ConverseRequest {
  let json: unknown;
  try {
    json = JSON.parse(raw || '{}');
  } catch {
    throw new ConverseValidationError('Malformed input request, please reformat your input and try again.');
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const detail = issues
      .map((i) => `Value at '${i.path.join('.') || 'body'}' failed to satisfy constraint: ${i.message}`)
      .join('; ');
    throw new ConverseValidationError(`${issues.length} validation error${issues.length === 1 ? '' : 's'} detected: ${detail}`);
  }
  const body = parsed.data;
  if (body.messages.length === 0) {
    throw new ConverseValidationError('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
  }
  const messages = body.messages.map((m, i) => {
    if (i === 0 && m.role !== 'user') {
      throw new ConverseValidationError('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
    }
    if (i > 0 && m.role === body.messages[i - 1]?.role) {
      throw new ConverseValidationError('A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.');
    }
    if (m.content.length === 0) throw new ConverseValidationError(`The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`);
    const text = m.content.map((b) => b.text ?? '').join('');
    if (!text.trim()) throw new ConverseValidationError(`The text field in the ContentBlock object at messages.${i}.content.0 is blank. Add text to the text field, and try again.`);
    return { role: m.role, text };
  });
  const system = (body.system ?? []).map((b) => b.text ?? '').join('\n');
  const tools = body.toolConfig?.tools ?? [];
  const choice = body.toolConfig?.toolChoice;
  const forced = choice && 'tool' in choice ? choice.tool.name : undefined;
  if (forced !== undefined && !tools.some((t) => t.toolSpec.name === forced)) {
    throw new ConverseValidationError(`The tool ${forced} in toolConfig.toolChoice is not one of the tools in toolConfig.tools.`);
  }
  const guardrail = body.guardrailConfig;
  return {
    system,
    messages,
    maxTokens: body.inferenceConfig?.maxTokens,
    requestMetadata: body.requestMetadata ?? {},
    inputChars: system.length + messages.reduce((n, m) => n + m.text.length, 0),
    ...(tools[0]
      ? { tool: { name: forced ?? tools[0].toolSpec.name, choice: choice ? ('tool' in choice ? 'tool' : 'any' in choice ? 'any' : 'auto') : 'auto' } }
      : {}),
    ...(guardrail
      ? { guardrail: { identifier: guardrail.guardrailIdentifier, version: guardrail.guardrailVersion, trace: guardrail.trace ?? 'disabled' } }
      : {}),
  };
}

/** What the simulated advisors read from the prompt. */
export interface PromptView {
  kind: StepKind;
  system: string;
  /** The question of the last user turn. */
  question: string;
  /** Questions of earlier turns, oldest first (follow-up conversations). */
  history: string[];
  /** review: the anonymous labels, in prompt order. synthesize: labels if given. */
  answers: { advisor?: string; label?: string; text: string }[];
  /** synthesize: each reviewer's ranking (advisor names or `answer X`, best first). */
  reviews: { reviewer: string; ranking: string[] }[];
  /** synthesize: the aggregate ranking, best first. */
  aggregate: { advisor: string; meanPosition: number }[];
  notes: string[];
  /** A repair: the earlier reply that could not be used, and why. */
  repair?: { previous: string; problem: string };
}

const attrOf = (attrs: string, name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(attrs)?.[1];

/** The fenced blocks of one tag in a text, with their attributes; only fences carrying the nonce count. */
function blocks(text: string, tag: string, nonce: string | undefined): { attrs: string; body: string }[] {
  if (!nonce) return [];
  const pattern = new RegExp(`<${tag}-${nonce}((?:\\s+\\w+="[^"]*")*)>\\n?([\\s\\S]*?)\\n?</${tag}-${nonce}>`, 'g');
  return [...text.matchAll(pattern)].map((m) => ({ attrs: m[1] ?? '', body: m[2] ?? '' }));
}

/** Reads the task kind and the fenced parts of a prompt; unmarked prompts read as advise. */
export function readPrompt(request: ConverseRequest): PromptView {
  const kind = (/^## Your task: (advise|review|synthesize)\s*$/m.exec(request.system)?.[1] ?? 'advise') as StepKind;
  const users = request.messages.filter((m) => m.role === 'user').map((m) => m.text);
  const last = users.at(-1) ?? '';
  // The nonce is the suffix of the question fence; a prompt without one is plain text.
  const nonce = /<question-([0-9a-f]{8})>/.exec(last)?.[1];
  const questionOf = (text: string): string => (blocks(text, 'question', nonce)[0]?.body ?? text).trim();
  const answers = blocks(last, 'answer', nonce).map((b) => ({
    advisor: attrOf(b.attrs, 'advisor'),
    label: attrOf(b.attrs, 'label'),
    text: b.body.trim(),
  }));
  const reviews = blocks(last, 'review', nonce).map((b) => ({
    reviewer: attrOf(b.attrs, 'reviewer') ?? '',
    ranking: (/^Ranking \(best first\): (.*)$/m.exec(b.body)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  }));
  const aggregate = (blocks(last, 'aggregate', nonce)[0]?.body ?? '')
    .split('\n')
    .map((line) => /^\d+\.\s+(.+?): mean position ([\d.]+)/.exec(line))
    .flatMap((m) => (m ? [{ advisor: m[1] ?? '', meanPosition: Number(m[2]) }] : []));
  const notes = (blocks(last, 'notes', nonce)[0]?.body ?? '').split('\n').map((l) => l.replace(/^-\s*/, '').trim()).filter(Boolean);
  const previous = blocks(last, 'previous-reply', nonce)[0];
  const problem = /It could not be used: (.*?)\.(?: It was cut off|\n|$)/.exec(last)?.[1];
  return {
    kind,
    system: request.system,
    question: questionOf(last),
    history: users.slice(0, -1).map(questionOf),
    answers,
    reviews,
    aggregate,
    notes,
    ...(previous ? { repair: { previous: previous.body, problem: problem ?? '' } } : {}),
  };
}
