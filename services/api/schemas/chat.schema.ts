/**
 * POST /chat body: parsed by a schema, never cast. Unknown fields, wrong types, an empty,
 * over-long or control-character question, advisors outside the circle, and fewer
 * advisors than the circle's quorum are rejected with a message that says which field is
 * wrong.
 */
import { z } from 'zod';
import type { Mode } from '../../../machines/advisory.types.js';
import type { Circle } from '../../shared/circle/circle.js';
import { UnknownAdvisorError, ValidationError } from '../errors.js';
import { firstIssueMessage } from './issues.js';

export interface ChatRequest {
  question: string;
  /** Advisor ids in circle order. */
  advisors: string[];
  mode: Mode;
  conversationId?: string;
}

export interface ChatLimits {
  maxQuestionChars: number;
}

export const MODES = ['full', 'quick'] as const satisfies readonly Mode[];

// Control characters other than tab and newline (CR is normalised to LF first), and lone
// surrogates, which cannot be stored as UTF-8.
const FORBIDDEN_CHARS = /[\p{Cc}\p{Cs}]/u;
const ALLOWED_CONTROLS = /[\t\n]/g;
const CONVERSATION_ID = /^[A-Za-z0-9-]{1,64}$/;

const codePoints = (text: string): number => [...text].length;

const required = (field: string, kind: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? `${field} is required` : `${field} must be ${kind}`;

/** The body schema itself (the OpenAPI description is derived from it). */
export function chatSchema({ maxQuestionChars }: ChatLimits) {
  return z.strictObject(
    {
      question: z
        .string({ error: required('question', 'a string') })
        .overwrite((text) => text.replace(/\r\n?/g, '\n'))
        .trim()
        .refine((text) => text.length > 0, { error: 'question must not be empty', abort: true })
        .refine((text) => codePoints(text) <= maxQuestionChars, {
          error: `question must be at most ${maxQuestionChars} characters`,
          abort: true,
        })
        .refine((text) => !FORBIDDEN_CHARS.test(text.replace(ALLOWED_CONTROLS, '')), {
          error: 'question must not contain control characters other than tab and newline',
        }),
      advisors: z
        .array(z.string({ error: 'advisors must be a list of advisor ids' }), { error: 'advisors must be a list of advisor ids' })
        .min(1, 'advisors must not be empty; leave it out to ask the whole circle')
        .max(64, 'advisors lists too many ids')
        .refine((ids) => new Set(ids).size === ids.length, { error: 'advisors must not repeat an id' })
        .optional(),
      mode: z.enum(MODES, { error: 'mode must be "full" or "quick"' }).default('full'),
      conversationId: z
        .string({ error: 'conversationId must be a string' })
        .regex(CONVERSATION_ID, 'conversationId must be 1 to 64 letters, digits or dashes')
        .optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}` : 'the request body must be a JSON object',
    },
  );
}

/** A validator of POST /chat bodies for this circle; it throws ValidationError or UnknownAdvisorError. */
export function createChatRequestParser(circle: Circle, limits: ChatLimits): (body: unknown) => ChatRequest {
  const schema = chatSchema(limits);
  const known = circle.advisors.map((a) => a.id);
  const quorum = Math.min(circle.quorum, known.length);
  return function parseChatRequest(body) {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new ValidationError(firstIssueMessage(parsed.error), { cause: parsed.error });
    const asked = parsed.data.advisors ?? known;
    const unknown = asked.find((id) => !known.includes(id));
    if (unknown !== undefined) throw new UnknownAdvisorError(unknown, known);
    // Fewer advisors than the quorum could never meet it, and one alone has nobody to review.
    if (asked.length < quorum) {
      throw new ValidationError(
        `advisors must name at least ${quorum} advisors: the circle's quorum is ${quorum} answers; leave advisors out to ask the whole circle`,
      );
    }
    const request: ChatRequest = {
      question: parsed.data.question,
      advisors: known.filter((id) => asked.includes(id)),
      mode: parsed.data.mode,
    };
    if (parsed.data.conversationId !== undefined) request.conversationId = parsed.data.conversationId;
    return request;
  };
}
