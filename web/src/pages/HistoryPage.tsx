/** The caller's jobs, newest first, a page at a time: open any, cancel a running one. */
import { useCallback, useEffect, useState } from 'react';
import type { JobSummary } from '../contracts';
import { isTerminal } from '../contracts';
import { readableError } from '../api/api-client';
import { Link, jobPath } from '../app/router';
import { useServices } from '../app/services';
import { formatDate } from '../format/format';
import { StatusBadge } from '../components/StatusBadge';
import styles from './pages.module.css';

export function HistoryPage() {
  const { api } = useServices();
  const [items, setItems] = useState<JobSummary[]>([]);
  const [cursor, setCursor] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string>();
  const [cancelling, setCancelling] = useState<Record<string, string>>({});

  const load = useCallback(
    async (after?: string) => {
      setLoading(true);
      setError(undefined);
      try {
        const page = await api.jobs(after);
        setItems((current) => (after ? [...current, ...page.items.filter((i) => !current.some((c) => c.jobId === i.jobId))] : page.items));
        setCursor(page.cursor);
      } catch (err) {
        setError(readableError(err));
      } finally {
        setLoading(false);
      }
    },
    [api],
  );

  useEffect(() => {
    void load();
  }, [load]);

  const cancel = async (jobId: string) => {
    setCancelling((c) => ({ ...c, [jobId]: 'Cancelling…' }));
    try {
      await api.cancel(jobId);
      setCancelling((c) => ({ ...c, [jobId]: 'Cancel requested' }));
    } catch (err) {
      setCancelling((c) => ({ ...c, [jobId]: readableError(err) }));
    }
  };

  return (
    <>
      <h1>History</h1>
      {error && <p role="alert">{error}</p>}
      {!loading && !error && items.length === 0 && (
        <p>
          You have not asked the circle anything yet. <Link to="/">Ask a question</Link>.
        </p>
      )}
      {items.length > 0 && (
        <div className={styles.scroll}>
          <table className={styles.history}>
            <caption>Your questions, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Question</th>
                <th scope="col">Status</th>
                <th scope="col">Asked</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((job) => (
                <tr key={job.jobId}>
                  <td>
                    <Link to={jobPath(job.jobId)}>{job.questionPreview || '(no text)'}</Link>
                  </td>
                  <td>
                    <StatusBadge status={job.status} />
                  </td>
                  <td>
                    <time dateTime={job.createdAt}>{formatDate(job.createdAt)}</time>
                  </td>
                  <td>
                    {cancelling[job.jobId] ? (
                      <span>{cancelling[job.jobId]}</span>
                    ) : (
                      !isTerminal(job.status) && (
                        <button type="button" onClick={() => void cancel(job.jobId)} aria-label={`Cancel “${job.questionPreview}”`}>
                          Cancel
                        </button>
                      )
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loading && <p>Loading…</p>}
      {cursor && !loading && (
        <button type="button" onClick={() => void load(cursor)}>
          Show older questions
        </button>
      )}
    </>
  );
}
