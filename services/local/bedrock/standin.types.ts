/**
 * The Bedrock stand-in's control-plane contract: call log entries, faults, scripted
 * replies and timing config, shared by the server and the typed control client used in tests.
 */
import { z } from 'zod';

export type StepKind = 'advise' | 'review' | 'synthesize';
export type Operation = 'Converse' | 'ConverseStream';
/** `pending` while the call is still in flight. */
export type CallOutcome = 'pending' | 'ok' | 'throttled' | 'error' | 'timeout' | 'midstream-error' | 'aborted';

/** One model call as the stand-in saw it. */
export interface CallLogEntry {
  /** 1-based, in order of arrival. */
  seq: number;
  /** Epoch ms of arrival. */
  at: number;
  /** Epoch ms when the call ended, however it ended (absent while pending); for an abort, when the caller went away. */
  endedAt?: number;
  modelId: string;
  operation: Operation;
  /** The Converse `requestMetadata` field (the worker sends {jobId, step, attempt, worker}). */
  requestMetadata: Record<string, string>;
  kind: StepKind;
  outcome: CallOutcome;
  /** The exception name returned for throttled, error and midstream-error outcomes. */
  error?: string;
  inputTokens: number;
  outputTokens: number;
  /** Set when the answer came from a recording in fixtures/recorded. */
  recording?: string;
}

/**
 * `timeout` hangs before answering until the caller gives up; `midstream` streams about a
 * third of the answer, then a ModelStreamErrorException; `stall` streams that third, then
 * hangs until the caller goes away (a call in flight, for cancel tests; logged `aborted`).
 */
export const faultTypes = ['throttle', 'unavailable', 'internal', 'timeout', 'midstream', 'stall'] as const;
export type FaultType = (typeof faultTypes)[number];

/** Which calls a fault or a scripted reply applies to: every given field must match. */
const callMatchSchema = z
  .object({
    modelId: z.string().min(1).optional(),
    jobId: z.string().min(1).optional(),
    step: z.string().min(1).optional(),
    kind: z.enum(['advise', 'review', 'synthesize']).optional(),
    /** Text the call's question contains (case and runs of whitespace ignored): a test that asks through a UI knows no job id yet. */
    question: z.string().min(1).max(1000).optional(),
  })
  .default({});
export type CallMatch = z.output<typeof callMatchSchema>;

/** How many matching calls it applies to; -1 = every one until reset. */
const timesSchema = z.number().int().min(-1).default(1);

export const faultSchema = z.object({
  match: callMatchSchema,
  type: z.enum(faultTypes),
  times: timesSchema,
});

/** A fault to inject: the next `times` calls matching every given field fail as `type`. */
export type Fault = z.input<typeof faultSchema>;
export type ArmedFault = z.output<typeof faultSchema>;

export const scriptedReplySchema = z.object({
  match: callMatchSchema,
  /** The whole answer, streamed word by word at the configured pace. */
  text: z.string().min(1).max(32_000),
  times: timesSchema,
});

/** A reply to script: the next `times` calls matching every given field answer `text` instead of the simulation. */
export type ScriptedReply = z.input<typeof scriptedReplySchema>;
export type ArmedReply = z.output<typeof scriptedReplySchema>;

export const configSchema = z.object({
  tokenDelayMs: z.number().min(0).max(60_000).optional(),
  firstTokenDelayMs: z.number().min(0).max(600_000).optional(),
});

export interface StandinConfig {
  /** Delay between streamed tokens. */
  tokenDelayMs: number;
  /** Delay before the first token (time to first token). */
  firstTokenDelayMs: number;
}
