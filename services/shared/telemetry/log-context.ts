/**
 * Fields every log line written in a unit of work carries without each call passing them:
 * the job a worker run or an API request is about, the step and attempt of a model call,
 * the trace id. Kept in an AsyncLocalStorage, so whatever the unit of work starts (promises,
 * timers, callbacks) logs with them; services/shared/logging.ts mixes them into each line.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Span, Tracer } from '../ports/tracer.js';

export type LogFields = Record<string, string | number>;

const storage = new AsyncLocalStorage<LogFields>();

/** Runs `fn` with the current fields plus `fields` (a new scope: the caller's fields do not change). */
export function withLogContext<T>(fields: LogFields, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...fields }, fn);
}

/**
 * Runs `fn` with `fields` added to the current scope, so they stay for the rest of the
 * caller's unit of work too (a worker's lines about a message name the job it woke); outside
 * any scope, in a new one.
 */
export function joinLogContext<T>(fields: LogFields, fn: () => T): T {
  const store = storage.getStore();
  if (!store) return storage.run({ ...fields }, fn);
  Object.assign(store, fields);
  return fn();
}

/** Adds fields to the current scope (e.g. the job id once a request has created it); nothing outside any. */
export function addToLogContext(fields: LogFields): void {
  const store = storage.getStore();
  if (store) Object.assign(store, fields);
}

/** The current scope's fields (a copy), for the logger's mixin. */
export function logContext(): LogFields {
  return { ...storage.getStore() };
}

/**
 * The tracer with each segment's trace id added to the log context current where the
 * segment starts, so the lines of that request or run name their trace, also lines written
 * after the segment closed (e.g. the API's access log).
 */
export function logCorrelated(tracer: Tracer): Tracer {
  const note = (span: Span) => {
    if (span.traceId) addToLogContext({ traceId: span.traceId });
  };
  return {
    segment: (name, fn, options) => tracer.segment(name, (span) => (note(span), fn(span)), options),
    subsegment: (name, fn) => tracer.subsegment(name, fn),
    annotate: (annotations) => tracer.annotate(annotations),
  };
}
