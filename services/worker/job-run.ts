/**
 * One job on one worker: a live XState actor whose every transition is committed to the
 * State table (fenced by version and epoch) before the steps it schedules may start.
 *
 * Save, then act: step actors start inside XState's transition, but their implementation
 * first waits until the commit of that transition has succeeded. A rejected commit means
 * another worker owns the job: the actor stops (aborting in-flight calls) and nothing more
 * is committed or pushed.
 *
 * Cancel: once noticed (the worker's cancel watch, the heartbeat, or a flag found at
 * start), no step starts any more, calls in flight are aborted, and when they have settled
 * the machine gets `job.cancel` with what they spent; no step result reaches the machine
 * after that. A final commit refused because the API flagged the cancel first ends the job
 * cancelled instead (see cancelled-snapshot.ts).
 */
import { createActor, fromPromise, type Actor, type AnyActorLogic, type AnyStateMachine } from 'xstate';
import type { AdvisoryContext, AdvisoryInput, Spent, StepInput, StepOutput, WaitInput, WaitOutput } from '../../machines/advisory.types.js';
import { ADVISORY_MACHINE_VERSION } from '../../machines/advisory.types.js';
import { createAdvisoryMachine, redriveInputOf, restoreAdvisorySnapshot, stageOf } from '../../machines/index.js';
import type { JobItem, JobStatus } from '../shared/contracts/job.js';
import type { FirstCommit, Lease, SnapshotStore } from '../shared/ports/snapshot-store.js';
import type { QueueMessage } from '../shared/ports/job-queue.js';
import type { WorkerTelemetry } from './telemetry/worker-telemetry.js';
import type { Logger } from '../shared/logging.js';
import type { ModelClient, ModelRequest } from '../shared/ports/model-client.js';
import { costOf, memberOf } from '../shared/circle/circle.js';
import { CancelRequestedError, FencedError, ModelCallError } from '../shared/errors.js';
import { runStep, type StepRunnerDeps } from './step-runner.js';
import type { JobEvents } from './job-events.js';
import { cancelledSnapshot } from './cancelled-snapshot.js';
import type { Turn } from './history.js';
import { describeTransition, jobStageOf, statusOfStage, type SnapshotView } from './transitions.js';
import { RunResults } from './run-results.js';
import { sleep } from '../shared/sleep.js';

export type RunOutcome =
  | { kind: 'finished'; status: JobStatus }
  | { kind: 'fenced' }
  | { kind: 'handed-over' }
  | { kind: 'failed'; error: unknown };

/** Where committed transitions and streamed tokens go (live push); must never throw or block. */
export interface JobRunDeps extends StepRunnerDeps {
  snapshots: SnapshotStore;
  events: JobEvents;
  logger: Logger;
  leaseMs: number;
  heartbeatMs: number;
  /**
   * Extends the SQS message's visibility together with the lease; false when the run's
   * delivery no longer holds the message (JobQueue.changeVisibility).
   */
  extendMessage(): Promise<boolean>;
  /** The earlier turns of the job's conversation. */
  loadHistory(job: JobItem): Promise<Turn[]>;
  /** Traces (in the job's trace), measures and records the run: telemetry/worker-telemetry.ts. */
  telemetry: Pick<WorkerTelemetry, 'run'>;
  /** The SQS delivery that woke this run: its trace header continues the job's trace. */
  message?: QueueMessage;
}

type SnapshotLike = { value: unknown; context: AdvisoryInput & Record<string, unknown>; status: string };

/** Used when a flag carries no reason (set by an older API). */
const DEFAULT_CANCEL_REASON = 'Cancelled by the user.';
/** How long aborted calls may take to settle (and report what they spent) before the machine is cancelled anyway. */
const CANCEL_SETTLE_MS = 1000;

