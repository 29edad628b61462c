/**
 * The verdict of a chaos run, from what it left behind: the Jobs, State and Transitions
 * tables, the Bedrock stand-in's call log, the dead-letter queue, the faults the driver
 * caused and what each WebSocket client received. Pure: it reads only its input.
 *
 * Rules (each violation names one):
 * - `terminal`: every job ended succeeded, failed or cancelled, and (unless poisoned on
 *   purpose, whose jobs the DLQ sweep fails without a transition) its history ends in that status;
 * - `gapless`: a job's committed history is seq 1..N, each seq once, and the State item's
 *   version is N;
 * - `linear`: no transition after a terminal one, and each step's committed record moves
 *   forward: attempts never go back, nothing changes after the step succeeded or failed;
 * - `repeat`: no model call for a step attempt whose outcome was already committed, and none
 *   for one that had already returned a result, unless the worker that got the result was
 *   killed (SIGKILL, SIGTERM) before the next call or stopped (SIGSTOP) at some moment between
 *   the first call's arrival and the next call — those are allowed, and counted with their
 *   reason (`at` is the call's arrival at the Bedrock front, before any slow first token);
 *   so is a call that arrives after the outcome was committed when its worker had found its
 *   lease live before that commit and was stopped between that check and the arrival;
 * - `dead-letter`: the DLQ holds only jobs poisoned on purpose;
 * - `lease`: no lease is still live when the run is over;
 * - `transcript`: every client's transitions (duplicates dropped by seq, each duplicate equal
 *   to the first copy) equal the committed history, and its `job.done` the job's status.
 */
import { isDeepStrictEqual } from 'node:util';
import type { JobStatus, TransitionRecord } from '../../../services/shared/contracts/job.js';
import { TERMINAL_STATUSES } from '../../../services/shared/contracts/job.js';

export type FaultKind = 'SIGKILL' | 'SIGSTOP' | 'SIGTERM';
/** When the driver struck: at a random moment, right after a model call returned, or during a commit. */
export type FaultMoment = 'random' | 'after-return' | 'during-commit';

/** A signal the driver sent to a worker process. */
export interface WorkerFault {
  kind: FaultKind;
  moment: FaultMoment;
  pid: number;
  /** Epoch ms the signal was sent. */
  at: number;
  /** SIGSTOP: epoch ms of the SIGCONT. */
  until?: number;
}

/** One model call as the Bedrock stand-in logged it. */
export interface ModelCall {
  step: string;
  attempt: number;
  /** The calling worker's id (`host:pid:nonce`). */
  worker: string;
  /** Epoch ms the call reached the model endpoint (before any hold of a slow first token). */
  at: number;
  endedAt?: number;
  /** The stand-in's outcome: ok, throttled, error, timeout, midstream-error, aborted, pending. */
  outcome: string;
  /** Epoch ms the calling worker last found its lease live before sending (its requestMetadata). */
  leaseCheckedAt?: number;
}

export interface JobEvidence {
  jobId: string;
  /** The Jobs table's status. */
  status: JobStatus;
  /** The Transitions table's items, in the order read (by seq). */
  history: TransitionRecord[];
  /** The State table's item, when there is one. */
  state?: { version: number; leaseOwner?: string; leaseExpiresAt?: number };
  calls: ModelCall[];
}

/** What one WebSocket client received about one job, across its reconnects. */
export interface ClientTranscript {
  client: string;
  jobId: string;
  /** `subscribe` messages sent (the first and each resubscription with afterSeq). */
  subscriptions: number;
  /** Every `job.transition` received, in arrival order, duplicates included. */
  received: TransitionRecord[];
  /** The status of the `job.done` received, if any. */
  done?: JobStatus;
}

export interface ChaosEvidence {
  jobs: JobEvidence[];
  /** Jobs the driver made unrunnable on purpose (they belong in the DLQ). */
  poisoned: readonly string[];
  deadLetters: {
    /** Job ids of the DLQ messages the driver saw (undefined: not a job message). */
    seen: (string | undefined)[];
    /** Messages in the DLQ at the end, visible or not. */
    count: number;
  };
  faults: WorkerFault[];
  transcripts: ClientTranscript[];
  /** Epoch ms the State table was read: a lease expiring later is still held. */
  checkedAt: number;
}

