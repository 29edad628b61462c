/**
 * A question for the circle: the text with a live count against the API's limit, the
 * advisors to ask, the mode. A new conversation or a follow-up (with its conversationId).
 * What is typed is kept as a draft in sessionStorage until the question is accepted.
 */
import { useId, useState, type FormEvent } from 'react';
import type { CircleSummary, Mode } from '../contracts';
import { readableError } from '../api/api-client';
import { clearDraft, loadDraft, rememberPrevious, saveDraft } from '../app/drafts';
import { jobPath, navigate } from '../app/router';
import { useServices } from '../app/services';
import { formatTokens } from '../format/format';
import styles from './QuestionForm.module.css';

export interface QuestionFormProps {
  circle: CircleSummary;
  /** Continue this conversation (a follow-up); a new one when absent. */
  conversationId?: string;
  /** The job the follow-up is asked from. */
  fromJobId?: string;
  submitLabel?: string;
  label?: string;
}

export function QuestionForm({ circle, conversationId, fromJobId, submitLabel = 'Ask the circle', label = 'Your question' }: QuestionFormProps) {
  const { api } = useServices();
  const draftKey = conversationId ?? 'new';
  const id = useId();
  const [draft] = useState(() => loadDraft(draftKey));
  const [question, setQuestion] = useState(draft?.question ?? '');
  const [advisors, setAdvisors] = useState<string[]>(() => {
    const known = new Set(circle.advisors.map((a) => a.id));
    const kept = draft?.advisors?.filter((a) => known.has(a));
    return kept?.length ? kept : circle.advisors.map((a) => a.id);
  });
  const [mode, setMode] = useState<Mode>(draft?.mode ?? 'full');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string>();

  const max = circle.limits.maxQuestionChars;
  const length = question.trim().length;
  const over = question.length - max;
  const problem = over > 0 ? `${formatTokens(over)} characters over the limit.` : advisors.length === 0 ? 'Choose at least one advisor.' : undefined;

  const update = (next: { question?: string; advisors?: string[]; mode?: Mode }) => {
    const merged = { question, advisors, mode, ...next };
    saveDraft(draftKey, merged);
    if (next.question !== undefined) setQuestion(next.question);
    if (next.advisors) setAdvisors(next.advisors);
    if (next.mode) setMode(next.mode);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (problem || length === 0 || sending) return;
    setSending(true);
    setError(undefined);
    try {
      const accepted = await api.chat({
        question: question.trim(),
        mode,
        // All advisors is the API's default: send a list only when it is a choice.
        ...(advisors.length < circle.advisors.length ? { advisors } : {}),
        ...(conversationId ? { conversationId } : {}),
      });
      clearDraft(draftKey);
      if (fromJobId) rememberPrevious(accepted.jobId, fromJobId);
      navigate(jobPath(accepted.jobId));
    } catch (err) {
      setError(readableError(err));
      setSending(false);
    }
  };

  const countId = `${id}-count`;
  const problemId = `${id}-problem`;
  return (
    <form className={styles.form} onSubmit={(e) => void submit(e)} noValidate>
      <label htmlFor={`${id}-question`} className={styles.label}>
        {label}
      </label>
      <textarea
        id={`${id}-question`}
        className={styles.question}
        value={question}
        rows={5}
        onChange={(e) => update({ question: e.target.value })}
        aria-describedby={problem ? `${countId} ${problemId}` : countId}
        aria-invalid={over > 0 || undefined}
      />
      <p id={countId} className={over > 0 ? styles.countOver : styles.count}>
        {formatTokens(question.length)} of {formatTokens(max)} characters
      </p>
      {problem && (
        <p id={problemId} className={styles.problem}>
          <span aria-hidden="true">⚠ </span>
          {problem}
        </p>
      )}

      <fieldset className={styles.fieldset}>
        <legend>Advisors</legend>
        {circle.advisors.map((a) => (
          <label key={a.id} className={styles.choice}>
            <input
              type="checkbox"
              checked={advisors.includes(a.id)}
              onChange={(e) => update({ advisors: e.target.checked ? circle.advisors.map((m) => m.id).filter((m) => m === a.id || advisors.includes(m)) : advisors.filter((m) => m !== a.id) })}
            />
            {a.name}
            {a.title && <span className={styles.hint}> — {a.title}</span>}
          </label>
        ))}
        <p className={styles.hint}>
          {circle.chair.name} chairs the circle. At least {Math.min(circle.quorum, Math.max(advisors.length, 1))} of the chosen advisors must answer for the circle to give advice.
        </p>
      </fieldset>

      <fieldset className={styles.fieldset}>
        <legend>Mode</legend>
        <label className={styles.choice}>
          <input type="radio" name={`${id}-mode`} value="full" checked={mode === 'full'} onChange={() => update({ mode: 'full' })} />
          Full <span className={styles.hint}>— answers, anonymous reviews, then the advice</span>
        </label>
        <label className={styles.choice}>
          <input type="radio" name={`${id}-mode`} value="quick" checked={mode === 'quick'} onChange={() => update({ mode: 'quick' })} />
          Quick <span className={styles.hint}>— answers, then the advice</span>
        </label>
      </fieldset>

      {error && (
        <p role="alert" className={styles.error}>
          {error}
        </p>
      )}
      <button type="submit" className="primary" disabled={sending || length === 0 || problem !== undefined}>
        {sending ? 'Sending…' : submitLabel}
      </button>
    </form>
  );
}
