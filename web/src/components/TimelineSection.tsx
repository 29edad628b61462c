/**
 * A finished job's timeline (GET /jobs/{id}/timeline), collapsed: nothing is fetched until a
 * person opens it, and the table that shows it loads with it (most people never open it).
 */
import { Suspense, lazy, useState, type SyntheticEvent } from 'react';
import type { JobTimeline } from '../contracts';
import { ApiError, readableError } from '../api/api-client';
import { useServices } from '../app/services';

const TimelineView = lazy(() => import('./TimelineView'));

type Load = { state: 'idle' | 'loading' } | { state: 'failed'; message: string } | { state: 'loaded'; timeline: JobTimeline };

const LOADING = <p>Loading the timeline…</p>;

export function TimelineSection({ jobId, className, headingClassName }: { jobId: string; className?: string; headingClassName?: string }) {
  const { api } = useServices();
  const [load, setLoad] = useState<Load>({ state: 'idle' });

  const fetchTimeline = async () => {
    setLoad({ state: 'loading' });
    try {
      setLoad({ state: 'loaded', timeline: await api.timeline(jobId) });
    } catch (err) {
      // A 404 is the API saying there is nothing to show (or nothing of the caller's), not a fault.
      setLoad({ state: 'failed', message: err instanceof ApiError && err.status === 404 ? 'No timeline for this job.' : readableError(err) });
    }
  };
  const onToggle = (e: SyntheticEvent<HTMLDetailsElement>) => {
    if (e.currentTarget.open && load.state === 'idle') void fetchTimeline();
  };

  return (
    <details className={className} onToggle={onToggle}>
      <summary>
        <h2 className={headingClassName}>Timeline</h2>
      </summary>
      {load.state === 'loading' && LOADING}
      {load.state === 'failed' && (
        <>
          <p role="alert">{load.message}</p>
          <button type="button" onClick={() => void fetchTimeline()}>
            Load the timeline again
          </button>
        </>
      )}
      {load.state === 'loaded' && (
        <Suspense fallback={LOADING}>
          <TimelineView timeline={load.timeline} />
        </Suspense>
      )}
    </details>
  );
}
