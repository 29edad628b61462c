/**
 * Traces and metrics of the local stack without AWS: an X-Ray daemon stand-in on a UDP port
 * (the services send segments there, as to the ECS sidecar) writing every document to
 * `traces.jsonl`, and the services' EMF lines appended to `metrics.jsonl`, as a CloudWatch
 * agent would tail them. `npm start` keeps both in `.local/`; test stacks in a temporary
 * directory removed when they stop.
 *
 * A variable already set in the environment wins, like the AWS endpoint variables:
 * COT_TRACING=off turns tracing off, AWS_XRAY_DAEMON_ADDRESS points at a real daemon (then
 * none is started and sampling stays centralized), COT_METRICS / COT_METRICS_FILE as given.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ENV } from '../shared/contracts/names.js';
import { startXRayDaemon, type XRayDaemonStandin } from './xray-daemon.js';
import type { Env } from './aws-standins.js';

export const XRAY_DAEMON_ADDRESS_ENV = 'AWS_XRAY_DAEMON_ADDRESS';
export const TRACES_FILE_NAME = 'traces.jsonl';
export const METRICS_FILE_NAME = 'metrics.jsonl';

export interface LocalTelemetry {
  /** Segment documents, one JSON line each (absent when a real daemon is used). */
  tracesFile?: string;
  /** EMF lines, one per line (absent when COT_METRICS_FILE points elsewhere or metrics are off). */
  metricsFile?: string;
  /** What the services need: COT_TRACING, AWS_XRAY_DAEMON_ADDRESS, COT_TRACING_SAMPLING, COT_METRICS_FILE. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** `dir`: keep the files there (npm start); without it, in a temporary directory. */
export async function startLocalTelemetry(opts: { dir?: string; baseEnv: Env }): Promise<LocalTelemetry> {
  const { baseEnv } = opts;
  const temporary = !opts.dir;
  const dir = opts.dir ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'cot-telemetry-'));
  await mkdir(dir, { recursive: true });
  const env: Record<string, string> = {};
  let daemon: XRayDaemonStandin | undefined;
  let tracesFile: string | undefined;
  let metricsFile: string | undefined;

  if (baseEnv[ENV.tracing] === undefined) env[ENV.tracing] = 'on';
  if (!baseEnv[XRAY_DAEMON_ADDRESS_ENV]) {
    tracesFile = join(dir, TRACES_FILE_NAME);
    daemon = await startXRayDaemon({ file: tracesFile });
    env[XRAY_DAEMON_ADDRESS_ENV] = daemon.address;
    // Our stand-in serves no sampling rules: the services apply the deployed ones locally.
    if (baseEnv[ENV.tracingSampling] === undefined) env[ENV.tracingSampling] = 'local';
  }
  if (baseEnv[ENV.metricsFile] === undefined && baseEnv[ENV.metrics] !== 'off') {
    metricsFile = join(dir, METRICS_FILE_NAME);
    env[ENV.metricsFile] = metricsFile;
  }
  return {
    tracesFile,
    metricsFile,
    env,
    close: async () => {
      await daemon?.close();
      if (temporary) await rm(dir, { recursive: true, force: true });
    },
  };
}
