/**
 * The Bedrock Runtime operations the stand-in serves: `POST /model/{modelId}/converse`
 * (JSON) and `POST /model/{modelId}/converse-stream` (event stream), with tool use as AWS
 * sends it (a `toolUse` content block; in the stream `contentBlockStart.start.toolUse`, then
 * `contentBlockDelta.delta.toolUse.input` fragments, `stopReason: tool_use`), guardrail
 * interventions, injected faults and misbehaviour, scripted replies, realistic token pacing
 * and a call log entry per call. Every answer is marked `{"simulated": true}` in
 * additionalModelResponseFields.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { CallLog } from './call-log.js';
import { ConverseValidationError, parseConverseBody, readPrompt, type ConverseRequest, type PromptView } from './converse-request.js';
import type { FaultBook, ReplyBook } from './fault-book.js';
import { drawMisbehaviour, misbehave, wellBehaved, type Misbehaved, type Misbehaviour } from './misbehaviour.js';
import { replyKey, type RecordingBook } from './recordings.js';
import { hasSizeDirective, type SimulatedAdvisors } from './simulated-advisors.js';
import type { CallOutcome, FaultType, Operation, StandinConfig } from './standin.types.js';
import { estimateTokens, tokenize } from './text-kit.js';
import { toolSupportProblem } from './tool-support.js';
import {
  AWS_ERRORS,
  eventFrame,
  exceptionFrame,
  memberNameOf,
  okHeaders,
  validationError,
  writeAwsError,
  writeHead,
  type AnyRequest,
  type AnyResponse,
  type AwsError,
} from './wire.js';

export interface ModelApiDeps {
  config: StandinConfig;
  calls: CallLog;
  faults: FaultBook;
  /** Texts to answer instead of the simulation, for the calls they match. */
  replies: ReplyBook;
  advisors: SimulatedAdvisors;
  recordings: RecordingBook;
  /** The misbehaviour corpus (fixtures/misbehaviour), by case id. */
  misbehaviours: ReadonlyMap<string, Misbehaviour>;
  /** Aborted when the stand-in shuts down: hanging and streaming calls stop. */
  closing: AbortSignal;
}

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream)$/;
const MAX_BODY_BYTES = 25 * 1024 * 1024;
/** Long answers send several tokens per delta so that no answer needs more deltas than this. */
const MAX_DELTAS = 2000;
/** Marks every answer of the stand-in, so the worker can tell a simulated job from real advice. */
const SIMULATED = { simulated: true } as const;

const FAULT_ERRORS: Partial<Record<FaultType, { error: AwsError; outcome: Exclude<CallOutcome, 'pending'> }>> = {
  throttle: { error: AWS_ERRORS.throttling, outcome: 'throttled' },
  unavailable: { error: AWS_ERRORS.unavailable, outcome: 'error' },
  internal: { error: AWS_ERRORS.internal, outcome: 'error' },
};

type StopReason = Misbehaved['stopReason'];

/** What one call answers: text deltas, then a tool call's input fragments, and how it stops. */
interface Reply {
  deltas: string[];
  tool?: { name: string; fragments: string[] };
  stopReason: StopReason;
  recording?: string;
  misbehaviour?: string;
  /** The guardrail that blocked the answer, for the trace. */
  blockedBy?: { identifier: string; trace: boolean };
}

interface Result {
  outcome: Exclude<CallOutcome, 'pending'>;
  outputTokens: number;
  error?: string;
  stopReason?: string;
}

/** A request handler for both HTTP/2 and HTTP/1.1; never throws to the server. */
export function createModelHandler(deps: ModelApiDeps): (req: AnyRequest, res: AnyResponse) => void {
  return (req, res) => {
    handle(req, res, deps).catch(() => {
      // A bug here must look like a Bedrock 500 to the caller, not hang it.
      try {
        if (!res.headersSent) writeAwsError(res, AWS_ERRORS.internal);
        else res.destroy();
      } catch {
        // The caller is already gone.
      }
    });
  };
}

