/**
 * One job, live and afterwards. While it runs: the circle's cards (answers streaming), the
 * reviews, the chair's advice as it is written. Once finished: the advice first, the
 * deliberation below in collapsible sections, and a follow-up in the same conversation.
 */
import { useEffect, useMemo, useState } from 'react';
import type { JobView } from '../contracts';
import { isTerminal, stepText } from '../contracts';
import { readableError } from '../api/api-client';
import { announce } from '../app/announcer';
import { previousOf } from '../app/drafts';
import { Link, jobPath } from '../app/router';
import { useServices } from '../app/services';
import { useStore } from '../app/store';
import { useCircle } from '../app/use-circle';
import { AdviceSection } from '../components/AdviceSection';
import { Markdown } from '../components/Markdown';
import { MemberPanels } from '../components/MemberPanels';
import { MeterText } from '../components/MeterText';
import { QuestionForm } from '../components/QuestionForm';
import { SimulatedBanner } from '../components/SimulatedBanner';
import { AgreementTable, RankingTable, ReviewMatrix } from '../components/ReviewTables';
import { StatusBadge } from '../components/StatusBadge';
import { TimelineSection } from '../components/TimelineSection';
import { adviceText, decisionRecord, recordFileName } from '../export/decision-record';
import { clockTime } from '../format/format';
import { JobLive, type LiveState } from '../live/job-live';
import { membersOf, quorumText, totalMeter } from '../live/job-model';
import { adviceReady, milestones } from '../live/milestones';
import styles from './JobPage.module.css';

export function JobPage({ jobId }: { jobId: string }) {
  const { api, auth, config, openSocket } = useServices();
  const live = useMemo(
    () =>
      new JobLive({
        jobId,
        wsUrl: config.wsUrl,
        token: () => auth.accessToken(),
        fetchView: (id) => api.job(id),
        ...(openSocket ? { openSocket } : {}),
        onPublish: (prev, next) => {
          const said = milestones(prev.stream.view, next.stream.view);
          if (said.length > 0) announce(said.join(' '));
        },
      }),
    [jobId, api, auth, config.wsUrl, openSocket],
  );
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  const state = useStore(live.store);
  const view = state.stream.view;

  if (state.connection === 'refused' && !view) {
    return (
      <>
        <h1>This job cannot be shown</h1>
        <p role="alert">{state.problem}</p>
        <p>
          <Link to="/history">Open your history</Link> or <Link to="/">ask a new question</Link>.
        </p>
      </>
    );
  }
  if (!view)
    return (
      <>
        <p>Loading the job…</p>
        <ConnectionNotice state={state} />
      </>
    );
  return <JobContent view={view} state={state} live={live} />;
}

const STAGE_TEXT: Record<string, string> = {
  queued: 'Waiting for a worker to take the job.',
  advising: 'The advisors are answering.',
  reviewing: 'The advisors are reviewing each other’s answers anonymously.',
  synthesizing: 'The chair is writing the advice.',
};

function JobContent({ view, state, live }: { view: JobView; state: LiveState; live: JobLive }) {
  const { config } = useServices();
  const members = membersOf(state.stream);
  const finished = isTerminal(view.status);
  const advice = stepText(state.stream, 'synthesize');
  const adviceStreaming = view.synthesis?.status === 'running' && !!advice;
  const quorum = quorumText(view);
  const reviews = view.mode === 'full' && (view.stage === 'synthesizing' || view.stage === 'done' || view.stage === 'reviewing');
  const reviewTables = (
    <>
      <RankingTable view={view} />
      <ReviewMatrix view={view} />
      <AgreementTable view={view} />
      {!view.ranking?.length && <p className={styles.muted}>{finished ? 'No ranking: no review could be completed.' : 'The reviews are being written…'}</p>}
    </>
  );

  return (
    <article className={styles.job} aria-labelledby="question-heading">
      <h1 id="question-heading" className={styles.title}>
        Your question
      </h1>
      <div className={styles.question}>
        <Markdown text={view.question} />
      </div>
      <Thread view={view} />

      <div className={styles.statusBar}>
        <StatusBadge status={view.status} />
        <span>{finished ? finishedText(view) : STAGE_TEXT[view.stage]}</span>
        {quorum && (
          <span className={styles.quorum}>
            <span aria-hidden="true">⚠ </span>
            {quorum}
          </span>
        )}
        <span className={styles.total}>
          <MeterText meter={totalMeter(members, view)} prefix="Total: " />
        </span>
      </div>
      <ConnectionNotice state={state} />
      <JobActions view={view} live={live} advice={advice} streamText={(id) => stepText(state.stream, id)} />

      {view.simulated && !config.simulated && <SimulatedBanner />}
      {view.notes.length > 0 && (
        <section aria-labelledby="notes-heading" className={styles.notes}>
          <h2 id="notes-heading">Notes</h2>
          <ul>
            {view.notes.map((n, i) => (
              <li key={i}>{n}</li>
            ))}
          </ul>
        </section>
      )}

      {finished ? (
        <>
          <AdviceSection view={view} text={advice} streaming={view.status === 'succeeded' && !adviceReady(view)} />
          <details className={styles.section} open={view.adviceQuality === 'unsynthesized' || view.status !== 'succeeded'}>
            <summary>
              <h2 className={styles.summaryHeading}>Answers</h2>
            </summary>
            <MemberPanels members={members} label="The circle’s answers" />
          </details>
          {reviews && (
            <details className={styles.section} open={view.adviceQuality === 'unsynthesized'}>
              <summary>
                <h2 className={styles.summaryHeading}>Reviews</h2>
              </summary>
              {reviewTables}
            </details>
          )}
          <TimelineSection jobId={view.jobId} className={styles.section} headingClassName={styles.summaryHeading} />
          <FollowUp view={view} />
        </>
      ) : (
        <>
          <section aria-labelledby="circle-heading" className={styles.section}>
            <h2 id="circle-heading">The circle</h2>
            <MemberPanels members={members} label="The circle at work" />
          </section>
          {reviews && (
            <section aria-labelledby="reviews-heading" className={styles.section}>
              <h2 id="reviews-heading">Reviews</h2>
              {reviewTables}
            </section>
          )}
          <AdviceSection view={view} text={advice} streaming={adviceStreaming} />
        </>
      )}
    </article>
  );
}

