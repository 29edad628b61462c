/**
 * ModelClient on Amazon Bedrock Runtime ConverseStream. Every failure becomes a
 * ModelCallError named for Retry/Catch: the AWS error name, States.Timeout for a timeout
 * abort, States.Aborted for any other abort, ServiceUnavailableException for network errors.
 * A call cut off after it was sent (aborted, timed out, or failed mid-stream) carries the
 * usage it consumed, estimated at four characters per token because Bedrock reports usage
 * only at the end of a stream.
 */
import {
  ConverseStreamCommand,
  type BedrockRuntimeClient,
  type ConverseStreamOutput,
  type Message,
} from '@aws-sdk/client-bedrock-runtime';
import type { Usage } from '../../../../machines/advisory.types.js';
import { ModelCallError } from '../../errors.js';
import type { ModelClient, ModelRequest, ModelResponse } from '../../ports/model-client.js';

/** Error names that mean the connection, not the service, failed. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_STREAM_CANCEL',
  'ERR_HTTP2_INVALID_SESSION',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Union members of ConverseStreamOutput that carry an exception. */
const STREAM_EXCEPTIONS = [
  'internalServerException',
  'modelStreamErrorException',
  'validationException',
  'throttlingException',
  'serviceUnavailableException',
] as const;

export class BedrockModelClient implements ModelClient {
  constructor(private readonly client: BedrockRuntimeClient) {}

  /** Streams one model call; `onDelta` sees each text fragment in order. */
  async converseStream(request: ModelRequest): Promise<ModelResponse> {
    const { signal } = request;
    if (signal.aborted) throw abortError(signal, request.modelId);
    const command = new ConverseStreamCommand({
      modelId: request.modelId,
      // Bedrock rejects blank text blocks, so an empty system prompt is left out.
      system: request.system.trim() ? [{ text: request.system }] : undefined,
      messages: request.messages.map((m): Message => ({ role: m.role, content: [{ text: m.text }] })),
      inferenceConfig: request.inference,
      requestMetadata: request.requestMetadata,
    });
    const streamed = { text: '' };
    try {
      const output = await this.client.send(command, { abortSignal: signal });
      if (!output.stream) throw new ModelCallError('ModelStreamErrorException', `${request.modelId}: the response has no event stream`);
      return await this.readStream(output.stream, request, streamed);
    } catch (err) {
      const error = toModelCallError(err, signal, request.modelId);
      if (signal.aborted || streamed.text) error.usage ??= estimateUsage(request, streamed.text);
      throw error;
    }
  }

  private async readStream(stream: AsyncIterable<ConverseStreamOutput>, request: ModelRequest, streamed: { text: string }): Promise<ModelResponse> {
    let usage: Usage = { inputTokens: 0, outputTokens: 0 };
    let stopReason: string | undefined;
    let stopped = false;
    for await (const event of stream) {
      const delta = event.contentBlockDelta?.delta?.text;
      if (delta) {
        streamed.text += delta;
        request.onDelta?.(delta);
      } else if (event.messageStop) {
        stopReason = event.messageStop.stopReason;
        stopped = true;
      } else if (event.metadata?.usage) {
        usage = { inputTokens: event.metadata.usage.inputTokens ?? 0, outputTokens: event.metadata.usage.outputTokens ?? 0 };
      } else {
        const member = STREAM_EXCEPTIONS.find((name) => event[name as keyof ConverseStreamOutput]);
        if (member) {
          const exception = event[member as keyof ConverseStreamOutput] as { message?: string } | undefined;
          const name = member.charAt(0).toUpperCase() + member.slice(1);
          throw new ModelCallError(name, `${request.modelId}: ${name}: ${exception?.message ?? 'error in the event stream'}`);
        }
      }
    }
    // An aborted HTTP/2 stream can end quietly instead of failing; the signal tells the truth.
    if (request.signal.aborted) throw abortError(request.signal, request.modelId);
    if (!stopped) throw new ModelCallError('ModelStreamErrorException', `${request.modelId}: the stream ended before the message was complete`);
    return { text: streamed.text, usage, stopReason };
  }
}

/** The rough count Bedrock users quote, four characters per token: the prompt sent and the text received. */
function estimateUsage(request: ModelRequest, received: string): Usage {
  const sent = request.system.length + request.messages.reduce((n, m) => n + m.text.length, 0);
  return { inputTokens: Math.ceil(sent / 4), outputTokens: Math.ceil(received.length / 4) };
}

function abortError(signal: AbortSignal, modelId: string): ModelCallError {
  const reason: unknown = signal.reason;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  return timedOut
    ? new ModelCallError('States.Timeout', `${modelId}: the call timed out`, { cause: reason })
    : new ModelCallError('States.Aborted', `${modelId}: the call was aborted`, { cause: reason });
}

/** Maps anything thrown by the SDK or the stream to a ModelCallError (see the module doc). */
export function toModelCallError(err: unknown, signal: AbortSignal, modelId: string): ModelCallError {
  if (err instanceof ModelCallError) return err;
  if (signal.aborted) return abortError(signal, modelId);
  const e = err as { name?: string; message?: string; code?: string; $fault?: string; $metadata?: unknown };
  const message = e?.message || String(err);
  if (e && (e.$fault || e.$metadata) && e.name && e.name !== 'Error') {
    return new ModelCallError(e.name, `${modelId}: ${e.name}: ${message}`, { cause: err });
  }
  if (e?.name && /Exception$/.test(e.name)) {
    // Exceptions from inside the event stream carry their name but no HTTP metadata.
    return new ModelCallError(e.name, `${modelId}: ${e.name}: ${message}`, { cause: err });
  }
  if ((e?.code && NETWORK_CODES.has(e.code)) || isNetworkMessage(message) || e?.name === 'TimeoutError') {
    return new ModelCallError('ServiceUnavailableException', `${modelId}: cannot reach Bedrock: ${message}`, { cause: err });
  }
  return new ModelCallError('States.TaskFailed', `${modelId}: ${message}`, { cause: err });
}

const isNetworkMessage = (message: string): boolean =>
  /socket hang up|HTTP\/2 stream is abnormally aborted|did not get a response|ECONNREFUSED|ECONNRESET|Frame type id|session|network/i.test(message);
