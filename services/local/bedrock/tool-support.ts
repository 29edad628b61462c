/**
 * Which models accept tool use, in which operation and with which toolChoice, after
 * Bedrock's "supported models and model features" table for the Converse API. The stand-in
 * rejects the rest with Bedrock's ValidationException, so a circle file that claims a
 * capability its model lacks fails here as it would in AWS.
 */
import type { Operation } from './standin.types.js';

interface ToolSupport {
  /** Tool calls can be streamed (ConverseStream). */
  streaming: boolean;
  /** toolChoice values accepted besides the default `auto`. */
  choices: readonly ('any' | 'tool')[];
}

/** Model id patterns (without a cross-region prefix), first match wins. */
const TABLE: readonly [RegExp, ToolSupport][] = [
  [/^anthropic\.claude-(3|sonnet-4|opus-4|haiku-4)/, { streaming: true, choices: ['any', 'tool'] }],
  [/^amazon\.nova-/, { streaming: true, choices: ['any', 'tool'] }],
  [/^mistral\.mistral-large/, { streaming: false, choices: ['any'] }],
  [/^mistral\.pixtral-large/, { streaming: false, choices: ['any'] }],
  [/^meta\.llama3-[123]-|^meta\.llama4-/, { streaming: false, choices: [] }],
  [/^cohere\.command-r/, { streaming: false, choices: [] }],
  [/^ai21\.jamba-1-5/, { streaming: true, choices: [] }],
];

const CROSS_REGION = /^(us|us-gov|eu|apac|jp|au|ca|global)\./;

/** Bedrock's message for a tool request the model cannot take, or undefined when it can. */
export function toolSupportProblem(modelId: string, choice: 'auto' | 'any' | 'tool', operation: Operation): string | undefined {
  const base = modelId.replace(CROSS_REGION, '');
  const support = TABLE.find(([pattern]) => pattern.test(base))?.[1];
  if (!support) return 'This model doesn\u2019t support tool use.';
  if (operation === 'ConverseStream' && !support.streaming) return 'This model doesn\u2019t support tool use in streaming mode.';
  if (choice !== 'auto' && !support.choices.includes(choice)) {
    return `This model doesn't support the toolConfig.toolChoice.${choice} field. Remove toolConfig.toolChoice.${choice} and try again.`;
  }
  return undefined;
}
