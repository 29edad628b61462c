/**
 * Everything the web app takes from outside web/: the shared contracts (types, names and
 * the pure client side of the live protocol). Nothing else in services/ may be imported.
 */
export type * from '../../services/shared/contracts/job.js';
export type * from '../../services/shared/contracts/api.js';
export type * from '../../services/shared/contracts/ws.js';
export type * from '../../services/shared/contracts/web-config.js';
export type * from '../../services/shared/contracts/timeline.js';
export { isTerminal, isUnfinishedStep, MODES } from '../../services/shared/contracts/job.js';
export { WEB_CONFIG_PATH } from '../../services/shared/contracts/web-config.js';
export * from '../../services/shared/contracts/ws-client.js';
