/**
 * The circle at work: a grid of cards on wide screens; at 480 px and below, tabs (WAI-ARIA
 * tabs pattern: arrow keys, Home and End move between members, the selected one shows).
 */
import { useRef, useState, type KeyboardEvent } from 'react';
import { useMediaQuery } from '../app/hooks';
import { PHASE_ICON, PHASE_LABEL } from '../format/format';
import type { Member } from '../live/job-model';
import { MemberCard } from './MemberCard';
import styles from './MemberPanels.module.css';

export const NARROW = '(max-width: 480px)';

export function MemberPanels({ members, label }: { members: Member[]; label: string }) {
  const narrow = useMediaQuery(NARROW);
  if (narrow) return <MemberTabs members={members} label={label} />;
  return (
    <ul className={styles.grid} aria-label={label}>
      {members.map((m) => (
        <li key={m.key}>
          <MemberCard member={m} />
        </li>
      ))}
    </ul>
  );
}

function MemberTabs({ members, label }: { members: Member[]; label: string }) {
  const [selectedKey, setSelectedKey] = useState(members[0]?.key);
  const tabs = useRef(new Map<string, HTMLButtonElement>());
  const index = Math.max(0, members.findIndex((m) => m.key === selectedKey));
  const selected = members[index];

  const select = (i: number) => {
    const m = members[(i + members.length) % members.length];
    if (!m) return;
    setSelectedKey(m.key);
    tabs.current.get(m.key)?.focus();
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const moves: Record<string, number> = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: members.length - 1 };
    const to = moves[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(to);
  };

  return (
    <div className={styles.tabs}>
      <div role="tablist" aria-label={label} className={styles.tablist} onKeyDown={onKeyDown}>
        {members.map((m) => {
          const on = m.key === selected?.key;
          return (
            <button
              key={m.key}
              ref={(el) => {
                if (el) tabs.current.set(m.key, el);
                else tabs.current.delete(m.key);
              }}
              type="button"
              role="tab"
              id={`tab-${m.key}`}
              aria-selected={on}
              aria-controls={`tabpanel-${m.key}`}
              tabIndex={on ? 0 : -1}
              className={styles.tab}
              aria-label={`${m.name}: ${PHASE_LABEL[m.phase]}`}
              onClick={() => setSelectedKey(m.key)}
            >
              {m.name}
              <span className={styles.tabPhase}>{` ${PHASE_ICON[m.phase]}`}</span>
            </button>
          );
        })}
      </div>
      {members.map((m) => (
        <div key={m.key} role="tabpanel" id={`tabpanel-${m.key}`} aria-labelledby={`tab-${m.key}`} hidden={m.key !== selected?.key} tabIndex={0} className={styles.panel}>
          {m.key === selected?.key && <MemberCard member={m} />}
        </div>
      ))}
    </div>
  );
}