export class JobRun {
  readonly outcome: Promise<RunOutcome>;
  private resolveOutcome!: (o: RunOutcome) => void;
  private actor?: Actor<AnyActorLogic>;
  private machine?: AnyStateMachine;
  private version: number;
  /** The persisted snapshot of the last commit (what a lost race against a cancel restarts from). */
  private committedJson?: string;
  private lastPersisted?: string;
  /** The view of the last committed snapshot (transitions describe changes against it). */
  private committedView?: SnapshotView;
  /** The newest snapshot not yet committed: commits are grouped when snapshots arrive faster. */
  private queued?: Batch;
  /** The batch being committed now. */
  private committingBatch?: Batch;
  private committing = false;
  /** Step outputs: written with the next commit, and read back from memory. */
  private readonly results: RunResults;
  private history?: Promise<Turn[]>;
  private commits: Promise<void> = Promise.resolve();
  private stopped = false;
  private restoring = false;
  private draining = false;
  /** The reason, once a cancel is noticed. */
  private cancelling?: string;
  /** Aborted by the cancel: stops every model call of the run. */
  private readonly calls = new AbortController();
  /** What steps stopped by the cancel spent, by step id, for the `job.cancel` event. */
  private readonly spent: Record<string, Spent> = {};
  private inFlight = 0;
  private heartbeat?: NodeJS.Timeout;
  /** A renewal steps wait for when the lease is about to lapse (see leaseLive). */
  private renewing?: Promise<void>;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly deps: JobRunDeps,
    private readonly job: JobItem,
    private readonly lease: Lease,
    private readonly input: AdvisoryInput,
  ) {
    this.version = lease.first ? lease.first.request.expectedVersion + 1 : lease.state.version;
    this.results = new RunResults(deps.results, () => (this.stopped ? 'now' : this.committing ? 'beside' : 'hold'));
    this.outcome = new Promise((resolve) => (this.resolveOutcome = resolve));
  }

  /**
   * Restores or creates the actor and starts it, in the run's trace segment (part of the
   * job's trace): open until the outcome, it collects the model calls, commits and
   * heartbeats the run starts. Throws IncompatibleSnapshotError for snapshots it cannot continue.
   */
  start(): void {
    void this.deps.telemetry.run({ job: this.job, lease: this.lease, message: this.deps.message }, () => {
      this.startActor();
      return this.outcome;
    });
  }

  private startActor(): void {
    const state = this.lease.state;
    // A first commit written with the lease is restored like any committed snapshot.
    const first = this.lease.first?.request;
    const committed = first ? { snapshot: first.snapshot, machineVersion: first.machineVersion } : state;
    const restored = committed.snapshot ? restoreAdvisorySnapshot(committed.snapshot, committed.machineVersion) : undefined;
    // A redrive no run has committed after yet: the machine starts again from the failed snapshot.
    const redrive = !first && restored && state.redriveVersion === state.version ? redriveInputOf(restored) : undefined;
    const machine = (restored?.machine ?? createAdvisoryMachine({ advisors: this.job.advisors })).provide({
      actors: {
        runStep: fromPromise<StepOutput, StepInput>(({ input, signal }) => this.step(input, signal)),
        waitUntil: fromPromise<WaitOutput, WaitInput>(({ input, signal }) => this.wait(input, signal)),
      },
    }) as AnyActorLogic;
    let actor: Actor<AnyActorLogic>;
    this.machine = machine as unknown as AnyStateMachine;
    if (restored) {
      this.committedJson = committed.snapshot;
      this.committedView = viewOf(restored.snapshot as unknown as SnapshotLike);
    }
    if (restored && !redrive) {
      this.restoring = true;
      actor = createActor(machine, { snapshot: restored.snapshot });
    } else {
      actor = createActor(machine, { input: redrive ?? this.input });
    }
    this.actor = actor;
    actor.subscribe({
      next: (snapshot) => this.onSnapshot(snapshot as SnapshotLike),
      error: (error) => this.finish({ kind: 'failed', error }),
    });
    actor.start();
    this.restoring = false;
    if (first) this.deps.events.transition(first.transition);
    this.heartbeat = setInterval(() => void this.beat(), this.deps.heartbeatMs);
    if (state.cancelRequested) this.cancel(state.cancelReason ?? DEFAULT_CANCEL_REASON);
  }

  /** Stops starting steps, lets in-flight ones finish and commit within graceMs, then stops. */
  async handOver(graceMs: number): Promise<void> {
    this.draining = true;
    const deadline = Date.now() + graceMs;
    while (!this.stopped && Date.now() < deadline) {
      await this.commits;
      if (this.inFlight === 0) break;
      await Promise.race([this.nextChange(), sleep(deadline - Date.now())]);
    }
    this.finish({ kind: 'handed-over' });
    await this.commits;
  }

  private onSnapshot(snapshot: SnapshotLike): void {
    if (this.stopped || !this.actor) return;
    const json = JSON.stringify(this.actor.getPersistedSnapshot());
    if (this.restoring) {
      // The restored snapshot is the committed one; only what follows is new.
      this.lastPersisted = json;
      return;
    }
    if (json === this.lastPersisted) return;
    this.lastPersisted = json;
    // A newer snapshot replaces the queued one; steps waiting for that one wait for this one.
    this.queued = { json, view: viewOf(snapshot), terminal: snapshot.status === 'done', committed: this.queued?.committed ?? deferred() };
    if (!this.committing) {
      this.committing = true;
      this.commits = this.commitQueued();
    }
  }

  /**
   * Group commit: while one commit is in flight, newer snapshots replace each other in
   * `queued`, and the next commit writes only the newest (its transition lists every step
   * that changed since the last commit). Steps wait for the commit that includes them, so
   * save-then-act holds; under load there are fewer, not slower, writes.
   */
  private async commitQueued(): Promise<void> {
    try {
      let batch: Batch | undefined;
      while (!this.stopped && (batch = this.queued)) {
        this.queued = undefined;
        this.committingBatch = batch;
        try {
          await this.commit(batch.json, this.committedView, batch.view, batch.terminal);
        } finally {
          this.committingBatch = undefined;
          batch.committed.resolve();
        }
      }
    } finally {
      this.committing = false;
      // Stopped with a batch left: its steps must not wait forever (they see `stopped`).
      this.queued?.committed.resolve();
    }
  }

  private async commit(json: string, prev: SnapshotView | undefined, next: SnapshotView, terminal: boolean): Promise<void> {
    if (this.stopped) return;
    const seq = this.version + 1;
    const record = describeTransition(this.job.jobId, seq, this.deps.clock.now(), prev, next);
    record.expiresAt = this.job.expiresAt;
    const statusChanged = !prev || statusOfStage(prev.stage) !== record.status || jobStageOf(prev.stage) !== record.stage;
    // Every output not written yet goes with this commit (some may belong to a later snapshot: written early is fine).
    const results = this.results.takeUncommitted();
    const renewLeaseUntil = terminal ? undefined : this.deps.clock.now() + this.deps.leaseMs;
    try {
      // Outputs written beside the commit before this one land first: this snapshot may refer to them.
      await this.results.written();
      await this.deps.snapshots.commit({
        jobId: this.job.jobId,
        expectedVersion: this.version,
        epoch: this.lease.epoch,
        snapshot: json,
        machineVersion: ADVISORY_MACHINE_VERSION,
        transition: record,
        jobStatus: statusChanged ? { status: record.status, stage: record.stage, reason: record.reason } : undefined,
        // The job's last commit gives the lease up too: nothing is left to run.
        release: terminal,
        renewLeaseUntil,
        ...(results.length ? { results } : {}),
      });
    } catch (err) {
      this.results.notCommitted(results);
      // The cancel flag was set before this commit: nothing it schedules may start; the job ends cancelled.
      if (err instanceof CancelRequestedError) {
        await this.endCancelled(err.reason, next);
        return;
      }
      if (err instanceof FencedError) {
        this.deps.logger.warn({ jobId: this.job.jobId, seq }, 'commit fenced off: another worker owns the job');
        this.finish({ kind: 'fenced' });
      } else {
        this.deps.logger.error({ jobId: this.job.jobId, seq, err }, 'commit failed');
        this.finish({ kind: 'failed', error: err });
      }
      return;
    }
    this.version = seq;
    if (renewLeaseUntil !== undefined) this.lease.expiresAt = renewLeaseUntil;
    this.committedJson = json;
    this.committedView = next;
    if (terminal) this.lease.released = true;
    this.notify();
    this.deps.events.transition(record);
    if (terminal) this.finish({ kind: 'finished', status: record.status });
  }

  /**
   * Resolves once the transition that scheduled the caller is committed. Never while handing
   * over (the step stays scheduled in the committed snapshot for the next worker) or
   * cancelling (the machine is about to leave the step).
   */
  private async gate(signal: AbortSignal): Promise<void> {
    await Promise.resolve(); // let XState notify observers of the snapshot that started us
    // Only the commit that includes that snapshot, not the ones queued after it.
    const batch = this.queued ?? this.committingBatch;
    await (batch ? batch.committed.promise : this.commits);
    if ((this.draining || this.cancelling) && !this.stopped) await parkUntilAborted(signal);
    if (this.stopped || signal.aborted) throw aborted();
  }

  private async step(input: StepInput, signal: AbortSignal): Promise<StepOutput> {
    // Only a step restored from a snapshot may already have a stored result (its worker died
    // between storing and committing); a step this run scheduled is new.
    const maybeStored = this.restoring && !this.lease.first;
    await this.gate(signal);
    await this.leaseLive();
    const stepSignal = AbortSignal.any([signal, this.calls.signal]);
    let cutOff: ModelCallError['usage'];
    // A call cut off by the cancel still cost something: keep what its error says it used.
    const noteCutOff = (err: unknown): never => {
      if (err instanceof ModelCallError) cutOff = err.usage;
      throw err;
    };
    // The lease is checked again when the step calls its model and at the last moment before
    // the request leaves (the adapter awaits beforeSend after signing): building the prompt
    // reads results and history, and a worker stopped meanwhile must not wake and call for a
    // step another worker has taken over (the chaos runs caught one calling 2 s after the
    // step's outcome was committed elsewhere, and one stopped inside the SDK's send). Local
    // unless the lease is within a heartbeat of lapsing. The request carries when the lease
    // was found live (requestMetadata, in Bedrock's invocation logs too): no check and send
    // can be one step, so a request that arrives late was decided then.
    const leased = async (request: ModelRequest): Promise<ModelRequest> => {
      await this.leaseLive();
      const leaseCheckedAt = String(this.deps.clock.now());
      // The lease's epoch tells a call repeated by a worker that took the job over from one repeated by the same lease.
      const epoch = String(this.lease.epoch);
      return { ...request, requestMetadata: { ...request.requestMetadata, leaseCheckedAt, epoch }, beforeSend: () => this.leaseLive() };
    };
    const model: ModelClient = {
      converseStream: (request) => leased(request).then((r) => this.deps.model.converseStream(r)).catch(noteCutOff),
      converse: (request) => leased(request).then((r) => this.deps.model.converse(r)).catch(noteCutOff),
    };
    let output: StepOutput | undefined;
    this.inFlight++;
    try {
      output = await runStep(
        { ...this.deps, model, results: this.results },
        {
          job: this.job,
          maybeStored,
          history: () => (this.history ??= this.deps.loadHistory(this.job)),
          onDelta: (stepId, attempt, text) => this.deps.events.delta(this.job.jobId, stepId, attempt, text),
          onInfrastructureError: (error) => {
            if (!stepSignal.aborted) this.finish({ kind: 'failed', error });
          },
        },
        input,
        stepSignal,
      );
    } catch (err) {
      if (!this.cancelling) throw err;
    } finally {
      this.inFlight--;
      this.notify();
    }
    if (!this.cancelling) return output as StepOutput;
    // Cancelled: the machine hears of this step only through job.cancel, with what it spent.
    const spent = output ? { usage: output.usage, costUsd: output.costUsd } : this.spentOn(input.advisorId, cutOff);
    if (spent) this.spent[input.stepId] = spent;
    await parkUntilAborted(signal);
    throw aborted();
  }

  private async wait(input: WaitInput, signal: AbortSignal): Promise<WaitOutput> {
    await this.gate(signal);
    await sleep(input.until - this.deps.clock.now(), signal);
    // A retry due while cancelling would start a step the cancel is about to stop.
    if (this.cancelling && !signal.aborted) await parkUntilAborted(signal);
    if (signal.aborted) throw aborted();
    return { now: this.deps.clock.now() };
  }

  /** Usage and cost of a call the cancel cut off, priced like a finished one. */
  private spentOn(advisorId: string, usage: ModelCallError['usage']): Spent | undefined {
    const member = memberOf(this.deps.circle, advisorId);
    if (!usage || !member) return undefined;
    return { usage, costUsd: costOf(member, usage) };
  }


  /**
   * A run whose process stalled past its lease (CPU starvation, a long GC pause, SIGSTOP) may
   * wake after another worker has taken the job over. Commit fencing keeps the history right,
   * but a model call started meanwhile would be paid for twice — the chaos run caught a worker
   * starved for 12 s between taking a lease and starting its run doing just that. So a step
   * whose lease is within one heartbeat of lapsing renews it first (one renewal for every step
   * waiting) and does not start if the job has been taken over.
   */
  private async leaseLive(): Promise<void> {
    if (this.lease.expiresAt - this.deps.clock.now() > this.deps.heartbeatMs) return;
    this.renewing ??= this.beat().finally(() => (this.renewing = undefined));
    await this.renewing;
    if (this.stopped) throw aborted();
  }

  /**
   * Renews the lease and the message's visibility, and hears of a cancel. Every beat writes,
   * even one just after a commit (which renews the lease too): skipping those was tried and
   * left a lease renewed only every other interval, which a loaded machine's late timers let
   * lapse — other workers took running jobs over and asked their models again.
   */
  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      const { cancelRequested, cancelReason } = await this.deps.snapshots.heartbeat(this.lease, this.deps.leaseMs, this.deps.clock.now());
      // The run may have ended (and its message been deleted) while the lease was renewed.
      if (this.stopped) return;
      if (cancelRequested) this.cancel(cancelReason ?? DEFAULT_CANCEL_REASON);
      // False when the run's delivery lapsed before the lease was taken (a burst of messages on
      // a busy machine) and the message was received again: the worker that received it finds
      // the lease held and hides it, or this worker does and the run takes the new receipt
      // handle (Worker.redelivered). Nothing is lost; the lease is what keeps the job.
      if (!(await this.deps.extendMessage())) this.deps.logger.debug({ jobId: this.job.jobId }, 'the run\'s delivery of its message lapsed; a newer one holds it');
    } catch (err) {
      if (this.stopped) return;
      // The job's last commit gives the lease up: a beat that lands just after it is refused,
      // and that commit, still on its way back, decides how the run ends.
      if (err instanceof FencedError && this.committingBatch?.terminal) return;
      if (err instanceof FencedError) {
        this.deps.logger.warn({ jobId: this.job.jobId }, 'lease lost: another worker owns the job');
        this.finish({ kind: 'fenced' });
      } else {
        // Transient: if it persists the lease lapses and the commit fencing takes over.
        this.deps.logger.warn({ jobId: this.job.jobId, err }, 'heartbeat failed');
      }
    }
  }

  /**
   * Stops the job: no step starts any more, calls in flight are aborted, and once they have
   * settled (at most CANCEL_SETTLE_MS) the machine is cancelled with what they spent.
   */
  cancel(reason: string): void {
    if (this.cancelling || this.stopped) return;
    this.deps.logger.info({ jobId: this.job.jobId }, 'job cancelling');
    this.cancelling = reason || DEFAULT_CANCEL_REASON;
    this.calls.abort(new Error('the job was cancelled'));
    void this.cancelMachine();
  }

  private async cancelMachine(): Promise<void> {
    const deadline = Date.now() + CANCEL_SETTLE_MS;
    while (this.inFlight > 0 && !this.stopped && Date.now() < deadline) {
      await Promise.race([this.nextChange(), sleep(deadline - Date.now())]);
    }
    if (this.stopped || !this.cancelling) return;
    this.actor?.send({ type: 'job.cancel', reason: this.cancelling, spent: { ...this.spent } });
  }

  /**
   * The final commit lost the race against a cancel the API accepted: commit, instead, the
   * last committed snapshot cancelled, so the job never ends otherwise after that 202.
   */
  private async endCancelled(reason: string | undefined, reached: SnapshotView): Promise<void> {
    const text = reason || this.cancelling || DEFAULT_CANCEL_REASON;
    this.deps.logger.info({ jobId: this.job.jobId }, 'a cancel came before the final commit; the job ends cancelled');
    if (!this.machine || !this.committedJson) {
      this.finish({ kind: 'failed', error: new Error('no committed snapshot to cancel from') });
      return;
    }
    const persisted = cancelledSnapshot(this.machine, this.committedJson, reached.context as AdvisoryContext, text, this.spent);
    const view = viewOf(persisted as SnapshotLike);
    await this.commit(JSON.stringify(persisted), this.committedView, view, true);
  }

  private notify(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Resolves at the next change of the run (a step settled, a commit landed, the run stopped). */
  private nextChange(): Promise<void> {
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  private finish(outcome: RunOutcome): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.actor?.stop();
    this.notify();
    void this.storeUncommitted().then(() => this.resolveOutcome(outcome));
  }

  /**
   * Outputs no commit took (fenced off, failed, or handed over between an answer and its
   * commit) were paid for: stored on their own, the run that takes the job over finds them
   * instead of asking the model again. Once the commit in flight, if any, has settled.
   */
  private async storeUncommitted(): Promise<void> {
    try {
      await this.commits;
      await this.results.storeUncommitted();
    } catch (err) {
      this.deps.logger.warn({ jobId: this.job.jobId, err }, 'could not store an answer no commit took; the next run asks again');
    }
  }
}

