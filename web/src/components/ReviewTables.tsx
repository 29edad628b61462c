/**
 * The review stage: the ranking (mean position over the reviewers, lower is better), the
 * review matrix as a real table (reviewer × advisor: the position each reviewer gave each
 * answer, own answer greyed and not selectable, the critique behind each number), and how
 * alike the reviewers ranked.
 */
import { useState, type ReactNode } from 'react';
import type { AdvisorView, JobView } from '../contracts';
import { Markdown } from './Markdown';
import styles from './ReviewTables.module.css';

export function RankingTable({ view }: { view: JobView }) {
  const name = nameIn(view);
  if (!view.ranking?.length) return null;
  return (
    <div className={styles.block}>
      <div className={styles.scroll} tabIndex={0} role="group" aria-label="Ranking">
        <table className={styles.table}>
          <caption>Ranking by the circle</caption>
          <thead>
            <tr>
              <th scope="col">Rank</th>
              <th scope="col">Advisor</th>
              <th scope="col">Mean position</th>
              <th scope="col">Votes</th>
            </tr>
          </thead>
          <tbody>
            {view.ranking.map((r, i) => (
              <tr key={r.advisorId}>
                <td className={styles.num}>{i + 1}</td>
                <th scope="row">{name(r.advisorId)}</th>
                <td className={styles.num}>{r.meanPosition.toFixed(2)}</td>
                <td className={styles.num}>{r.votes}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className={styles.legend}>Mean position: lower is better (1 = every reviewer put this answer first). Votes: how many reviewers ranked it.</p>
    </div>
  );
}

export function ReviewMatrix({ view }: { view: JobView }) {
  const [open, setOpen] = useState<{ reviewer: string; advisor: string }>();
  const reviewers = view.advisors.filter((a) => a.review.status === 'succeeded' || a.review.ranking);
  if (reviewers.length === 0) return null;
  const name = nameIn(view);
  const critique = open ? view.advisors.find((a) => a.id === open.reviewer)?.review.critiques?.[open.advisor] : undefined;
  return (
    <div className={styles.block}>
      <ReviewerTable label="Review matrix" caption="How each reviewer ranked the others’ answers" rows={reviewers} columns={view.advisors}>
        {(r, a) => <MatrixCell key={a.id} reviewer={r} advisor={a} open={open?.reviewer === r.id && open.advisor === a.id} onToggle={() => setOpen((o) => (o?.reviewer === r.id && o.advisor === a.id ? undefined : { reviewer: r.id, advisor: a.id }))} />}
      </ReviewerTable>
      <p className={styles.legend}>Each number is the position the reviewer gave that answer (1 = best). A reviewer does not rank its own answer (—). Select a number to read the critique.</p>
      <div id="critique-panel" className={styles.critique} hidden={!open}>
        {open && (
          <>
            <h4 className={styles.critiqueTitle}>
              {name(open.reviewer)} on {name(open.advisor)}’s answer
            </h4>
            {critique ? <Markdown text={critique} /> : <p>No written critique.</p>}
          </>
        )}
      </div>
    </div>
  );
}

function MatrixCell({ reviewer, advisor, open, onToggle }: { reviewer: AdvisorView; advisor: AdvisorView; open: boolean; onToggle: () => void }) {
  if (reviewer.id === advisor.id) {
    return (
      <td className={styles.own}>
        <Dash hidden="own answer" />
      </td>
    );
  }
  const i = reviewer.review.ranking?.indexOf(advisor.id) ?? -1;
  if (i < 0) {
    return (
      <td className={styles.num}>
        <Dash hidden="not ranked" />
      </td>
    );
  }
  return (
    <td className={styles.num}>
      <button
        type="button"
        className={styles.cell}
        aria-expanded={open}
        aria-controls="critique-panel"
        aria-label={`${i + 1} — ${reviewer.name} on ${advisor.name}: show critique`}
        onClick={onToggle}
      >
        {i + 1}
      </button>
    </td>
  );
}

export function AgreementTable({ view }: { view: JobView }) {
  const agreement = view.agreement;
  const reviewers = view.advisors.filter((a) => agreement?.[a.id]);
  if (!agreement || reviewers.length < 2) return null;
  return (
    <div className={styles.block}>
      <ReviewerTable label="Agreement between reviewers" caption="How alike the reviewers ranked" rows={reviewers} columns={reviewers}>
        {(r, a) => {
          const v = agreement[r.id]?.[a.id];
          return (
            <td key={a.id} className={r.id === a.id ? styles.own : styles.num}>
              {r.id === a.id ? <Dash hidden="same reviewer" /> : v === undefined ? <Dash hidden="no answer ranked by both" /> : `${Math.round(v * 100)}%`}
            </td>
          );
        }}
      </ReviewerTable>
      <p className={styles.legend}>100% means two reviewers put the answers they both ranked in the same order.</p>
    </div>
  );
}

/** A table with one row per reviewer and one column per advisor, scrolling sideways when narrow. */
function ReviewerTable({
  label,
  caption,
  rows,
  columns,
  children: cell,
}: {
  label: string;
  caption: string;
  rows: AdvisorView[];
  columns: AdvisorView[];
  children: (row: AdvisorView, column: AdvisorView) => ReactNode;
}) {
  return (
    <div className={styles.scroll} tabIndex={0} role="group" aria-label={label}>
      <table className={styles.table}>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Reviewer</th>
            {columns.map((a) => (
              <th scope="col" key={a.id}>
                {a.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <th scope="row">{r.name}</th>
              {columns.map((a) => cell(r, a))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Dash({ hidden }: { hidden: string }) {
  return (
    <>
      <span aria-hidden="true">—</span>
      <span className="visually-hidden">{hidden}</span>
    </>
  );
}

function nameIn(view: JobView) {
  return (id: string) => view.advisors.find((a) => a.id === id)?.name ?? id;
}
