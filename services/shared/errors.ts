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

/** The WebSocket connection is gone (API Gateway GoneException). */
export class GoneError extends NamedError {
  constructor(readonly connectionId: string, options?: ErrorOptions) {
    super(`connection ${connectionId} is gone`, options);
  }
}

/** The push was throttled (API Gateway LimitExceededException, 429): back off and try again. */
export class PushThrottledError extends NamedError {
  constructor(readonly connectionId: string, options?: ErrorOptions) {
    super(`push to connection ${connectionId} was throttled`, options);
  }
}

/** A push failed for another reason; `errorName` is the AWS error name (e.g. PayloadTooLargeException). */
export class PushFailedError extends NamedError {
  constructor(readonly connectionId: string, readonly errorName: string, options?: ErrorOptions) {
    super(`push to connection ${connectionId} failed: ${errorName}`, options);
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
