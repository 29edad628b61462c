/**
 * The Bedrock Runtime operations the stand-in serves: `POST /model/{modelId}/converse`
 * (JSON) and `POST /model/{modelId}/converse-stream` (event stream), with injected faults,
 * scripted replies, realistic token pacing and a call log entry per call.
 */
import { once } from 'node:events';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { CallLog } from './call-log.js';
import { ConverseValidationError, parseConverseBody, readPrompt, type PromptView } from './converse-request.js';
import type { FaultBook, ReplyBook } from './fault-book.js';
import { replyKey, type RecordingBook } from './recordings.js';
import { hasSizeDirective, type SimulatedAdvisors } from './simulated-advisors.js';
import type { CallOutcome, FaultType, Operation, StandinConfig } from './standin.types.js';
import { estimateTokens, tokenize } from './text-kit.js';
import {
  AWS_ERRORS,
  eventFrame,
  exceptionFrame,
  memberNameOf,
  okHeaders,
  validationError,
  writeAwsError,
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
  /** Aborted when the stand-in shuts down: hanging and streaming calls stop. */
  closing: AbortSignal;
}

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream)$/;
const MAX_BODY_BYTES = 25 * 1024 * 1024;
/** Long answers send several tokens per delta so that no answer needs more deltas than this. */
const MAX_DELTAS = 2000;

const FAULT_ERRORS: Partial<Record<FaultType, { error: AwsError; outcome: Exclude<CallOutcome, 'pending'> }>> = {
  throttle: { error: AWS_ERRORS.throttling, outcome: 'throttled' },
  unavailable: { error: AWS_ERRORS.unavailable, outcome: 'error' },
  internal: { error: AWS_ERRORS.internal, outcome: 'error' },
};

interface Reply {
  deltas: string[];
  stopReason: 'end_turn' | 'max_tokens';
  recording?: string;
}

interface Result {
  outcome: Exclude<CallOutcome, 'pending'>;
  outputTokens: number;
  error?: string;
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

  const view = readPrompt(request);
  const metadata = request.requestMetadata;
  const x: Exchange = { res, gone, config: deps.config, inputTokens: estimateTokens(request.inputChars) };
  const entry = deps.calls.start({ modelId, operation, requestMetadata: metadata, kind: view.kind, inputTokens: x.inputTokens });
  const target = { modelId, jobId: metadata.jobId, step: metadata.step, kind: view.kind, question: view.question };
  const fault = deps.faults.take(target)?.type;
  const scripted = deps.replies.take(target)?.text;
  const reply = (): Reply => {
    if (scripted !== undefined) return { deltas: groupTokens(tokenize(scripted)), stopReason: 'end_turn' };
    const composed = compose(deps, modelId, view, request.maxTokens, metadata.step);
    if (composed.recording) entry.recording = composed.recording;
    return composed;
  };
  try {
    const result = await respond(x, operation, fault, reply);
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

/** Recorded chunks when the question has a recording, else the simulated advisor's answer. */
function compose(deps: ModelApiDeps, modelId: string, view: PromptView, maxTokens: number | undefined, step: string | undefined): Reply {
  const recorded = deps.recordings.find(view.question, replyKey(view.kind, step));
  if (recorded) return { deltas: recorded.chunks, stopReason: 'end_turn', recording: recorded.recording.name };
  let tokens = tokenize(deps.advisors.answer(modelId, view));
  let stopReason: Reply['stopReason'] = 'end_turn';
  // Bedrock stops at maxTokens; the [[size:N]] directive exists to exceed limits, so it is exempt.
  if (maxTokens !== undefined && tokens.length > maxTokens && !hasSizeDirective(view.question)) {
    tokens = tokens.slice(0, maxTokens);
    stopReason = 'max_tokens';
  }
  return { deltas: groupTokens(tokens), stopReason };
}

function groupTokens(tokens: string[]): string[] {
  const per = Math.ceil(tokens.length / MAX_DELTAS);
  if (per <= 1) return tokens;
  const deltas: string[] = [];
  for (let i = 0; i < tokens.length; i += per) deltas.push(tokens.slice(i, i + per).join(''));
  return deltas;
}

async function respondJson({ res, gone, config, inputTokens }: Exchange, reply: Reply, cut: 'midstream' | 'stall' | undefined): Promise<Result> {
  const started = Date.now();
  await sleep(config.firstTokenDelayMs + config.tokenDelayMs * reply.deltas.length, undefined, { signal: gone });
  if (cut === 'stall') {
    if (!gone.aborted) await once(gone, 'abort');
    throw gone.reason;
  }
  if (cut === 'midstream') {
    writeAwsError(res, AWS_ERRORS.modelStream);
    return { outcome: 'midstream-error', outputTokens: 0, error: AWS_ERRORS.modelStream.name };
  }
  const text = reply.deltas.join('');
  const outputTokens = tokenize(text).length;
  const body = JSON.stringify({
    output: { message: { role: 'assistant', content: [{ text }] } },
    stopReason: reply.stopReason,
    usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
    metrics: { latencyMs: Date.now() - started },
  });
  res.writeHead(200, { ...okHeaders('application/json'), 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
  return { outcome: 'ok', outputTokens };
}

async function respondStream({ res, gone, config, inputTokens }: Exchange, reply: Reply, cut: 'midstream' | 'stall' | undefined): Promise<Result> {
  const started = Date.now();
  let outputTokens = 0;
  const send = async (frame: Uint8Array): Promise<void> => {
    if (gone.aborted) throw gone.reason;
    if (!(res as NodeJS.WritableStream).write(frame)) await once(res, 'drain', { signal: gone });
  };
  res.writeHead(200, okHeaders('application/vnd.amazon.eventstream'));
  try {
    await send(eventFrame('messageStart', { role: 'assistant' }));
    await sleep(config.firstTokenDelayMs, undefined, { signal: gone });
    // A midstream or stall fault sends about a third of the answer first.
    const count = cut ? Math.max(1, Math.min(20, Math.floor(reply.deltas.length / 3))) : reply.deltas.length;
    for (let i = 0; i < count; i++) {
      if (i > 0) await pace(config.tokenDelayMs, i, gone);
      const text = reply.deltas[i] ?? '';
      await send(eventFrame('contentBlockDelta', { delta: { text }, contentBlockIndex: 0 }));
      outputTokens += tokenize(text).length;
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
    await send(eventFrame('contentBlockStop', { contentBlockIndex: 0 }));
    await send(eventFrame('messageStop', { stopReason: reply.stopReason }));
    await send(
      eventFrame('metadata', {
        usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
        metrics: { latencyMs: Date.now() - started },
      }),
    );
    res.end();
    return { outcome: 'ok', outputTokens };
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
