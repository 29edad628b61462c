/**
 * POST /jobs/{id}/redrive: runs a failed job again, as Step Functions redrives an execution.
 * Only the owner may, and only while the job is failed; the steps that succeeded are kept
 * and never called again (machines/advisory.redrive.ts). The store's conditional write makes
 * the job queued again and moves the State item's version on in one transaction, so two
 * redrives (or a redrive and anything else) can never run the job twice.
 */
import type { RedriveAccepted } from '../../shared/contracts/api.js';
import type { Logger } from '../../shared/logging.js';
import type { JobQueue, JobStore, SnapshotStore } from '../../shared/ports/index.js';
import { addToLogContext } from '../../shared/telemetry/log-context.js';
import { JobNotFailedError } from '../errors.js';
import { callerOf, type RoutedContext } from '../middleware/context.js';
import { parseJobId } from '../schemas/jobs.schema.js';
import { enqueueJob } from './chat.routes.js';
import { ownJob } from './jobs.routes.js';

export interface RedriveRouteDeps {
  jobs: JobStore;
  snapshots: Pick<SnapshotStore, 'requestRedrive'>;
  queue: JobQueue;
  logger: Logger;
  now: () => number;
}

export const REDRIVE_ENQUEUE_FAILED_REASON = 'The job could not be queued to run again; please redrive it again.';

export function redriveJob(deps: RedriveRouteDeps): (ctx: RoutedContext) => Promise<void> {
  return async function redriveJob(ctx: RoutedContext) {
    const jobId = parseJobId(ctx.params.id);
    const job = ownJob(await deps.jobs.get(jobId), callerOf(ctx).sub);
    addToLogContext({ jobId });
    if (job.status !== 'failed') throw new JobNotFailedError(job.status);
    const result = await deps.snapshots.requestRedrive({ jobId, at: deps.now(), expiresAt: job.expiresAt });
    if (result.kind === 'not-failed') throw new JobNotFailedError(result.status);
    await enqueueJob(deps, jobId, ctx.state.requestId, REDRIVE_ENQUEUE_FAILED_REASON);
    deps.logger.info({ jobId, seq: result.transition.seq }, 'job redriven');
    ctx.status = 202;
    ctx.body = { jobId, status: 'queued' } satisfies RedriveAccepted;
  };
}
