/** The CLI's typed errors; ask.ts turns them into a message on stderr and an exit code. */
import { NamedError } from '../shared/errors.js';

/** The command line is wrong (exit 2): the message says what to type instead. */
export class UsageError extends NamedError {}

/** The request could not be done (exit 1): no stack, sign-in failed, the API refused. */
export class CliError extends NamedError {}

/** The API answered with an error body `{error:{code,message}}`. */
export class ApiRefusedError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
