/**
 * Tracing as configured (COT_TRACING). Off (the default): nothing of X-Ray is loaded and
 * nothing runs. On: AWS X-Ray segments go over UDP, fire and forget, to the X-Ray daemon —
 * in AWS the ECS sidecar on 127.0.0.1:2000, locally the listener `npm start` runs there,
 * or AWS_XRAY_DAEMON_ADDRESS, which the X-Ray SDK reads itself (like AWS_ENDPOINT_URL for
 * the AWS SDK).
 *
 * Sampling (for segments that ask for it, i.e. API requests): `centralized` uses the rules
 * X-Ray serves (the CDK app deploys SAMPLING_RULES there), falling back to the same rules
 * locally while none are fetched; `local` never asks X-Ray (no daemon that proxies it).
 */
import type { Logger } from '../../logging.js';
import type { InstrumentClient } from '../../aws-clients.js';
import type { Tracer } from '../../ports/tracer.js';
import type { XRaySdk } from './xray-tracer.js';
import { SAMPLING_RULES, type SamplingRule } from '../../contracts/telemetry.js';

/** A tracer plus the hook aws-clients.ts passes every SDK client through. */
export interface Tracing {
  tracer: Tracer;
  instrument: InstrumentClient;
}

export type SamplingMode = 'centralized' | 'local';

export interface TracingOptions {
  enabled: boolean;
  logger: Logger;
  /** host:port of the daemon (tests); default the SDK's: AWS_XRAY_DAEMON_ADDRESS or 127.0.0.1:2000. */
  daemonAddress?: string;
  /** Default `centralized`. */
  sampling?: SamplingMode;
  /** The local rules (and the fallback of centralized sampling); default SAMPLING_RULES, as deployed. */
  samplingRules?: readonly SamplingRule[];
}

/** Tracing when `enabled`, else undefined. Loads the X-Ray SDK only when enabled. */
export async function createTracing(options: TracingOptions): Promise<Tracing | undefined> {
  if (!options.enabled) return undefined;
  // The SDK reads this once, when it loads: in automatic mode it would enable cls-hooked's
  // async hooks for the whole process, which no later call can switch off (see xray-tracer.ts).
  process.env.AWS_XRAY_MANUAL_MODE ??= '1';
  const [{ default: xray }, { XRayTracer }] = await Promise.all([import('aws-xray-sdk-core'), import('./xray-tracer.js')]);
  configureXRay(xray, options);
  const tracer = new XRayTracer(xray);
  return { tracer, instrument: (client) => tracer.instrument(client) };
}

function configureXRay(xray: XRaySdk, options: TracingOptions): void {
  // Our logger (redacting) at warn: the SDK's info and debug lines include every segment it sends.
  const log = options.logger.child({ component: 'xray' });
  const warn = (message: unknown, detail?: unknown) => log.warn(detail === undefined ? {} : { detail: String(detail) }, String(message));
  xray.setLogger({ error: warn, warn, info: () => {}, debug: () => {} });
  // Loaded earlier in automatic mode by someone else: at least keep its context unused.
  if (xray.isAutomaticMode()) xray.enableManualMode();
  if (options.daemonAddress) xray.setDaemonAddress(options.daemonAddress);
  if (options.sampling === 'local') xray.middleware.disableCentralizedSampling();
  xray.middleware.setSamplingRules(localSamplingRules(options.samplingRules ?? SAMPLING_RULES));
  // Marks segments as coming from an ECS container (the sidecar deployment in infra/).
  xray.config([xray.plugins.ECSPlugin]);
}

/** The shared rules in the SDK's local-rules format: the catch-all one becomes the default. */
export function localSamplingRules(rules: readonly SamplingRule[]) {
  const ordered = [...rules].sort((a, b) => a.priority - b.priority);
  const catchAll = ordered.find((r) => r.method === '*' && r.path === '*');
  return {
    version: 2,
    default: { fixed_target: catchAll?.reservoir ?? 1, rate: catchAll?.rate ?? 0.05 },
    rules: ordered
      .filter((r) => r !== catchAll)
      .map((r) => ({ description: r.name, host: '*', http_method: r.method, url_path: r.path, fixed_target: r.reservoir, rate: r.rate })),
  };
}