async function handle(req: AnyRequest, res: AnyResponse, deps: ModelApiDeps): Promise<void> {
  const route = ROUTE.exec(new URL(req.url ?? '/', 'http://stand-in').pathname);
  if (!route || req.method !== 'POST') return writeAwsError(res, AWS_ERRORS.notFound);
  const operation: Operation = route[2] === 'converse' ? 'Converse' : 'ConverseStream';
  const gone = clientGone(res, deps.closing);
  let modelId: string;
  let raw: string;
  try {
    modelId = decodeURIComponent(route[1] ?? '');
    raw = await readBody(req, MAX_BODY_BYTES);
  } catch (err) {
    if (gone.aborted) return;
    return writeAwsError(res, validationError(err instanceof URIError ? 'The provided model identifier is invalid.' : (err as Error).message));
  }

  let request;
  try {
    request = parseConverseBody(raw);
  } catch (err) {
    if (!(err instanceof ConverseValidationError)) throw err;
    const entry = deps.calls.start({ modelId, operation, requestMetadata: {}, kind: 'advise', inputTokens: 0 });
    deps.calls.finish(entry, 'error', 0, 'ValidationException');
    return writeAwsError(res, validationError(err.message));
  }

  const problem = request.tool ? toolSupportProblem(modelId, request.tool.choice, operation) : undefined;
  const view = readPrompt(request);
  const metadata = request.requestMetadata;
  if (problem) {
    const rejected = deps.calls.start({ modelId, operation, requestMetadata: metadata, kind: view.kind, inputTokens: 0, tool: true });
    deps.calls.finish(rejected, 'error', 0, 'ValidationException');
    return writeAwsError(res, validationError(problem));
  }
  const x: Exchange = { res, gone, config: deps.config, inputTokens: estimateTokens(request.inputChars) };
  const entry = deps.calls.start({
    modelId,
    operation,
    requestMetadata: metadata,
    kind: view.kind,
    inputTokens: x.inputTokens,
    ...(view.repair ? { repair: true } : {}),
    ...(request.tool ? { tool: true } : {}),
  });
  const target = { modelId, jobId: metadata.jobId, step: metadata.step, kind: view.kind, question: view.question };
  const fault = deps.faults.take(target);
  const scripted = deps.replies.take(target)?.text;
  const reply = (): Reply => {
    if (scripted !== undefined) return { deltas: groupTokens(tokenize(scripted)), stopReason: 'end_turn' };
    const composed = compose(deps, modelId, view, request, fault?.type === 'misbehave' ? deps.misbehaviours.get(fault.case ?? '') : undefined);
    if (composed.recording) entry.recording = composed.recording;
    if (composed.misbehaviour) entry.misbehaviour = composed.misbehaviour;
    return composed;
  };
  try {
    const result = await respond(x, operation, fault?.type, reply);
    if (result.stopReason) entry.stopReason = result.stopReason;
    deps.calls.finish(entry, result.outcome, result.outputTokens, result.error);
  } catch (err) {
    if (!gone.aborted) {
      deps.calls.finish(entry, 'error', 0, AWS_ERRORS.internal.name);
      throw err;
    }
    deps.calls.finish(entry, 'aborted', 0);
  }
}

/** One call in progress: where to answer, when the caller has gone, and the timing to use. */
interface Exchange {
  res: AnyResponse;
  gone: AbortSignal;
  config: StandinConfig;
  inputTokens: number;
}

async function respond(x: Exchange, operation: Operation, fault: FaultType | undefined, reply: () => Reply): Promise<Result> {
  const failure = fault ? FAULT_ERRORS[fault] : undefined;
  if (failure) {
    writeAwsError(x.res, failure.error);
    return { outcome: failure.outcome, outputTokens: 0, error: failure.error.name };
  }
  if (fault === 'timeout') {
    // Hang like a model that never answers, until the caller gives up.
    if (!x.gone.aborted) await once(x.gone, 'abort');
    return { outcome: 'timeout', outputTokens: 0 };
  }
  const cut = fault === 'midstream' || fault === 'stall' ? fault : undefined;
  return operation === 'Converse' ? respondJson(x, reply(), cut) : respondStream(x, reply(), cut);
}

/**
 * Recorded chunks when the question has a recording; else the simulated advisor's answer,
 * turned into an armed misbehaviour or, on a bad day, a drawn one (never for a repair: the
 * simulated models heed what they are told was wrong).
 */