export type Rule = 'terminal' | 'gapless' | 'linear' | 'repeat' | 'dead-letter' | 'lease' | 'transcript';

export interface Violation {
  rule: Rule;
  jobId?: string;
  detail: string;
}

/** A step attempt called again after a crash between its return and its commit (allowed). */
export interface AllowedRepeat {
  jobId: string;
  step: string;
  attempt: number;
  /** e.g. `SIGKILL after-return`. */
  reason: string;
}

export interface Verdict {
  ok: boolean;
  violations: Violation[];
  repeats: AllowedRepeat[];
  /** Model calls whose outcome no commit kept: `returned` had an answer that was lost, `cutOff` did not finish. */
  wasted: { returned: number; cutOff: number };
  counts: { jobs: number; transitions: number; calls: number; transcripts: number; leasesLeftToExpire: number };
}

const TERMINAL = new Set<string>(TERMINAL_STATUSES);
/** Step statuses after which a step's record never changes. */
const STEP_DONE = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
/** Committed step statuses that record a step attempt's outcome. */
const ATTEMPT_OUTCOMES = new Set(['succeeded', 'failed', 'retrying', 'skipped']);

/** The pid in a worker id (`host:pid:nonce`), or undefined. */
export function pidOfWorker(workerId: string): number | undefined {
  const parts = workerId.split(':');
  const pid = Number(parts[parts.length - 2]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Checks every rule over the evidence of a run. */
export function checkHistories(evidence: ChaosEvidence): Verdict {
  const violations: Violation[] = [];
  const repeats: AllowedRepeat[] = [];
  const wasted = { returned: 0, cutOff: 0 };
  const poisoned = new Set(evidence.poisoned);
  const byId = new Map(evidence.jobs.map((j) => [j.jobId, j]));
  let leasesLeftToExpire = 0;

  for (const job of evidence.jobs) {
    const flag = (rule: Rule, detail: string) => violations.push({ rule, jobId: job.jobId, detail });
    checkTerminal(job, poisoned.has(job.jobId), flag);
    checkGapless(job, flag);
    checkLinear(job, flag);
    checkCalls(job, evidence.faults, flag, repeats, wasted);
    const { leaseOwner, leaseExpiresAt } = job.state ?? {};
    if (leaseOwner && (leaseExpiresAt ?? 0) > evidence.checkedAt) {
      flag('lease', `lease still held by ${leaseOwner} until ${leaseExpiresAt} (checked at ${evidence.checkedAt})`);
    } else if (leaseOwner) {
      leasesLeftToExpire++;
    }
  }

  const seen = evidence.deadLetters.seen;
  for (const jobId of seen) {
    if (jobId === undefined) violations.push({ rule: 'dead-letter', detail: 'a message that is not a job message is in the DLQ' });
    else if (!poisoned.has(jobId)) {
      violations.push({ rule: 'dead-letter', jobId, detail: `job ${jobId} (${byId.get(jobId)?.status ?? 'unknown'}) is in the DLQ but was not poisoned` });
    }
  }
  if (evidence.deadLetters.count > poisoned.size) {
    violations.push({ rule: 'dead-letter', detail: `${evidence.deadLetters.count} messages in the DLQ, but only ${poisoned.size} jobs were poisoned` });
  }

  for (const t of evidence.transcripts) {
    const job = byId.get(t.jobId);
    const flag = (detail: string) => violations.push({ rule: 'transcript', jobId: t.jobId, detail: `client ${t.client}: ${detail}` });
    if (!job) flag('follows a job the run does not know');
    else checkTranscript(t, job, flag);
  }

  return {
    ok: violations.length === 0,
    violations,
    repeats,
    wasted,
    counts: {
      jobs: evidence.jobs.length,
      transitions: evidence.jobs.reduce((n, j) => n + j.history.length, 0),
      calls: evidence.jobs.reduce((n, j) => n + j.calls.length, 0),
      transcripts: evidence.transcripts.length,
      leasesLeftToExpire,
    },
  };
}

type Flag = (rule: Rule, detail: string) => void;

function checkTerminal(job: JobEvidence, poisoned: boolean, flag: Flag): void {
  if (!TERMINAL.has(job.status)) return flag('terminal', `job is ${job.status}, not finished`);
  if (poisoned) return;
  const last = job.history[job.history.length - 1];
  if (!last) return flag('terminal', `job is ${job.status} but has no committed history`);
  if (last.status !== job.status) flag('terminal', `job is ${job.status} but its history ends ${last.status} (seq ${last.seq})`);
}

function checkGapless(job: JobEvidence, flag: Flag): void {
  const seqs = job.history.map((t) => t.seq);
  const counts = new Map<number, number>();
  for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
  for (const [seq, n] of counts) if (n > 1) flag('gapless', `seq ${seq} committed ${n} times (a fork)`);
  const last = Math.max(0, ...counts.keys());
  const missing = Array.from({ length: last }, (_, i) => i + 1).filter((seq) => !counts.has(seq));
  if (missing.length) flag('gapless', `seq ${missing.join(', ')} missing of 1..${last}`);
  if (job.state && job.state.version !== last) flag('gapless', `State version is ${job.state.version} but the history ends at seq ${last}`);
}

function checkLinear(job: JobEvidence, flag: Flag): void {
  const ordered = [...job.history].sort((a, b) => a.seq - b.seq);
  const steps = new Map<string, { status: string; attempt: number; seq: number }>();
  let ended: TransitionRecord | undefined;
  for (const t of ordered) {
    if (ended) flag('linear', `seq ${t.seq} (${t.event}) follows the terminal seq ${ended.seq} (${ended.status})`);
    if (TERMINAL.has(t.status)) ended ??= t;
    for (const c of t.changes) {
      const before = steps.get(c.stepId);
      if (before && STEP_DONE.has(before.status) && !(before.status === c.status && before.attempt === c.attempt)) {
        flag('linear', `${c.stepId} changed to ${c.status}#${c.attempt} at seq ${t.seq} after it was ${before.status} at seq ${before.seq}`);
      }
      if (before && c.attempt < before.attempt) flag('linear', `${c.stepId} went back from attempt ${before.attempt} to ${c.attempt} at seq ${t.seq}`);
      steps.set(c.stepId, { status: c.status, attempt: c.attempt, seq: t.seq });
    }
  }
}

/** Repeated and wasted model calls of one job. */
function checkCalls(job: JobEvidence, faults: readonly WorkerFault[], flag: Flag, repeats: AllowedRepeat[], wasted: Verdict['wasted']): void {
  // When each step attempt's outcome was committed.
  const committedAt = new Map<string, { at: number; seq: number }>();
  for (const t of job.history) {
    for (const c of t.changes) {
      const key = `${c.stepId}#${c.attempt}`;
      if (ATTEMPT_OUTCOMES.has(c.status) && !committedAt.has(key)) committedAt.set(key, { at: t.at, seq: t.seq });
    }
  }
  const byAttempt = new Map<string, ModelCall[]>();
  for (const call of [...job.calls].sort((a, b) => a.at - b.at)) {
    const key = `${call.step}#${call.attempt}`;
    byAttempt.set(key, [...(byAttempt.get(key) ?? []), call]);
  }
  for (const [key, calls] of byAttempt) {
    const committed = committedAt.get(key);
    calls.forEach((call, i) => {
      const allow = (fault: WorkerFault) => repeats.push({ jobId: job.jobId, step: call.step, attempt: call.attempt, reason: `${fault.kind} ${fault.moment}` });
      if (committed && call.at > committed.at) {
        const frozen = frozenInFlight(call, committed.at, faults);
        if (frozen) allow(frozen);
        else flag('repeat', `${key} called by ${call.worker} at ${call.at}, after its outcome was committed at seq ${committed.seq} (${committed.at})`);
        return;
      }
      const returned = calls.slice(0, i).find((p) => p.outcome === 'ok' && (p.endedAt ?? Infinity) <= call.at);
      if (!returned) return;
      const crash = crashOf(returned, call, faults);
      if (crash) allow(crash);
      else flag('repeat', `${key} called again by ${call.worker} at ${call.at} after ${returned.worker} got its answer at ${returned.endedAt}, with no crash in between (${faultsOf(returned.worker, faults)})`);
    });
    // The last call before the commit gave the committed outcome; the others were wasted.
    const used = committed ? calls.filter((c) => c.at <= committed.at).at(-1) : undefined;
    const unused = calls.filter((c) => c !== used);
    for (const call of unused) {
      if (call.outcome === 'ok') wasted.returned++;
      else wasted.cutOff++;
    }
  }
}

/**
 * A fault that cost the worker that got `returned`'s answer before `again` was asked: a
 * SIGKILL or SIGTERM of that worker at any time before `again` (the worker made the call, so
 * the signal came after it sent it, even when the stand-in logged the call's arrival later),
 * or a SIGSTOP that held it at some moment between the call's arrival and `again` (a worker
 * stopped while its answer streams in cannot store it; its lease lapses meanwhile).
 */
function crashOf(returned: ModelCall, again: ModelCall, faults: readonly WorkerFault[]): WorkerFault | undefined {
  const pid = pidOfWorker(returned.worker);
  return faults.find((f) => f.pid === pid && f.at <= again.at && (f.kind !== 'SIGSTOP' || (f.until ?? Infinity) >= returned.at));
}

/**
 * A call that reached the model after its outcome was committed elsewhere, sent by a worker
 * that had found its lease live before that commit and was stopped (SIGSTOP) between that
 * check and the call's arrival: the worker decided in time and froze with the request on its
 * way (a check and a send can never be one step). On waking, a worker checks its lapsed
 * lease with DynamoDB before any new call, so a call it decides after waking is flagged.
 */
function frozenInFlight(call: ModelCall, committedAt: number, faults: readonly WorkerFault[]): WorkerFault | undefined {
  const checkedAt = call.leaseCheckedAt;
  if (checkedAt === undefined || checkedAt >= committedAt) return undefined;
  const pid = pidOfWorker(call.worker);
  return faults.find((f) => f.pid === pid && f.kind === 'SIGSTOP' && f.at >= checkedAt && f.at <= call.at);
}

/** The faults of a worker, for a violation's detail. */
function faultsOf(workerId: string, faults: readonly WorkerFault[]): string {
  const pid = pidOfWorker(workerId);
  const mine = faults.filter((f) => f.pid === pid).map((f) => `${f.kind} ${f.moment} at ${f.at}${f.until ? ` until ${f.until}` : ''}`);
  return mine.length ? `its worker's faults: ${mine.join('; ')}` : 'its worker had no fault';
}

/** A transition as a client compares it: without the item's TTL, which is not part of the history. */
function comparable(t: TransitionRecord): Omit<TransitionRecord, 'expiresAt'> {
  const { expiresAt: _ttl, ...rest } = t;
  return rest;
}

function checkTranscript(t: ClientTranscript, job: JobEvidence, flag: (detail: string) => void): void {
  const first = new Map<number, TransitionRecord>();
  for (const r of t.received) {
    const earlier = first.get(r.seq);
    if (!earlier) first.set(r.seq, r);
    else if (!isDeepStrictEqual(comparable(earlier), comparable(r))) flag(`seq ${r.seq} arrived twice with different content`);
  }
  const history = [...job.history].sort((a, b) => a.seq - b.seq);
  const got = [...first.keys()].sort((a, b) => a - b);
  const missing = history.filter((h) => !first.has(h.seq)).map((h) => h.seq);
  const extra = got.filter((s) => !history.some((h) => h.seq === s));
  if (missing.length) flag(`missed seq ${missing.join(', ')} of ${history.length}`);
  if (extra.length) flag(`received seq ${extra.join(', ')}, which were never committed`);
  for (const h of history) {
    const r = first.get(h.seq);
    if (r && !isDeepStrictEqual(comparable(r), comparable(h))) flag(`seq ${h.seq} differs from the committed transition (${r.event} vs ${h.event})`);
  }
  if (t.done !== undefined && t.done !== job.status) flag(`job.done said ${t.done}, the job is ${job.status}`);
}
