/**
 * What a model's response means for a step, whatever the model did: every Bedrock stop
 * reason handled, the text cleaned, a review or synthesis read, and anything unusable
 * described in words a person (and the repair prompt) can read. Pure.
 */
import type { StepKind } from '../../machines/advisory.types.js';
import type { ReviewParsed, SynthesisParsed } from '../shared/contracts/job.js';
import { ModelCallError } from '../shared/errors.js';
import type { ModelResponse } from '../shared/ports/model-client.js';
import { cleanModelText } from './model-text.js';
import { readReview } from './review-parser.js';
import { readSynthesis } from './synthesis-parser.js';

/** Stop reasons after which the text is kept but is cut short. */
export const TRUNCATING_STOP_REASONS: readonly string[] = ['max_tokens', 'model_context_window_exceeded'];

/** Stop reasons that end the step with a readable reason and no retry: the content was blocked. */
const BLOCKING_STOP_REASONS: Readonly<Record<string, { error: string; cause: string }>> = {
  guardrail_intervened: { error: 'Model.GuardrailIntervened', cause: 'the content guardrail blocked this answer' },
  content_filtered: { error: 'Model.ContentFiltered', cause: 'the model\u2019s content filter blocked this answer' },
};

const MALFORMED_STOP_REASONS: readonly string[] = ['malformed_model_output', 'malformed_tool_use'];

export interface StepResponse {
  /** What is stored and shown: the text, then the tool call's input as the model wrote it. */
  text: string;
  parsed?: ReviewParsed | SynthesisParsed;
  /** Why the output cannot be used as it is. */
  problem?: string;
  truncated: boolean;
}

/**
 * Reads a response for a step of `kind` (`labels`: the review's labels). Throws
 * ModelCallError for a blocked answer (guardrail, content filter): that is a failed call
 * with a reason, not output.
 */
export function interpretResponse(kind: StepKind, response: ModelResponse, labels: readonly string[]): StepResponse {
  const blocked = response.stopReason ? BLOCKING_STOP_REASONS[response.stopReason] : undefined;
  if (blocked) throw new ModelCallError(blocked.error, blocked.cause);
  const prose = cleanModelText(response.text);
  const toolText = response.toolUse ? cleanModelText(response.toolUse.inputText) : '';
  const text = prose + toolText;
  const truncated = TRUNCATING_STOP_REASONS.includes(response.stopReason ?? '');
  const base = { text, truncated };
  if (!text.trim()) return { ...base, problem: 'the answer is empty' };

  if (kind === 'advise') {
    return MALFORMED_STOP_REASONS.includes(response.stopReason ?? '') ? { ...base, problem: 'the model returned malformed output' } : base;
  }
  const read = kind === 'review' ? readReview({ text, toolInput: response.toolUse?.input }, labels) : readSynthesis(prose);
  if (read.ok) return { ...base, parsed: read.value };
  const cut = truncated ? ' (it was cut off at the token limit)' : '';
  return { ...base, problem: `${read.problem}${cut}` };
}
