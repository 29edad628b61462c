/** Test harness: local AWS stand-ins, the whole local stack, an HTTP client and tokens. */
export { startAwsLocal, type AwsLocal, type AwsLocalOptions } from './aws-local.js';
export {
  startTestStack,
  withLocalStack,
  tokenFor,
  TEST_SERVICE_ENV,
  TEST_BEDROCK_TIMING,
  type TestStack,
  type TestStackOptions,
  type LocalStackFixture,
} from './local-stack.js';
export { apiClient, type ApiClient, type ApiErrorBody, type HttpResponse, type RequestOptions } from './http-client.js';
export { isolatedBaseEnv, uniqueSuffix } from './isolation.js';
export { processAlive, waitUntilGone } from './processes.js';
export type { WorkerProcess } from '../../services/local/stack.js';
export {
  withBrowser,
  launchBrowser,
  newUserContext,
  signInAs,
  confirmSignOut,
  saveScreenshot,
  axeViolations,
  pageProblems,
  ARTIFACTS_DIR,
  AXE_TAGS,
  VIEWPORTS,
  type BrowserFixture,
  type UserContextOptions,
} from './browser.js';
export { createPlaceholderWebApp, type PlaceholderWebApp } from './placeholder-web-app.js';
