/**
 * Distributed tracing (AWS X-Ray in AWS): one segment per unit of work (an HTTP request, a
 * job run), subsegments for the calls it makes. Off by default (COT_TRACING).
 */

/** Indexed key/values to search traces by. Never personal data, tokens or other secrets. */
export type Annotations = Record<string, string | number | boolean>;

/** An open segment or subsegment. */
export interface Span {
  annotate(annotations: Annotations): void;
  /** Marks the span failed: `error` for the caller's mistake (4xx), `fault` for ours (5xx), `throttle` when rate-limited. */
  flag(kind: 'error' | 'fault' | 'throttle'): void;
}

export interface Tracer {
  /**
   * Starts a segment (a new trace) and runs `fn` in it: AWS SDK calls and subsegments that
   * `fn` starts, also from the promises, timers and callbacks it schedules, attach to it.
   * The segment closes when the returned promise settles (a rejection is recorded on it);
   * a synchronous throw from `fn` closes it and is rethrown as it is.
   */
  segment<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T>;
  /** Like `segment`, for a subsegment of the current (sub)segment; with none current, just runs `fn`. */
  subsegment<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T>;
}
