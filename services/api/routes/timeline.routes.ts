/** GET /jobs/{id}/timeline: what happened when in the caller's own job (404 for anyone else's). */
import type { JobItem } from '../../shared/contracts/job.js';
import type { JobStore, RunRecordStore, SnapshotStore } from '../../shared/ports/index.js';
import { addToLogContext } from '../../shared/telemetry/log-context.js';
import { buildTimeline } from '../../shared/timeline.js';
import { callerOf, type RoutedContext } from '../middleware/context.js';
import { parseJobId } from '../schemas/jobs.schema.js';
import { ownJob } from './jobs.routes.js';

export interface TimelineRouteDeps {
  jobs: JobStore;
  snapshots: Pick<SnapshotStore, 'transitionsAfter'>;
  /** Without it the timeline holds only what the Transitions table does (no model calls, leases, pushes). */
  runs?: RunRecordStore;
}

export function getTimeline(deps: TimelineRouteDeps): (ctx: RoutedContext) => Promise<void> {
  return async function getTimeline(ctx: RoutedContext) {
    const jobId = parseJobId(ctx.params.id);
    const job: JobItem = ownJob(await deps.jobs.get(jobId), callerOf(ctx).sub);
    addToLogContext({ jobId });
    const [transitions, runs] = await Promise.all([deps.snapshots.transitionsAfter(jobId, 0), deps.runs?.list(jobId) ?? []]);
    ctx.body = buildTimeline({ job, transitions, runs });
  };
}
