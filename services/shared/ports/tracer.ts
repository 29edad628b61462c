/**
 * Distributed tracing (AWS X-Ray in AWS): one segment per unit of work (an HTTP request, a
 * job run), subsegments for the calls it makes. A job is one trace: POST /chat starts it,
 * its SQS message carries the trace header, and every worker run of the job continues it.
 * Nothing here is X-Ray's: an OpenTelemetry adapter could implement it unchanged (header =
 * the propagated context, segment = root or remote-parented span, subsegment = child span).
 * Off by default (COT_TRACING).
 */

/** Indexed key/values to search traces by. Never personal data, tokens or other secrets. */
export type Annotations = Record<string, string | number | boolean>;

/**
 * Where a trace continues elsewhere, as one opaque string (X-Ray: `Root=…;Parent=…;Sampled=…`,
 * carried on SQS as the AWSTraceHeader message system attribute). It holds the sampling decision.
 */
export type TraceHeader = string;

/** An open segment or subsegment. */
export interface Span {
  /** The id of the trace it belongs to; empty when nothing is traced. */
  readonly traceId: string;
  annotate(annotations: Annotations): void;
  /** Marks the span failed: `error` for the caller's mistake (4xx), `fault` for ours (5xx), `throttle` when rate-limited. */
  flag(kind: 'error' | 'fault' | 'throttle'): void;
  /** Records a finished child that ran from `startMs` to `endMs` (epoch ms), e.g. a stage known only once it ended. */
  record(name: string, startMs: number, endMs: number, annotations?: Annotations): void;
}

export interface SegmentOptions {
  /** Continue the trace of this header (its sampling decision included) instead of starting one. */
  parent?: TraceHeader;
  /** A new trace's sampling rules match on this (e.g. every POST /chat is traced). Without it, and without a parent, the segment is always traced. */
  request?: { method: string; path: string };
  /**
   * Long-running work that may die mid-way (a job run): the segment is sent as in progress
   * when it starts, and finished subsegments are sent as they end, so whatever a killed
   * process did before it died is still in the trace.
   */
  live?: boolean;
}

/** What a span does when nothing is traced: nothing. */
export const NOOP_SPAN: Span = { traceId: '', annotate: () => {}, flag: () => {}, record: () => {} };

/** Runs everything untraced (tracing off). */
export const NO_TRACER: Tracer = {
  segment: (_name, fn) => fn(NOOP_SPAN),
  subsegment: (_name, fn) => fn(NOOP_SPAN),
  annotate: () => {},
};

export interface Tracer {
  /**
   * Starts a segment and runs `fn` in it: AWS SDK calls and subsegments that `fn` starts,
   * also from the promises, timers and callbacks it schedules, attach to it. The segment
   * closes when the returned promise settles (a rejection is recorded on it); a synchronous
   * throw from `fn` closes it and is rethrown as it is.
   */
  segment<T>(name: string, fn: (span: Span) => Promise<T>, options?: SegmentOptions): Promise<T>;
  /** Like `segment`, for a subsegment of the current (sub)segment; with none current, just runs `fn`. */
  subsegment<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T>;
  /** Adds annotations to the current (sub)segment; nothing outside any. */
  annotate(annotations: Annotations): void;
}