function compose(deps: ModelApiDeps, modelId: string, view: PromptView, request: ConverseRequest, armed: Misbehaviour | undefined): Reply {
  const step = request.requestMetadata.step;
  const recorded = deps.recordings.find(view.question, replyKey(view.kind, step));
  if (recorded) return { deltas: recorded.chunks, stopReason: 'end_turn', recording: recorded.recording.name };

  const shape = { tool: request.tool !== undefined, guardrail: request.guardrail !== undefined };
  const badDay = deps.config.badDay;
  const drawn =
    armed ??
    (badDay && !view.repair
      ? drawMisbehaviour([...deps.misbehaviours.values()], badDay.rate, view.kind, [
          badDay.seed,
          modelId,
          request.requestMetadata.jobId ?? view.question,
          step ?? view.kind,
          request.requestMetadata.attempt ?? '',
        ])
      : undefined);
  const composition = deps.advisors.compose(modelId, view);
  const answer = drawn ? misbehave(drawn, composition, shape) : wellBehaved(composition, shape);

  let text = tokenize(answer.text);
  let input = answer.toolInput !== undefined ? tokenize(answer.toolInput) : undefined;
  let stopReason = answer.stopReason;
  // Bedrock stops at maxTokens; the [[size:N]] directive and the size case exist to exceed limits.
  const max = request.maxTokens;
  if (max !== undefined && !answer.unlimited && !hasSizeDirective(view.question) && text.length + (input?.length ?? 0) > max) {
    input = input?.slice(0, Math.max(0, max - text.length));
    text = text.slice(0, max);
    stopReason = 'max_tokens';
  }
  const guardrail = stopReason === 'guardrail_intervened' ? request.guardrail : undefined;
  return {
    deltas: groupTokens(text),
    ...(input !== undefined && request.tool ? { tool: { name: request.tool.name, fragments: groupTokens(input) } } : {}),
    stopReason,
    ...(drawn ? { misbehaviour: drawn.id } : {}),
    ...(guardrail ? { blockedBy: { identifier: guardrail.identifier, trace: guardrail.trace !== 'disabled' } } : {}),
  };
}

function groupTokens(tokens: string[]): string[] {
  const per = Math.ceil(tokens.length / MAX_DELTAS);
  if (per <= 1) return tokens;
  const deltas: string[] = [];
  for (let i = 0; i < tokens.length; i += per) deltas.push(tokens.slice(i, i + per).join(''));
  return deltas;
}

/** The outcome the call log records for an answer that stopped this way. */
const outcomeOf = (stopReason: StopReason): Result['outcome'] =>
  stopReason === 'guardrail_intervened' || stopReason === 'content_filtered' ? 'blocked' : 'ok';

/** The guardrail trace Bedrock adds to the metadata when a guardrail with tracing blocked the answer. */
function traceOf(reply: Reply): Record<string, unknown> | undefined {
  if (!reply.blockedBy?.trace) return undefined;
  return {
    guardrail: {
      modelOutput: [reply.deltas.join('')],
      outputAssessments: {
        [reply.blockedBy.identifier]: [{ topicPolicy: { topics: [{ name: 'Simulated denied topic', type: 'DENY', action: 'BLOCKED' }] } }],
      },
    },
  };
}

