import type { Usage } from '../../../machines/advisory.types.js';

export interface ModelMessage {
  role: 'user' | 'assistant';
  text: string;
}

export interface ModelRequest {
  modelId: string;
  system: string;
  messages: ModelMessage[];
  inference: { maxTokens?: number; temperature?: number; topP?: number };
  /** Converse requestMetadata: {jobId, step, attempt, …} for attribution. */
  requestMetadata: Record<string, string>;
  signal: AbortSignal;
  /** Called with each streamed text fragment, in order. */
  onDelta?: (text: string) => void;
}

export interface ModelResponse {
  text: string;
  usage: Usage;
  stopReason?: string;
}

/** Bedrock Runtime ConverseStream. Errors are ModelCallError with the AWS error name. */
export interface ModelClient {
  converseStream(request: ModelRequest): Promise<ModelResponse>;
}
