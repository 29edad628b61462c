/** The CLI's typed errors; ask.ts turns them into a message on stderr and an exit code. */

/** The command line is wrong (exit 2): the message says what to type instead. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The request could not be done (exit 1): no stack, sign-in failed, the API refused. */
export class CliError extends Error {
  override name = 'CliError';
}

/** The API answered with an error body `{error:{code,message}}`. */
export class ApiRefusedError extends CliError {
  override name = 'ApiRefusedError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