function finishedText(view: JobView): string {
  if (view.status === 'succeeded') return adviceReady(view) ? 'The advice is ready.' : 'Putting the advice together…';
  if (view.status === 'cancelled') return `The job was cancelled.${view.reason ? ` ${view.reason}` : ''}`;
  return `The job failed.${view.reason ? ` ${view.reason}` : ''}`;
}

function ConnectionNotice({ state }: { state: LiveState }) {
  if (state.connection !== 'reconnecting' && !(state.connection === 'refused' && state.problem)) return null;
  if (state.connection === 'refused') return <p className={styles.notice}>Live updates stopped: {state.problem}</p>;
  return (
    <p className={styles.notice}>
      <span aria-hidden="true">↻ </span>
      Reconnecting… {state.lastEventAt ? `(last event at ${clockTime(state.lastEventAt)})` : '(no event received yet)'}
    </p>
  );
}

function Thread({ view }: { view: JobView }) {
  const previous = previousOf(view.jobId);
  const first = view.conversationId && view.conversationId !== view.jobId ? view.conversationId : undefined;
  if (!previous && !first) return null;
  return (
    <nav aria-label="Conversation" className={styles.thread}>
      {previous && <Link to={jobPath(previous)}>← Previous question</Link>}
      {first && first !== previous && <Link to={jobPath(first)}>First question of this conversation</Link>}
    </nav>
  );
}

function JobActions({ view, live, advice, streamText }: { view: JobView; live: JobLive; advice?: string; streamText: (stepId: string) => string | undefined }) {
  const { api } = useServices();
  /** What the last action said; `alert` for a failure, which screen readers announce at once. */
  const [message, setMessage] = useState<{ text: string; alert?: boolean }>();
  const [busy, setBusy] = useState<'cancel' | 'redrive'>();
  const finished = isTerminal(view.status);
  const hasAdvice = !!(view.synthesis?.recommendation || view.synthesis?.text || advice);

  /** Calls the API for `action`; afterwards the page follows the job's own word on how it stands. */
  const act = async (action: 'cancel' | 'redrive', call: () => Promise<unknown>, said: string, then: () => void) => {
    setBusy(action);
    setMessage(undefined);
    try {
      await call();
      setMessage({ text: said });
    } catch (err) {
      setMessage({ text: readableError(err), alert: true });
    } finally {
      setBusy(undefined);
      then();
    }
  };
  const cancel = () => act('cancel', () => api.cancel(view.jobId), 'Cancel requested; the circle is stopping.', () => void live.refresh());
  // A redrive reopens the job: the page follows it live again (a refused one just shows the job as it is).
  const redrive = () => act('redrive', () => api.redrive(view.jobId), 'Trying again: only the steps that failed run again.', () => live.reopen());

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(adviceText(view, streamText));
      setMessage({ text: 'Advice copied to the clipboard.' });
    } catch {
      setMessage({ text: 'Could not copy: the browser did not allow it. Select the advice and copy it by hand.', alert: true });
    }
  };

  const exportRecord = () => {
    const blob = new Blob([decisionRecord(view, streamText)], { type: 'text/markdown;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = recordFileName(view);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  return (
    <div className={styles.actions}>
      {!finished && (
        <button type="button" onClick={() => void cancel()} disabled={busy === 'cancel'}>
          {busy === 'cancel' ? 'Cancelling…' : 'Cancel job'}
        </button>
      )}
      {view.status === 'failed' && (
        <button type="button" onClick={() => void redrive()} disabled={busy === 'redrive'} aria-describedby="redrive-help">
          {busy === 'redrive' ? 'Trying again…' : 'Try again'}
        </button>
      )}
      {hasAdvice && (
        <button type="button" onClick={() => void copy()}>
          Copy advice
        </button>
      )}
      {finished && (
        <button type="button" onClick={exportRecord}>
          Export Markdown
        </button>
      )}
      {view.status === 'failed' && (
        <p id="redrive-help" className={styles.actionMessage}>
          Try again runs only the steps that failed; every answer already given is kept.
        </p>
      )}
      {message && (
        <p className={styles.actionMessage} role={message.alert ? 'alert' : undefined}>
          {message.text}
        </p>
      )}
    </div>
  );
}

function FollowUp({ view }: { view: JobView }) {
  const { api } = useServices();
  const { circle } = useCircle(api);
  if (!circle || view.status !== 'succeeded') return null;
  return (
    <section aria-labelledby="follow-up-heading" className={styles.section}>
      <h2 id="follow-up-heading">Ask a follow-up</h2>
      <QuestionForm circle={circle} conversationId={view.conversationId ?? view.jobId} fromJobId={view.jobId} label="Your follow-up question" submitLabel="Ask the follow-up" />
    </section>
  );
}
