/**
 * Markdown, loaded on demand (the renderer is the app's largest part and the first page
 * needs none of it). Until it has loaded the text shows as plain text, which is as safe.
 */
import { Suspense, lazy } from 'react';
import styles from './Markdown.module.css';

const SafeMarkdown = lazy(() => import('./SafeMarkdown'));

export function Markdown({ text, className }: { text: string; className?: string }) {
  return (
    <div className={`${styles.markdown} ${className ?? ''}`}>
      <Suspense fallback={<p className={styles.plain}>{text}</p>}>
        <SafeMarkdown text={text} />
      </Suspense>
    </div>
  );
}
