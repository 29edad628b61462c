/** A worker run in progress, as telemetry tracks it (shared by WorkerTelemetry and the observed model client). */
import type { JobItem } from '../../shared/contracts/job.js';
import type { Span } from '../../shared/ports/index.js';
import type { RunRecorder } from './run-recorder.js';

/** A run in progress on this worker. */
export interface ActiveRun {
  job: JobItem;
  epoch: number;
  /** Epoch ms the run took the lease. */
  startedAt: number;
  span: Span;
  recorder: RunRecorder;
  /** The stage being timed for its trace subsegment. */
  stage?: { name: string; since: number };
}