async function respondJson({ res, gone, config, inputTokens }: Exchange, reply: Reply, cut: 'midstream' | 'stall' | undefined): Promise<Result> {
  const started = Date.now();
  const fragments = reply.tool?.fragments ?? [];
  await sleep(config.firstTokenDelayMs + config.tokenDelayMs * (reply.deltas.length + fragments.length), undefined, { signal: gone });
  if (cut === 'stall') {
    if (!gone.aborted) await once(gone, 'abort');
    throw gone.reason;
  }
  if (cut === 'midstream') {
    writeAwsError(res, AWS_ERRORS.modelStream);
    return { outcome: 'midstream-error', outputTokens: 0, error: AWS_ERRORS.modelStream.name };
  }
  const text = reply.deltas.join('');
  const content: Record<string, unknown>[] = text ? [{ text }] : [];
  if (reply.tool) content.push({ toolUse: { toolUseId: toolUseId(), name: reply.tool.name, input: inputOf(fragments.join('')) } });
  const outputTokens = tokenize(text).length + tokenize(fragments.join('')).length;
  const trace = traceOf(reply);
  const body = JSON.stringify({
    output: { message: { role: 'assistant', content } },
    stopReason: reply.stopReason,
    usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
    metrics: { latencyMs: Date.now() - started },
    additionalModelResponseFields: SIMULATED,
    ...(trace ? { trace } : {}),
  });
  writeHead(res, 200, { ...okHeaders('application/json'), 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
  return { outcome: outcomeOf(reply.stopReason), outputTokens, stopReason: reply.stopReason };
}

/** A tool call's input as a JSON document; Converse cannot send a cut one, so it sends an empty object. */
function inputOf(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return {};
  }
}

const toolUseId = (): string => `tooluse_${randomUUID().replace(/-/g, '').slice(0, 22)}`;

async function respondStream({ res, gone, config, inputTokens }: Exchange, reply: Reply, cut: 'midstream' | 'stall' | undefined): Promise<Result> {
  const started = Date.now();
  let outputTokens = 0;
  const send = async (frame: Uint8Array): Promise<void> => {
    if (gone.aborted) throw gone.reason;
    if (!(res as NodeJS.WritableStream).write(frame)) await once(res, 'drain', { signal: gone });
  };
  // Text is content block 0 when there is any; a tool call is the block after it.
  const blocks: { index: number; tool?: { name: string }; chunks: string[] }[] = [];
  if (reply.deltas.length > 0 || !reply.tool) blocks.push({ index: 0, chunks: reply.deltas });
  if (reply.tool) blocks.push({ index: blocks.length, tool: { name: reply.tool.name }, chunks: reply.tool.fragments });
  const total = blocks.reduce((n, b) => n + b.chunks.length, 0);
  writeHead(res, 200, okHeaders('application/vnd.amazon.eventstream'));
  try {
    await send(eventFrame('messageStart', { role: 'assistant' }));
    await sleep(config.firstTokenDelayMs, undefined, { signal: gone });
    // A midstream or stall fault sends about a third of the answer first.
    const limit = cut ? Math.max(1, Math.min(20, Math.floor(total / 3))) : total;
    let sent = 0;
    for (const block of blocks) {
      if (sent >= limit) break;
      if (block.tool) {
        await send(eventFrame('contentBlockStart', { start: { toolUse: { toolUseId: toolUseId(), name: block.tool.name } }, contentBlockIndex: block.index }));
      }
      for (const chunk of block.chunks) {
        if (sent >= limit) break;
        if (sent > 0) await pace(config.tokenDelayMs, sent, gone);
        const delta = block.tool ? { toolUse: { input: chunk } } : { text: chunk };
        await send(eventFrame('contentBlockDelta', { delta, contentBlockIndex: block.index }));
        outputTokens += tokenize(chunk).length;
        sent++;
      }
      if (!cut) await send(eventFrame('contentBlockStop', { contentBlockIndex: block.index }));
    }
    if (cut === 'stall') {
      if (!gone.aborted) await once(gone, 'abort');
      throw gone.reason;
    }
    if (cut === 'midstream') {
      const error = AWS_ERRORS.modelStream;
      await send(exceptionFrame(memberNameOf(error.name), { message: error.message, originalStatusCode: 500, originalMessage: 'model worker crashed' }));
      res.end();
      return { outcome: 'midstream-error', outputTokens, error: error.name };
    }
    await send(eventFrame('messageStop', { stopReason: reply.stopReason, additionalModelResponseFields: SIMULATED }));
    const trace = traceOf(reply);
    await send(
      eventFrame('metadata', {
        usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
        metrics: { latencyMs: Date.now() - started },
        ...(trace ? { trace } : {}),
      }),
    );
    res.end();
    return { outcome: outcomeOf(reply.stopReason), outputTokens, stopReason: reply.stopReason };
  } catch (err) {
    if (gone.aborted) return { outcome: 'aborted', outputTokens };
    throw err;
  }
}

/** Waits between tokens; with no delay, still yields now and then so aborts are noticed. */
async function pace(delayMs: number, index: number, signal: AbortSignal): Promise<void> {
  if (delayMs > 0) await sleep(delayMs, undefined, { signal });
  else if (index % 64 === 0) await nextTurn(undefined, { signal });
}

/** Aborts when the caller goes away before the response ended, or the stand-in closes. */
function clientGone(res: AnyResponse, closing: AbortSignal): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableEnded) controller.abort(new Error('the caller went away'));
  });
  return AbortSignal.any([controller.signal, closing]);
}

async function readBody(req: AnyRequest, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error('Input is too long for requested model.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
