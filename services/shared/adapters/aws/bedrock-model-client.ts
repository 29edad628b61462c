/**
 * ModelClient on Amazon Bedrock Runtime Converse and ConverseStream, with a tool for
 * structured output (`toolConfig` + `toolChoice`) and a guardrail (`guardrailConfig`) when the
 * request asks for them. The response reports the stop reason as Bedrock sent it; deciding
 * what a stop reason means is the caller's. Every failure becomes a ModelCallError named for
 * Retry/Catch: the AWS error name, States.Timeout for a timeout abort, States.Aborted for any
 * other abort, ServiceUnavailableException for network errors. A call cut off after it was
 * sent (aborted, timed out, or failed mid-stream) carries the usage it consumed, estimated at
 * four characters per token because Bedrock reports usage only at the end of a stream.
 */
import {
  ConverseCommand,
  ConverseStreamCommand,
  type BedrockRuntimeClient,
  type ContentBlock,
  type ConverseCommandInput,
  type ConverseStreamOutput,
  type GuardrailConfiguration,
  type Message,
  type ToolConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import type { Usage } from '../../../../machines/advisory.types.js';
import { ModelCallError } from '../../errors.js';
import type { ModelClient, ModelRequest, ModelResponse, ModelToolUse } from '../../ports/model-client.js';

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

  /** Streams one model call; `onDelta` sees each text or tool-input fragment in order. */
  async converseStream(request: ModelRequest): Promise<ModelResponse> {
    const { signal } = request;
    if (signal.aborted) throw abortError(signal, request.modelId);
    const command = beforeSending(new ConverseStreamCommand({ ...commandInput(request), guardrailConfig: guardrailConfigOf(request) }), request);
    // Characters received (text and tool input) before a failure: the usage estimate of a cut-off call.
    const received = { chars: 0 };
    try {
      const output = await this.client.send(command, { abortSignal: signal });
      if (!output.stream) throw new ModelCallError('ModelStreamErrorException', `${request.modelId}: the response has no event stream`);
      return await this.readStream(output.stream, request, received);
    } catch (err) {
      const error = toModelCallError(err, signal, request.modelId);
      if (signal.aborted || received.chars > 0) error.usage ??= estimateUsage(request, received.chars);
      throw error;
    }
  }

  /** One model call answered whole (for models that cannot stream a tool call); `onDelta` sees the answer once. */
  async converse(request: ModelRequest): Promise<ModelResponse> {
    const { signal } = request;
    if (signal.aborted) throw abortError(signal, request.modelId);
    const command = beforeSending(new ConverseCommand({ ...commandInput(request), guardrailConfig: guardrailConfigOf(request) }), request);
    try {
      const output = await this.client.send(command, { abortSignal: signal });
      const blocks: ContentBlock[] = output.output?.message?.content ?? [];
      const text = blocks.map((b) => b.text ?? '').join('');
      const call = blocks.find((b) => b.toolUse)?.toolUse;
      const toolUse = call ? toolUseOf(call.name ?? '', call.input === undefined ? '' : JSON.stringify(call.input), call.input) : undefined;
      const whole = text + (toolUse?.inputText ?? '');
      if (whole) request.onDelta?.(whole);
      return {
        text,
        usage: { inputTokens: output.usage?.inputTokens ?? 0, outputTokens: output.usage?.outputTokens ?? 0 },
        stopReason: output.stopReason,
        ...(toolUse ? { toolUse } : {}),
        ...(isSimulated(output.additionalModelResponseFields) ? { simulated: true } : {}),
      };
    } catch (err) {
      const error = toModelCallError(err, signal, request.modelId);
      if (signal.aborted) error.usage ??= estimateUsage(request, 0);
      throw error;
    }
  }

  private async readStream(stream: AsyncIterable<ConverseStreamOutput>, request: ModelRequest, received: { chars: number }): Promise<ModelResponse> {
    let text = '';
    let usage: Usage = { inputTokens: 0, outputTokens: 0 };
    let stopReason: string | undefined;
    let stopped = false;
    let simulated = false;
    // The tool call arrives as contentBlockStart (its name) and input fragments in contentBlockDelta.
    let tool: { name: string; inputText: string } | undefined;
    for await (const event of stream) {
      const delta = event.contentBlockDelta?.delta;
      const started = event.contentBlockStart?.start?.toolUse;
      if (delta?.text) {
        text += delta.text;
        received.chars += delta.text.length;
        request.onDelta?.(delta.text);
      } else if (delta?.toolUse?.input) {
        tool ??= { name: '', inputText: '' };
        tool.inputText += delta.toolUse.input;
        received.chars += delta.toolUse.input.length;
        request.onDelta?.(delta.toolUse.input);
      } else if (started) {
        tool = { name: started.name ?? '', inputText: tool?.inputText ?? '' };
      } else if (event.messageStop) {
        stopReason = event.messageStop.stopReason;
        simulated = isSimulated(event.messageStop.additionalModelResponseFields);
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
    return {
      text,
      usage,
      stopReason,
      ...(tool ? { toolUse: toolUseOf(tool.name, tool.inputText) } : {}),
      ...(simulated ? { simulated: true } : {}),
    };
  }
}

/** The rough count Bedrock users quote, four characters per token: the prompt sent and the characters received. */
function estimateUsage(request: ModelRequest, receivedChars: number): Usage {
  const sent = request.system.length + request.messages.reduce((n, m) => n + m.text.length, 0);
  return { inputTokens: Math.ceil(sent / 4), outputTokens: Math.ceil(receivedChars / 4) };
}

/** What Converse and ConverseStream share: model, prompt, inference settings, metadata, the tool. */
function commandInput(request: ModelRequest): Omit<ConverseCommandInput, 'guardrailConfig'> {
  return {
    modelId: request.modelId,
    // Bedrock rejects blank text blocks, so an empty system prompt is left out.
    system: request.system.trim() ? [{ text: request.system }] : undefined,
    messages: request.messages.map((m): Message => ({ role: m.role, content: [{ text: m.text }] })),
    inferenceConfig: request.inference,
    requestMetadata: request.requestMetadata,
    toolConfig: request.tool ? toolConfigOf(request.tool) : undefined,
  };
}

/** Converse and ConverseStream take the same guardrail fields (streaming adds an optional mode). */
function guardrailConfigOf({ guardrail }: ModelRequest): GuardrailConfiguration | undefined {
  return guardrail ? { guardrailIdentifier: guardrail.identifier, guardrailVersion: guardrail.version, trace: guardrail.trace } : undefined;
}

function toolConfigOf(tool: NonNullable<ModelRequest['tool']>): ToolConfiguration {
  return {
    tools: [{ toolSpec: { name: tool.name, description: tool.description, inputSchema: { json: tool.inputSchema as never } } }],
    toolChoice: tool.choice === 'tool' ? { tool: { name: tool.name } } : tool.choice === 'any' ? { any: {} } : { auto: {} },
  };
}

/** A tool call with its input parsed when it is whole JSON (a call cut at max_tokens is not). */
function toolUseOf(name: string, inputText: string, input?: unknown): ModelToolUse {
  if (input !== undefined) return { name, inputText, input };
  try {
    return { name, inputText, input: JSON.parse(inputText) as unknown };
  } catch {
    return { name, inputText };
  }
}

/** The local stand-in marks its answers `{"simulated": true}` in additionalModelResponseFields. */
function isSimulated(fields: unknown): boolean {
  return typeof fields === 'object' && fields !== null && (fields as { simulated?: unknown }).simulated === true;
}

/** Where `beforeSend` runs: the deserialize step wraps the HTTP handler, so its last middleware runs right before the send. */
const BEFORE_SEND = { step: 'deserialize', priority: 'low', name: 'cotBeforeSend' } as const;
type Next = (args: unknown) => Promise<unknown>;
/** What of a command's middleware stack this needs (each command's own stack type differs only in input and output). */
interface MiddlewareStackLike {
  add(middleware: (next: Next) => Next, options: typeof BEFORE_SEND): void;
}

/** Runs the request's `beforeSend` after serializing and signing, right before the HTTP handler sends it. */
function beforeSending<C extends { middlewareStack: unknown }>(command: C, request: ModelRequest): C {
  const { beforeSend } = request;
  if (!beforeSend) return command;
  (command.middlewareStack as MiddlewareStackLike).add((next) => async (args) => {
    await beforeSend();
    return next(args);
  }, BEFORE_SEND);
  return command;
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
  // The SDK's HTTP handlers name a reset connection (ECONNRESET, EPIPE) and a quiet socket
  // "TimeoutError", and its middleware adds $metadata: a network failure (below), not Bedrock's answer.
  const clientTimeout = e?.name === 'TimeoutError' && !e.$fault;
  if (e && (e.$fault || e.$metadata) && e.name && e.name !== 'Error' && !clientTimeout) {
    return new ModelCallError(e.name, `${modelId}: ${e.name}: ${message}`, { cause: err });
  }
  if (e?.name && /Exception$/.test(e.name)) {
    // Exceptions from inside the event stream carry their name but no HTTP metadata.
    return new ModelCallError(e.name, `${modelId}: ${e.name}: ${message}`, { cause: err });
  }
  if ((e?.code && NETWORK_CODES.has(e.code)) || isNetworkMessage(message) || clientTimeout) {
    return new ModelCallError('ServiceUnavailableException', `${modelId}: cannot reach Bedrock: ${message}`, { cause: err });
  }
  return new ModelCallError('States.TaskFailed', `${modelId}: ${message}`, { cause: err });
}

const isNetworkMessage = (message: string): boolean =>
  /socket hang up|HTTP\/2 stream is abnormally aborted|did not get a response|ECONNREFUSED|ECONNRESET|Frame type id|session|network/i.test(message);
