import type { Usage } from '../../../machines/advisory.types.js';

export interface ModelMessage {
  role: 'user' | 'assistant';
  text: string;
}

/**
 * One tool offered to the model (Converse `toolConfig`), used here for structured output:
 * the model "calls" it with its answer as the tool's input.
 */
export interface ModelTool {
  name: string;
  description: string;
  /** JSON Schema of the tool's input. */
  inputSchema: Record<string, unknown>;
  /** Converse `toolChoice`: `tool` forces this tool, `any` forces some tool, `auto` lets the model choose. */
  choice: 'tool' | 'any' | 'auto';
}

/** A Bedrock guardrail applied to the call (Converse `guardrailConfig`). */
export interface ModelGuardrail {
  identifier: string;
  version: string;
  trace?: 'enabled' | 'disabled' | 'enabled_full';
}

export interface ModelRequest {
  modelId: string;
  system: string;
  messages: ModelMessage[];
  inference: { maxTokens?: number; temperature?: number; topP?: number };
  /** Converse requestMetadata: {jobId, step, attempt, …} for attribution. */
  requestMetadata: Record<string, string>;
  signal: AbortSignal;
  /**
   * Awaited as late as the adapter can before the request leaves (after signing, just
   * before the HTTP handler); a rejection stops the call unsent. The worker checks its lease
   * here: a process stopped between deciding to call and sending must not wake and call for
   * a step another worker has finished meanwhile.
   */
  beforeSend?: () => Promise<void>;
  /** Called with each streamed fragment, in order: text, and the input of a tool call as it arrives. */
  onDelta?: (text: string) => void;
  tool?: ModelTool;
  guardrail?: ModelGuardrail;
}

/** The model's call of the offered tool. */
export interface ModelToolUse {
  name: string;
  /** The input as the model wrote it (JSON text, possibly cut short). */
  inputText: string;
  /** The input parsed, or undefined when `inputText` is not one JSON value. */
  input?: unknown;
}

export interface ModelResponse {
  /** The text blocks of the answer, joined (without the tool input). */
  text: string;
  usage: Usage;
  /** Bedrock's stopReason as sent: end_turn, tool_use, max_tokens, guardrail_intervened, content_filtered, … */
  stopReason?: string;
  toolUse?: ModelToolUse;
  /** The endpoint marked the answer as simulated (the local stand-in does, in additionalModelResponseFields). */
  simulated?: boolean;
}

/** Bedrock Runtime Converse / ConverseStream. Errors are ModelCallError with the AWS error name. */
export interface ModelClient {
  converseStream(request: ModelRequest): Promise<ModelResponse>;
  /** The same call without streaming, for models that cannot stream a tool call. */
  converse(request: ModelRequest): Promise<ModelResponse>;
}
