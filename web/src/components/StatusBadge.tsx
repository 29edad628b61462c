import type { JobStatus } from '../contracts';
import styles from './StatusBadge.module.css';

const LABEL: Record<JobStatus, [icon: string, text: string]> = {
  queued: ['○', 'Queued'],
  running: ['◔', 'Running'],
  succeeded: ['✓', 'Succeeded'],
  failed: ['✕', 'Failed'],
  cancelled: ['⊘', 'Cancelled'],
};

/** A job's status as an icon and a word (colour is only a hint). */
export function StatusBadge({ status }: { status: JobStatus }) {
  const [icon, text] = LABEL[status] ?? ['?', status];
  return (
    <span className={`${styles.badge} ${styles[status] ?? ''}`}>
      <span aria-hidden="true">{icon} </span>
      {text}
    </span>
  );
}