/** Never resolves; rejects once `signal` aborts (the machine left the step, or the run stopped). */
function parkUntilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(aborted());
    signal.addEventListener('abort', () => reject(aborted()), { once: true });
  });
}

function viewOf(snapshot: SnapshotLike): SnapshotView {
  return { context: snapshot.context as unknown as SnapshotView['context'], stage: stageOf(snapshot.value as never) };
}

interface Batch {
  json: string;
  view: SnapshotView;
  terminal: boolean;
  /** Resolves once the commit that includes this snapshot is over (whether it was written or not). */
  committed: { promise: Promise<void>; resolve: () => void };
}

function deferred(): Batch['committed'] {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The first commit of a job no worker has started (status queued), for `SnapshotStore.acquire`
 * to write together with the lease: the machine's initial snapshot, taken from an actor whose
 * steps never run (the run restores it and starts them once the write is done). Undefined
 * for any other job, or one whose machine cannot be built here (the usual path reports why).
 */
export function firstCommitOf(job: JobItem, input: () => AdvisoryInput, now: number): FirstCommit | undefined {
  if (job.status !== 'queued') return undefined;
  try {
    const never = () => new Promise<never>(() => {});
    const machine = createAdvisoryMachine({ advisors: job.advisors }).provide({
      actors: { runStep: fromPromise<StepOutput, StepInput>(never), waitUntil: fromPromise<WaitOutput, WaitInput>(never) },
    }) as AnyActorLogic;
    const actor = createActor(machine, { input: input() });
    actor.start();
    const snapshot = actor.getSnapshot() as SnapshotLike;
    const json = JSON.stringify(actor.getPersistedSnapshot());
    actor.stop();
    if (snapshot.status !== 'active') return undefined;
    const transition = describeTransition(job.jobId, 1, now, undefined, viewOf(snapshot));
    transition.expiresAt = job.expiresAt;
    return {
      snapshot: json,
      machineVersion: ADVISORY_MACHINE_VERSION,
      transition,
      jobStatus: { status: transition.status, stage: transition.stage, reason: transition.reason },
    };
  } catch {
    return undefined;
  }
}

const aborted = () => new ModelCallError('States.Aborted', 'the run stopped before this step could finish');
