/**
 * The Bedrock stand-in's own model handler (services/local/bedrock), served in the
 * driver's process with model faults drawn from the run's seed instead of armed by hand:
 * throttling, 5xx (unavailable, internal), a stream cut off mid-answer, and a slow first
 * token. The call log is the stand-in's own, read in process at the end of the run.
 *
 * The stack treats it as an external Bedrock endpoint (AWS_ENDPOINT_URL_BEDROCK_RUNTIME).
 */
import { loadMisbehaviours } from '../../../services/local/bedrock/misbehaviour.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CallLog } from '../../../services/local/bedrock/call-log.js';
import { FaultBook, ReplyBook, type CallTarget } from '../../../services/local/bedrock/fault-book.js';
import { createModelHandler } from '../../../services/local/bedrock/model-api.js';
import { RecordingBook, loadRecordings } from '../../../services/local/bedrock/recordings.js';
import { createModelFront } from '../../../services/local/bedrock/server.js';
import { SimulatedAdvisors, loadTextBanks } from '../../../services/local/bedrock/simulated-advisors.js';
import type { ArmedFault, StandinConfig } from '../../../services/local/bedrock/standin.types.js';
import type { AnyRequest, AnyResponse } from '../../../services/local/bedrock/wire.js';
import { listen } from '../../../services/shared/net.js';
import type { Rng } from './rng.js';

/** The model faults a run injects, by the stand-in's fault type, plus `slow-first-token`. */
export const MODEL_FAULTS = ['throttle', 'unavailable', 'internal', 'midstream', 'slow-first-token'] as const;
export type ModelFault = (typeof MODEL_FAULTS)[number];

export interface ChaosBedrockOptions {
  config: StandinConfig;
  rng: Rng;
  /** Share of model calls that get a fault. */
  faultRate: number;
  /** How much longer than usual a slow first token takes, in ms: [min, max). */
  slowFirstTokenMs: readonly [number, number];
  /** Faults stop being drawn once this returns false. */
  active(): boolean;
}

export interface ChaosBedrock {
  url: string;
  calls: CallLog;
  /** Faults injected so far, by kind. */
  injected: Record<ModelFault, number>;
  close(): Promise<void>;
}

/** What the front decided for the request being served (an async context per request). */
interface Drawn {
  fault?: StandinFault;
  /** When the request reached the front, before a slow first token held it. */
  arrivedAt: number;
}

/** Hands the fault drawn for the call being served to the stand-in. */
class DrawnFaults extends FaultBook {
  constructor(private readonly drawn: AsyncLocalStorage<Drawn>) {
    super();
  }

  override take(call: CallTarget): ArmedFault | undefined {
    const type = call.jobId ? this.drawn.getStore()?.fault : undefined;
    return type ? { match: {}, type, times: 1 } : undefined;
  }
}

/**
 * Logs a call as arriving when it reached the front: a worker stopped or killed while its call
 * was held for a slow first token had already made that call (the history checker relies on it).
 */
class ArrivalCallLog extends CallLog {
  constructor(private readonly drawn: AsyncLocalStorage<Drawn>) {
    super();
  }

  override start(call: Parameters<CallLog['start']>[0], at = this.drawn.getStore()?.arrivedAt): ReturnType<CallLog['start']> {
    return super.start(call, at);
  }
}

type StandinFault = Exclude<ModelFault, 'slow-first-token'>;

export async function startChaosBedrock(opts: ChaosBedrockOptions): Promise<ChaosBedrock> {
  const injected = Object.fromEntries(MODEL_FAULTS.map((k) => [k, 0])) as Record<ModelFault, number>;
  const { rng } = opts;
  const drawn = new AsyncLocalStorage<Drawn>();
  const calls = new ArrivalCallLog(drawn);
  const closing = new AbortController();
  const handle = createModelHandler({
    config: { ...opts.config },
    calls,
    faults: new DrawnFaults(drawn),
    replies: new ReplyBook(),
    advisors: new SimulatedAdvisors(loadTextBanks()),
    recordings: new RecordingBook(loadRecordings()),
    misbehaviours: new Map(loadMisbehaviours().map((c) => [c.id, c])),
    closing: closing.signal,
  });
  const front = createModelFront((req: AnyRequest, res: AnyResponse) => {
    const arrivedAt = Date.now();
    const kind = opts.active() && rng.chance(opts.faultRate) ? rng.pick(MODEL_FAULTS) : undefined;
    if (kind) injected[kind]++;
    if (kind !== 'slow-first-token') return drawn.run({ fault: kind, arrivedAt }, () => handle(req, res));
    // Held before the stand-in sees it: the caller waits this much longer for its first byte.
    void sleep(rng.between(...opts.slowFirstTokenMs), undefined, { signal: closing.signal })
      .then(() => drawn.run({ arrivedAt }, () => handle(req, res)))
      .catch(() => res.destroy());
  });
  const port = await listen(front, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    injected,
    async close() {
      closing.abort(new Error('the chaos run is over'));
      front.destroyConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
