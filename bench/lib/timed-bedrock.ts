/**
 * The Bedrock stand-in's own model handler (services/local/bedrock), served by the bench
 * with two probes the stock stand-in does not expose: when each call finished, and when
 * each streamed text chunk left the server (with its character offset in the answer). The
 * critical path is then computed from what really happened, and a token's delay to a
 * WebSocket client is measured from the moment it left "Bedrock".
 *
 * The stack treats it as an external Bedrock endpoint (AWS_ENDPOINT_URL_BEDROCK_RUNTIME).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { CallLog } from '../../services/local/bedrock/call-log.js';
import { FaultBook, ReplyBook } from '../../services/local/bedrock/fault-book.js';
import { createModelHandler } from '../../services/local/bedrock/model-api.js';
import { createModelFront } from '../../services/local/bedrock/server.js';
import { listen } from '../../services/shared/net.js';
import { loadMisbehaviours } from '../../services/local/bedrock/misbehaviour.js';
import { RecordingBook, loadRecordings } from '../../services/local/bedrock/recordings.js';
import { SimulatedAdvisors, loadTextBanks } from '../../services/local/bedrock/simulated-advisors.js';
import type { CallLogEntry, CallOutcome, StandinConfig, StepKind } from '../../services/local/bedrock/standin.types.js';
import type { AnyRequest, AnyResponse } from '../../services/local/bedrock/wire.js';
import { nowMs } from './stats.js';

/** A streamed text chunk as it left the server: `end` = characters of the answer sent so far. */
export interface Emission {
  end: number;
  at: number;
}

/** One model call with its real start and end (epoch ms, sub-ms resolution). */
export interface TimedCall {
  jobId: string;
  step: string;
  attempt: number;
  kind: StepKind;
  modelId: string;
  outcome: CallOutcome;
  outputTokens: number;
  startedAt: number;
  finishedAt?: number;
  emissions: Emission[];
  /** The call was a repair of an unusable answer. */
  repair?: boolean;
  /** The misbehaviour the stand-in answered with (bad day). */
  misbehaviour?: string;
}

export interface TimedBedrock {
  /** Endpoint for AWS_ENDPOINT_URL_BEDROCK_RUNTIME. */
  url: string;
  /** Texts the matching calls answer instead of the simulation (the stand-in's POST /replies, in process). */
  replies: ReplyBook;
  /** The calls made for a job, in arrival order. */
  callsOf(jobId: string): TimedCall[];
  /** Turns the bad-day switch on (a share of calls misbehave, from fixtures/misbehaviour) or off (null). */
  setBadDay(badDay: StandinConfig['badDay']): void;
  close(): Promise<void>;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** The call being served in the current async context. */
interface Exchange {
  call?: TimedCall;
}

/** The stand-in's call log, also noting each call's real start and end. */
class TimedCallLog extends CallLog {
  readonly byJob = new Map<string, TimedCall[]>();

  constructor(private readonly exchanges: AsyncLocalStorage<Exchange>) {
    super();
  }

  override start(call: Omit<CallLogEntry, 'seq' | 'at' | 'outcome' | 'outputTokens'>): CallLogEntry {
    const entry = super.start(call);
    const exchange = this.exchanges.getStore();
    const jobId = call.requestMetadata.jobId;
    if (exchange && jobId) {
      exchange.call = {
        jobId,
        step: call.requestMetadata.step ?? '?',
        attempt: Number(call.requestMetadata.attempt ?? 1),
        kind: call.kind,
        modelId: call.modelId,
        outcome: 'pending',
        outputTokens: 0,
        startedAt: nowMs(),
        emissions: [],
      };
      const calls = this.byJob.get(jobId) ?? [];
      calls.push(exchange.call);
      this.byJob.set(jobId, calls);
    }
    return entry;
  }

  override finish(entry: CallLogEntry, outcome: Exclude<CallOutcome, 'pending'>, outputTokens: number, error?: string): void {
    super.finish(entry, outcome, outputTokens, error);
    const call = this.exchanges.getStore()?.call;
    if (call) Object.assign(call, { finishedAt: nowMs(), outcome, outputTokens, repair: entry.repair, misbehaviour: entry.misbehaviour });
  }
}

/** Starts the instrumented stand-in on 127.0.0.1 (ephemeral port) with fixed token timing. */
export async function startTimedBedrock(config: StandinConfig): Promise<TimedBedrock> {
  const exchanges = new AsyncLocalStorage<Exchange>();
  const calls = new TimedCallLog(exchanges);
  const closing = new AbortController();
  const replies = new ReplyBook();
  const live = { ...config };
  const handle = createModelHandler({
    config: live,
    calls,
    faults: new FaultBook(),
    replies,
    advisors: new SimulatedAdvisors(loadTextBanks()),
    recordings: new RecordingBook(loadRecordings()),
    misbehaviours: new Map(loadMisbehaviours().map((c) => [c.id, c])),
    closing: closing.signal,
  });
  const probed = (req: AnyRequest, res: AnyResponse): void => {
    const exchange: Exchange = {};
    recordEmissions(res, exchange);
    exchanges.run(exchange, () => handle(req, res));
  };

  const front = createModelFront(probed);
  const port = await listen(front, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    replies,
    callsOf: (jobId) => calls.byJob.get(jobId) ?? [],
    setBadDay: (badDay) => void (live.badDay = badDay),
    async close() {
      closing.abort(new Error('the bench is over'));
      front.destroyConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}

/** Wraps `res.write` to stamp every contentBlockDelta frame with the time it was written. */
function recordEmissions(res: AnyResponse, exchange: Exchange): void {
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  let sent = 0;
  (res as { write: typeof write }).write = (chunk, ...rest) => {
    const call = exchange.call;
    if (call && chunk instanceof Uint8Array) {
      const text = deltaText(chunk);
      if (text !== undefined) {
        sent += text.length;
        call.emissions.push({ end: sent, at: nowMs() });
      }
    }
    return write(chunk, ...rest);
  };
}

/** The text of a contentBlockDelta event-stream frame; undefined for any other frame. */
function deltaText(frame: Uint8Array): string | undefined {
  try {
    const message = codec.decode(frame);
    if (message.headers[':event-type']?.value !== 'contentBlockDelta') return undefined;
    // A tool call's input fragments stream to clients like text (the worker passes both on).
    const payload = JSON.parse(toUtf8(message.body)) as { delta?: { text?: string; toolUse?: { input?: string } } };
    return payload.delta?.text ?? payload.delta?.toolUse?.input ?? '';
  } catch {
    return undefined;
  }
}
