/**
 * Reads a Converse / ConverseStream request body: validates it the way Bedrock does
 * (ValidationException with a readable message) and reads the prompt markup written by
 * services/worker/prompts.ts into what the simulated advisors need.
 */
import { z } from 'zod';
import type { StepKind } from './standin.types.js';

/** A request Bedrock would reject with 400 ValidationException. */
export class ConverseValidationError extends Error {
  override name = 'ConverseValidationError';
}

const textBlock = z.looseObject({ text: z.string().optional() });
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
});

export interface ConverseRequest {
  system: string;
  messages: { role: 'user' | 'assistant'; text: string }[];
  maxTokens?: number;
  requestMetadata: Record<string, string>;
  /** Characters of prompt text, for the input token estimate. */
  inputChars: number;
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
  return {
    system,
    messages,
    maxTokens: body.inferenceConfig?.maxTokens,
    requestMetadata: body.requestMetadata ?? {},
    inputChars: system.length + messages.reduce((n, m) => n + m.text.length, 0),
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
}

const QUESTION = /<question>\n?([\s\S]*?)\n?<\/question>/;
const ANSWER = /<answer((?:\s+\w+="[^"]*")*)>\n?([\s\S]*?)\n?<\/answer>/g;
const REVIEW = /<review reviewer="([^"]*)">\n?([\s\S]*?)<\/review>/g;

const attrOf = (attrs: string, name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(attrs)?.[1];
const block = (text: string, tag: string): string | undefined => new RegExp(`<${tag}>\\n?([\\s\\S]*?)\\n?</${tag}>`).exec(text)?.[1];

/** Reads the task kind and the marked-up parts of a prompt; unmarked prompts read as advise. */
export function readPrompt(request: ConverseRequest): PromptView {
  const kind = (/^## Your task: (advise|review|synthesize)\s*$/m.exec(request.system)?.[1] ?? 'advise') as StepKind;
  const users = request.messages.filter((m) => m.role === 'user').map((m) => m.text);
  const questionOf = (text: string): string => (QUESTION.exec(text)?.[1] ?? text).trim();
  const last = users.at(-1) ?? '';
  const answers = [...last.matchAll(ANSWER)].map((m) => ({
    advisor: attrOf(m[1] ?? '', 'advisor'),
    label: attrOf(m[1] ?? '', 'label'),
    text: (m[2] ?? '').trim(),
  }));
  const reviews = [...last.matchAll(REVIEW)].map((m) => ({
    reviewer: m[1] ?? '',
    ranking: (/^Ranking \(best first\): (.*)$/m.exec(m[2] ?? '')?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  }));
  const aggregate = (block(last, 'aggregate') ?? '')
    .split('\n')
    .map((line) => /^\d+\.\s+(.+?): mean position ([\d.]+)/.exec(line))
    .flatMap((m) => (m ? [{ advisor: m[1] ?? '', meanPosition: Number(m[2]) }] : []));
  const notes = (block(last, 'notes') ?? '').split('\n').map((l) => l.replace(/^-\s*/, '').trim()).filter(Boolean);
  return {
    kind,
    system: request.system,
    question: questionOf(last),
    history: users.slice(0, -1).map(questionOf),
    answers,
    reviews,
    aggregate,
    notes,
  };
}
