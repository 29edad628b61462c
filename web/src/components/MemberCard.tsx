/**
 * One member of the circle while it works: what it is doing (waiting, thinking, writing,
 * retrying with the attempt and the next try, answered, failed with the real error), how
 * long it has taken, its tokens and cost, and — for an advisor — its answer as it streams.
 */
import { useLayoutEffect, useRef } from 'react';
import { useNow } from '../app/hooks';
import { PHASE_ICON, PHASE_LABEL, clockTime, formatElapsed } from '../format/format';
import type { Member } from '../live/job-model';
import { Markdown } from './Markdown';
import { MeterText } from './MeterText';
import styles from './MemberCard.module.css';

export function MemberCard({ member, headingLevel = 3 }: { member: Member; headingLevel?: 2 | 3 }) {
  const { step, phase } = member;
  const Heading = headingLevel === 2 ? 'h2' : 'h3';
  const headingId = `member-${member.key}`;
  const streaming = phase === 'streaming';
  // While text streams in, the panel follows it, unless the reader scrolled up to read.
  const panel = useRef<HTMLElement>(null);
  const following = useRef(true);
  useLayoutEffect(() => {
    const el = panel.current;
    if (el && streaming && following.current) el.scrollTop = el.scrollHeight;
  }, [member.text, streaming]);
  const onScroll = () => {
    const el = panel.current;
    if (el) following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  return (
    <article className={`${styles.card} ${styles[phase] ?? ''}`} aria-labelledby={headingId}>
      <header className={styles.head}>
        <Heading id={headingId} className={styles.name}>
          {member.name}
          {member.role === 'chair' && <span className={styles.role}> (chair)</span>}
        </Heading>
        <span className={styles.phase}>
          <span aria-hidden="true">{PHASE_ICON[phase]} </span>
          {PHASE_LABEL[phase]}
        </span>
      </header>
      <p className={styles.meta}>
        <span className={styles.model}>{member.modelId}</span>
        <Elapsed startedAt={member.startedAt} endedAt={member.endedAt} />
      </p>
      {phase === 'retrying' && step && (
        <p className={styles.detail}>
          Attempt {step.attempt} failed{step.error ? ` (${step.error.error}: ${step.error.cause})` : ''}. Trying again
          {step.dueAt ? ` at ${clockTime(step.dueAt)}` : ' soon'} (attempt {step.attempt + 1}).
        </p>
      )}
      {phase === 'failed' && (
        <p className={styles.error}>
          {member.role === 'chair' ? 'Could not write the advice' : 'Could not answer'}
          {step?.error ? `: ${step.error.error} — ${step.error.cause}` : '.'}
        </p>
      )}
      <p className={styles.meter}>
        <MeterText meter={member.meter} />
      </p>
      {member.role === 'advisor' && (phase === 'streaming' || phase === 'done' || member.text) && (
        <section ref={panel} onScroll={onScroll} className={styles.answer} aria-label={`Answer from ${member.name}`} aria-busy={streaming} tabIndex={0}>
          {member.text ? <Markdown text={member.text} /> : <p className={styles.muted}>No text.</p>}
          {step?.truncated && <p className={styles.detail}>This answer was cut short at the model’s length limit.</p>}
        </section>
      )}
    </article>
  );
}

function Elapsed({ startedAt, endedAt }: { startedAt?: number; endedAt?: number }) {
  const running = startedAt !== undefined && endedAt === undefined;
  const now = useNow(running);
  if (startedAt === undefined) return null;
  const ms = (endedAt ?? Math.max(now, startedAt)) - startedAt;
  return <span className={styles.elapsed}>{running ? `${formatElapsed(ms)} so far` : `took ${formatElapsed(ms)}`}</span>;
}
