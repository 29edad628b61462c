/**
 * The driver's hand on the workers: faults at random moments, `faultsPerMinute` on average
 * across the fleet (a rate in time, as a fleet meets them, so a faster stack is not struck
 * more often): SIGKILL, SIGSTOP (and later SIGCONT) or SIGTERM to a random ready worker, or a
 * strike armed to kill the next worker that stores a model's answer or commits
 * (strike-proxy.ts). It respawns every worker that exits so the stack keeps its number of
 * workers. Each fault is recorded with the jobs its worker held at that moment, for the
 * recovery times.
 */
import type { LocalStack, WorkerProcess } from '../../../services/local/stack.js';
import type { FaultKind, FaultMoment, WorkerFault } from '../../../test/support/chaos/history-checker.js';
import type { Rng } from './rng.js';
import type { StrikeMoment, StrikeRequest, StrikeWhen } from './strike-proxy.js';

export type FaultChoice = 'SIGKILL' | 'SIGSTOP' | 'SIGTERM' | 'strike-after-return' | 'strike-during-commit';

export interface WorkerChaosOptions {
  stack: LocalStack;
  rng: Rng;
  /** Worker faults per minute across all workers, on average (a Poisson process). */
  faultsPerMinute: number;
  /** Relative frequency of each fault. */
  weights: Readonly<Record<FaultChoice, number>>;
  /** How long a SIGSTOP lasts before the SIGCONT: [min, max) ms. */
  stopMs: readonly [number, number];
  /** The jobs each worker pid holds a lease on now (strike-proxy.ts). */
  holders(): ReadonlyMap<string, number>;
  log(line: string): void;
}

/** A fault as the driver recorded it. */
export interface FaultRecord extends WorkerFault {
  /** The jobs whose lease the worker held when it was signalled. */
  jobs: string[];
  /** SIGKILL and SIGTERM: when the process was gone. */
  exitedAt?: number;
  /** Strikes: the request caught, and whether it landed. */
  strike?: { jobId: string; when: StrikeWhen };
}

export class WorkerChaos {
  readonly faults: FaultRecord[] = [];
  private running = false;
  private stopping = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Workers that logged "worker ready" (random faults pick among these). */
  private readonly ready = new Set<number>();
  private armed?: StrikeMoment;
  private readonly stopped = new Map<number, NodeJS.Timeout>();
  private readonly watched = new Set<WorkerProcess>();
  private readonly spawns = new Set<Promise<unknown>>();
  respawned = 0;
  /** Kinds of fault not drawn yet. */
  private readonly notYet: Set<FaultChoice>;

  constructor(private readonly opts: WorkerChaosOptions) {
    this.notYet = new Set((Object.keys(opts.weights) as FaultChoice[]).filter((k) => opts.weights[k] > 0));
  }

  /** Starts injecting faults and watching the workers (all of them ready by now). */
  start(): void {
    this.running = true;
    for (const w of this.opts.stack.workers) {
      this.ready.add(w.pid);
      this.watch(w);
    }
    this.scheduleNext();
  }

