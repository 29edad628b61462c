/**
 * Ports: what the services need from the outside world. AWS adapters live in
 * ../adapters/aws; pure unit tests may use in-memory ones.
 */
export type * from './job-store.js';
export type * from './snapshot-store.js';
export type * from './result-store.js';
export type * from './job-queue.js';
export type * from './model-client.js';
export type * from './push-gateway.js';
export type * from './connection-store.js';
export type * from './clock.js';
export type * from './tracer.js';
export type * from './metrics.js';
export type * from './run-record-store.js';
