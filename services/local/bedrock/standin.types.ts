/**
 * The Bedrock stand-in's control-plane contract: call log entries, faults, scripted
 * replies and timing config, shared by the server and the typed control client used in tests.
 */
import { z } from 'zod';

export type StepKind = 'advise' | 'review' | 'synthesize';
export type Operation = 'Converse' | 'ConverseStream';
/** `pending` while the call is still in flight; `blocked`: a guardrail or content filter stopped the answer. */
export type CallOutcome = 'pending' | 'ok' | 'blocked' | 'throttled' | 'error' | 'timeout' | 'midstream-error' | 'aborted';

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
  /** The misbehaviour case the answer was turned into (armed, or drawn on a bad day). */
  misbehaviour?: string;
  /** The prompt was a repair: it quoted an earlier unusable reply. */
  repair?: boolean;
  /** The request offered a tool (a review by tool use). */
  tool?: boolean;
  /** The stop reason sent, for calls that answered. */
  stopReason?: string;
}

/**
 * `timeout` hangs before answering until the caller gives up; `midstream` streams about a
 * third of the answer, then a ModelStreamErrorException; `stall` streams that third, then
 * hangs until the caller goes away (a call in flight, for cancel tests; logged `aborted`);
 * `misbehave` answers, but the way a model on a bad day does (fixtures/misbehaviour, by `case`).
 */
export const faultTypes = ['throttle', 'unavailable', 'internal', 'timeout', 'midstream', 'stall', 'misbehave'] as const;
export type FaultType = (typeof faultTypes)[number];

/** Which calls a fault or a scripted reply applies to: every given field must match. */
const callMatchSchema = z
  .object({
    modelId: z.string().min(1).optional(),
    jobId: z.string().min(1).optional(),
    step: z.string().min(1).optional(),
    kind: z.enum(['advise', 'review', 'synthesize']).optional(),
    /** Text the call's question contains (case and runs of whitespace ignored): arm it before the job exists (a test that asks through a UI knows no job id yet). */
    question: z.string().min(1).max(1000).optional(),
  })
  .default({});
export type CallMatch = z.output<typeof callMatchSchema>;

/** How many matching calls it applies to; -1 = every one until reset. */
const timesSchema = z.number().int().min(-1).default(1);

export const faultSchema = z
  .object({
    match: callMatchSchema,
    type: z.enum(faultTypes),
    /** The misbehaviour case of a `misbehave` fault. */
    case: z.string().regex(/^[a-z0-9-]+$/).optional(),
    times: timesSchema,
  })
  .refine((f) => (f.type === 'misbehave') === (f.case !== undefined), { message: 'a misbehave fault names a case, and only it does', path: ['case'] });

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

export const badDaySchema = z.object({
  /** Share of calls (not repairs) that misbehave, 0…1. */
  rate: z.number().min(0).max(1),
  /** Changes which calls misbehave and how, for the same jobs. */
  seed: z.string().max(100).default('bad-day'),
});

export const configSchema = z.object({
  tokenDelayMs: z.number().min(0).max(60_000).optional(),
  firstTokenDelayMs: z.number().min(0).max(600_000).optional(),
  /** The bad-day switch: null (or rate 0) turns it off. */
  badDay: badDaySchema.nullable().optional(),
});

export type BadDay = z.infer<typeof badDaySchema>;

export interface StandinConfig {
  /** Delay between streamed tokens. */
  tokenDelayMs: number;
  /** Delay before the first token (time to first token). */
  firstTokenDelayMs: number;
  /** When set, the simulated advisors misbehave on a share of calls, drawn from fixtures/misbehaviour. */
  badDay: BadDay | null;
}
