/** Typed errors of the local stack launcher. */

/** Java 17 (needed by DynamoDB Local) is not installed or not on PATH. */
export class JavaMissingError extends Error {
  override name = 'JavaMissingError';
  constructor(options?: ErrorOptions) {
    super(
      'Java 17 is needed to run DynamoDB Local but `java` was not found on PATH.\n' +
        'Install it, e.g. on Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless\n' +
        '(or point AWS_ENDPOINT_URL_DYNAMODB at another DynamoDB and the stack will not start its own).',
      options,
    );
  }
}

/** A stand-in or service process did not become ready (it exited, or it timed out). */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** A local-stack environment variable is invalid. */
export class LocalConfigError extends Error {
  override name = 'LocalConfigError';
}