  /** The next fault, at a random moment (exponential gaps with the configured mean). */
  private scheduleNext(): void {
    if (!this.running) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.running) return;
      this.inject();
      this.scheduleNext();
    }, this.opts.rng.exponential(60_000 / this.opts.faultsPerMinute));
    this.timers.add(t);
  }

  /** Stops injecting faults (SIGCONTs every stopped worker); respawning goes on until close(). */
  calm(): void {
    this.running = false;
    this.armed = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const [pid, t] of this.stopped) {
      clearTimeout(t);
      this.resume(pid);
    }
  }

  /** Stops everything, waits for spawns in progress. */
  async close(): Promise<void> {
    this.calm();
    this.stopping = true;
    await Promise.allSettled([...this.spawns]);
  }

  /** strike-proxy.ts asks: strike this request? Only when a strike is armed for its moment, and only our own workers. */
  decide(request: StrikeRequest): StrikeWhen | undefined {
    if (!this.running || this.armed !== request.moment || !this.workerOf(request.pid)) return undefined;
    this.armed = undefined;
    return this.opts.rng.chance(0.5) ? 'before' : 'after';
  }

  /** strike-proxy.ts: kill the worker now. */
  strike(request: StrikeRequest, when: StrikeWhen): void {
    const worker = this.workerOf(request.pid);
    if (!worker) return;
    this.signal(worker, 'SIGKILL', request.moment, { jobId: request.jobId, when });
  }

  private inject(): void {
    // Every kind first (in random order), so even a short run strikes with each; then by weight.
    // A kind counts as done only once it struck (signal): an armed strike whose moment did not
    // come, or a signal with no worker to take it, is drawn again.
    const choice = this.notYet.size > 0 ? this.opts.rng.pick([...this.notYet]) : this.opts.rng.weighted(this.opts.weights);
    if (choice === 'strike-after-return' || choice === 'strike-during-commit') {
      this.armed = choice === 'strike-after-return' ? 'after-return' : 'during-commit';
      return;
    }
    const live = this.live();
    // Never stop the last worker still running: someone must make progress to be interrupted.
    if (live.length < (choice === 'SIGSTOP' ? 2 : 1)) return;
    this.signal(this.opts.rng.pick(live), choice, 'random');
  }

  private signal(worker: WorkerProcess, kind: FaultKind, moment: FaultMoment, strike?: FaultRecord['strike']): void {
    const at = Date.now();
    const jobs = [...this.opts.holders()].filter(([, pid]) => pid === worker.pid).map(([jobId]) => jobId);
    worker.kill(kind);
    this.notYet.delete(moment === 'random' ? (kind as FaultChoice) : moment === 'after-return' ? 'strike-after-return' : 'strike-during-commit');
    const fault: FaultRecord = { kind, moment, pid: worker.pid, at, jobs, ...(strike ? { strike } : {}) };
    this.faults.push(fault);
    this.opts.log(`${kind} ${moment} worker ${worker.pid} (${jobs.length} jobs)${strike ? ` on ${strike.jobId} ${strike.when} its request landed` : ''}`);
    if (kind === 'SIGSTOP') {
      const ms = this.opts.rng.between(...this.opts.stopMs);
      this.stopped.set(
        worker.pid,
        setTimeout(() => {
          fault.until = Date.now();
          this.resume(worker.pid);
        }, ms),
      );
    } else {
      void worker.exited.then(() => (fault.exitedAt = Date.now()));
    }
  }

  private resume(pid: number): void {
    this.stopped.delete(pid);
    this.workerOf(pid)?.kill('SIGCONT');
  }

  private live(): WorkerProcess[] {
    return this.opts.stack.workers.filter((w) => !w.hasExited() && this.ready.has(w.pid) && !this.stopped.has(w.pid));
  }

  private workerOf(pid: number): WorkerProcess | undefined {
    return this.opts.stack.workers.find((w) => w.pid === pid && !w.hasExited());
  }

  /** Respawns a worker whenever one exits, so the stack keeps its number of workers. */
  private watch(worker: WorkerProcess): void {
    if (this.watched.has(worker)) return;
    this.watched.add(worker);
    void worker.exited.then(() => {
      if (this.stopping) return;
      // A worker killed while it starts fails spawnWorker, but it is in the list: watched all the same.
      const spawning = this.opts.stack.spawnWorker().then(
        (w) => {
          this.respawned++;
          this.ready.add(w.pid);
        },
        (err: unknown) => this.opts.log(`a respawned worker did not get ready: ${(err as Error).message.split('\n')[0]}`),
      );
      void spawning.finally(() => this.opts.stack.workers.forEach((w) => this.watch(w)));
      this.spawns.add(spawning);
      void spawning.finally(() => this.spawns.delete(spawning));
      setImmediate(() => this.opts.stack.workers.forEach((w) => this.watch(w)));
    });
  }
}
