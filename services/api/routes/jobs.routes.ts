/** GET /jobs, GET /jobs/{id}, POST /jobs/{id}/cancel: always scoped to the caller's own jobs. */
import type { JobItem, JobView } from '../../shared/contracts/job.js';
import { isTerminal } from '../../shared/contracts/job.js';
import type { Circle } from '../../shared/circle/circle.js';
import { buildJobView, resultRefsOf, summaryOf } from '../../shared/job-view.js';
import type { JobStore, ResultStore, SnapshotStore } from '../../shared/ports/index.js';
import { JobFinishedError, NotFoundError } from '../errors.js';
import { callerOf, type ApiContext, type RoutedContext } from '../middleware/context.js';
import { parseJobId, parseListJobsQuery } from '../schemas/jobs.schema.js';

type Handler<C> = (ctx: C) => Promise<void>;

export interface JobsRouteDeps {
  jobs: JobStore;
  snapshots: SnapshotStore;
  results: ResultStore;
  circle: Circle;
}

export const USER_CANCEL_REASON = 'Cancelled at your request.';

/** The job if it exists and is the caller's; otherwise the same 404 either way (no existence oracle). */
export function ownJob(job: JobItem | undefined, owner: string): JobItem {
  if (!job || job.owner !== owner) throw new NotFoundError();
  return job;
}

/** GET /jobs: the caller's jobs, newest first, a page at a time. */
export function listJobs({ jobs }: Pick<JobsRouteDeps, 'jobs'>): Handler<ApiContext> {
  return async function listJobs(ctx: ApiContext) {
    const { limit, cursor } = parseListJobsQuery(ctx.query);
    const page = await jobs.listByOwner(callerOf(ctx).sub, limit, cursor);
    ctx.body = page.cursor ? { items: page.items.map(summaryOf), cursor: page.cursor } : { items: page.items.map(summaryOf) };
  };
}

/** The job's view if it is `owner`'s; NotFoundError otherwise. Shared by GET /jobs/{id} and WebSocket subscribe. */
export async function ownJobView({ jobs, snapshots, results, circle }: JobsRouteDeps, jobId: string, owner: string): Promise<{ job: JobItem; view: JobView }> {
  // Job first, then State: the worker commits both in one transaction, so a job read as
  // finished guarantees the State read after it sees the final snapshot. Reading them in
  // parallel could pair a finished status with the snapshot before it.
  const job = ownJob(await jobs.get(jobId), owner);
  const state = await snapshots.get(jobId);
  const refs = resultRefsOf(state);
  const items = refs.length === 0 ? [] : await results.getMany(jobId, refs);
  return { job, view: buildJobView({ job, state, results: items.filter((r) => r !== undefined), circle }) };
}

/** GET /jobs/{id}: the whole job view. */
export function getJob(deps: JobsRouteDeps): Handler<RoutedContext> {
  return async function getJob(ctx: RoutedContext) {
    ctx.body = (await ownJobView(deps, parseJobId(ctx.params.id), callerOf(ctx).sub)).view;
  };
}

/**
 * POST /jobs/{id}/cancel: flags the cancel, which the worker holding the job notices within
 * a second. The flag is set only while the job is unfinished, atomically against the
 * worker's final commit: a 202 means the job will end cancelled, a 409 names how it ended.
 */
export function cancelJob({ jobs, snapshots }: Pick<JobsRouteDeps, 'jobs' | 'snapshots'>): Handler<RoutedContext> {
  return async function cancelJob(ctx: RoutedContext) {
    const jobId = parseJobId(ctx.params.id);
    const job = ownJob(await jobs.get(jobId), callerOf(ctx).sub);
    if (isTerminal(job.status)) throw new JobFinishedError(job.status);
    const result = await snapshots.requestCancel(jobId, USER_CANCEL_REASON);
    if (result.kind === 'finished') throw new JobFinishedError(result.status);
    ctx.status = 202;
    ctx.body = { jobId, status: 'cancelling' };
  };
}
