/**
 * Structured JSON logs (pino) with secrets redacted: tokens, authorization headers and
 * credentials never reach a log line, whatever a caller passes in. Each line also carries
 * the log context of the work it belongs to (job id, step, attempt, trace id: see
 * telemetry/log-context.ts); fields the call passes win.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { logContext } from './telemetry/log-context.js';

export type { Logger } from 'pino';

const REDACT = [
  'token',
  'accessToken',
  'authorization',
  '*.token',
  '*.accessToken',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'query.token',
  '*.secretAccessKey',
  '*.sessionToken',
];

/** A logger for one service; `level` from config (COT_LOG_LEVEL); lines go to stdout unless a destination is given (tests). */
export function createLogger(service: string, level = 'info', destination?: DestinationStream): Logger {
  const options = {
    name: service,
    level,
    base: { service, pid: process.pid },
    redact: { paths: REDACT, censor: '[redacted]' },
    mixin: logContext,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that writes nothing, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
