/** Typed errors of the machines module (machines import only xstate, so they live here). */

/**
 * A persisted snapshot this code cannot restore: an unknown machine version or a snapshot
 * that does not fit the machine. Restoring must stop here, never continue silently.
 */
export class IncompatibleSnapshotError extends Error {
  override name = 'IncompatibleSnapshotError';
  constructor(
    message: string,
    readonly machineVersion: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The machine was asked to run a job it cannot describe (e.g. bad advisor ids). */
export class AdvisoryInputError extends Error {
  override name = 'AdvisoryInputError';
}
