/**
 * The chair's advice: while it streams, the text as written; once read, the recommendation,
 * where the circle agrees, where it disagrees, and the confidence, each clearly marked.
 * When the advice is incomplete (no ranking, unreadable, no chair) the page says so plainly.
 */
import type { AdviceQuality, Confidence, JobView } from '../contracts';
import { Markdown } from './Markdown';
import styles from './AdviceSection.module.css';

export const QUALITY_NOTES: Record<Exclude<AdviceQuality, 'complete'>, string> = {
  unranked: 'Every review failed, so the chair wrote this advice without a ranking.',
  unstructured: 'The chair’s advice could not be read into sections; it is shown as written.',
  unsynthesized: 'The chair could not write the advice: the answers and the ranking below are the advice.',
};

const CONFIDENCE: Record<Confidence, string> = { high: 'High', medium: 'Medium', low: 'Low', unstated: 'Not stated' };
const CONFIDENCE_ICON: Record<Confidence, string> = { high: '●●●', medium: '●●○', low: '●○○', unstated: '○○○' };

export function AdviceSection({ view, text, streaming }: { view: JobView; text?: string; streaming: boolean }) {
  const s = view.synthesis;
  const quality = view.adviceQuality && view.adviceQuality !== 'complete' ? QUALITY_NOTES[view.adviceQuality] : undefined;
  const structured = !!s?.recommendation;
  return (
    <section className={styles.advice} aria-labelledby="advice-heading">
      <h2 id="advice-heading">Advice</h2>
      {quality && (
        <p className={styles.quality} role="note">
          <span aria-hidden="true">⚠ </span>
          {quality}
        </p>
      )}
      {structured ? (
        <>
          <h3>Recommendation</h3>
          <Markdown text={s.recommendation!} />
          {s.agreement && (
            <>
              <h3>Where the circle agrees</h3>
              <Markdown text={s.agreement} />
            </>
          )}
          {s.dissent && (
            <>
              <h3>Where the circle disagrees</h3>
              <Markdown text={s.dissent} />
            </>
          )}
        </>
      ) : text ? (
        <section aria-label="Advice text" aria-busy={streaming}>
          <Markdown text={text} />
        </section>
      ) : (
        <p className={styles.muted}>{placeholder(view)}</p>
      )}
      {s?.confidence && (
        <p className={styles.confidence}>
          <strong>Confidence:</strong> <span aria-hidden="true">{CONFIDENCE_ICON[s.confidence]} </span>
          {CONFIDENCE[s.confidence]}
        </p>
      )}
    </section>
  );
}

function placeholder(view: JobView): string {
  if (view.status === 'failed') return `No advice: the job failed.${view.reason ? ` ${view.reason}` : ''}`;
  if (view.status === 'cancelled') return 'No advice: the job was cancelled.';
  if (view.synthesis?.status === 'running') return 'The chair is thinking…';
  if (view.stage === 'reviewing') return 'The chair writes once the reviews are in.';
  return 'The chair writes once the advisors have answered.';
}
