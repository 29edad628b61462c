/** Typed errors shared by the services. Each is named after its class and passes `{ cause }` through. */

/** The base of every typed error here and in the services' own errors.ts: `name` is the class's name. */
export class NamedError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another worker owns the job now: the commit or heartbeat was rejected by its fencing condition. */
export class FencedError extends NamedError {
  constructor(readonly jobId: string, message = `lease on job ${jobId} is held by another worker`, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A cancel was requested before this finishing commit: the job must end `cancelled`, not
 * succeeded or failed. Raised by SnapshotStore.commit for a terminal commit of another status.
 */
export class CancelRequestedError extends NamedError {
  constructor(readonly jobId: string, readonly reason: string | undefined, options?: ErrorOptions) {
    super(`a cancel of job ${jobId} was requested before its final commit`, options);
  }
}

/**
 * A push to one WebSocket connection failed. The connection id is a capability (with it, a
 * caller of the management API can post to that client), so it is kept out of the message
 * and out of what a logger serialises: `connectionId` is not enumerable.
 */
export class PushError extends NamedError {
  declare readonly connectionId: string;
  constructor(connectionId: string, message: string, options?: ErrorOptions) {
    super(message, options);
    Object.defineProperty(this, 'connectionId', { value: connectionId, enumerable: false });
  }
}

/** The WebSocket connection is gone (API Gateway GoneException). */
export class GoneError extends PushError {
  constructor(connectionId: string, options?: ErrorOptions) {
    super(connectionId, 'the connection is gone', options);
  }
}

/** The push was throttled (API Gateway LimitExceededException, 429): back off and try again. */
export class PushThrottledError extends PushError {
  constructor(connectionId: string, options?: ErrorOptions) {
    super(connectionId, 'the push was throttled', options);
  }
}

/** A push failed for another reason; `errorName` is the AWS error name (e.g. PayloadTooLargeException). */
export class PushFailedError extends PushError {
  constructor(connectionId: string, readonly errorName: string, options?: ErrorOptions) {
    super(connectionId, `the push failed: ${errorName}`, options);
  }
}

/**
 * A model call failed. `errorName` is what Retry/Catch match on: the AWS error name
 * (ThrottlingException, ServiceUnavailableException, …) or a States.* name.
 */
export class ModelCallError extends NamedError {
  /** What the call consumed before it failed, when it got that far (estimated for a cut-off stream). */
  usage?: { inputTokens: number; outputTokens: number };
  constructor(readonly errorName: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Configuration is missing or invalid; raised at start-up, never later. */
export class ConfigError extends NamedError {}

/** A listing cursor that was not produced for this caller's listing (malformed or foreign). */
export class InvalidCursorError extends NamedError {}

/** A job id that already exists (create is insert-only). */
export class JobExistsError extends NamedError {}
