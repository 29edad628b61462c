/**
 * The app's one polite status region. Pages announce milestones through `announce`;
 * screen readers read them when the user is idle. Nothing streamed goes through here.
 */
import { createStore, useStore } from './store';

const message = createStore({ text: '', n: 0 });

/** Says `text` politely (the same text twice is announced twice). */
export function announce(text: string): void {
  if (!text) return;
  message.set((m) => ({ text, n: m.n + 1 }));
}

/** Forgets the last announcement (a new page starts silent). */
export function clearAnnouncement(): void {
  message.set((m) => ({ text: '', n: m.n + 1 }));
}

export function StatusRegion({ className }: { className?: string }) {
  const { text, n } = useStore(message);
  // The key renews the node content so a repeated message is read again.
  return (
    <div role="status" aria-live="polite" aria-atomic="true" className={className}>
      <span key={n}>{text}</span>
    </div>
  );
}
