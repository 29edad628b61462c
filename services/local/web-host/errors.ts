/** Typed errors of the local web host. */

/** The web app could not be built (Vite failed); the message carries the end of its output. */
export class WebBuildError extends Error {
  override name = 'WebBuildError';
}

/** Another process holds the build lock for longer than we are prepared to wait. */
export class WebBuildLockTimeoutError extends Error {
  override name = 'WebBuildLockTimeoutError';
}
