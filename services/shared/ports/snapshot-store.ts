import type { ResultItem, StateItem, TransitionRecord, JobStatus, JobStage } from '../contracts/job.js';

export interface Lease {
  jobId: string;
  owner: string;
  epoch: number;
  /** Epoch ms. */
  expiresAt: number;
  /** The item as it was when the lease was taken. */
  state: StateItem;
  /** The job's first transition, committed in the same write that took the lease (see `acquire`). */
  first?: { request: CommitRequest; /** How long that write took (ms), once measured. */ ms?: number };
  /** Set once a commit has given the lease up (the job's last one): `release` has nothing left to do. */
  released?: boolean;
}

/** The first commit of a job no worker has started yet: version 1, by the worker taking the lease. */
export type FirstCommit = Omit<CommitRequest, 'jobId' | 'expectedVersion' | 'epoch' | 'release' | 'renewLeaseUntil' | 'results'>;

export type AcquireResult =
  | { kind: 'acquired'; lease: Lease }
  /** A live lease held by another worker. */
  | { kind: 'held'; owner: string; expiresAt: number }
  | { kind: 'missing' };

export interface CommitRequest {
  jobId: string;
  /** The version the item must have now; the commit makes it expectedVersion + 1. */
  expectedVersion: number;
  epoch: number;
  snapshot: string;
  machineVersion: string;
  transition: TransitionRecord;
  /** Status summary to write to the Jobs item in the same transaction, when it changed. */
  jobStatus?: { status: JobStatus; stage: JobStage; reason?: string };
  /** Give the lease up in the same write (the job's last commit). */
  release?: boolean;
  /** Otherwise, renew the lease to this time (epoch ms) in the same write: a commit is as good as a heartbeat. */
  renewLeaseUntil?: number;
  /**
   * Step outputs not stored yet, written to the Results table in the same transaction, so a
   * committed snapshot never refers to an output that is not stored (save, then act) and an
   * output costs no write of its own. Written over any output stored under the same key: the
   * commit's fencing decides whose output of an attempt is the job's.
   */
  results?: ResultItem[];
}

/** What a cancel request did: flagged a job still running, or found it already finished. */
export type CancelRequestResult = { kind: 'requested' } | { kind: 'finished'; status: JobStatus };

/** A redrive to record: the moment and the job's expiry (the transition is kept as long as the job). */
export interface RedriveRequest {
  jobId: string;
  at: number;
  expiresAt: number;
}

/** What a redrive request did: queued the failed job again (committing `transition`), or found it not failed. */
export type RedriveRequestResult = { kind: 'requested'; transition: TransitionRecord } | { kind: 'not-failed'; status: JobStatus };

/** The State table (plus the Transitions history, written in the same transaction). */
export interface SnapshotStore {
  /**
   * Takes the lease on a job's State item (JobStore.create made it, version 0, epoch 0) when
   * no live lease is held, incrementing its epoch, and counts the run in `stalledRuns` (reset
   * to 1 when the previous run made progress). `held` names the live lease's owner; `missing`
   * means there is no State item. With `first`, a job no worker has taken yet (version 0,
   * epoch 0, no cancel) is leased and its first transition committed in one write (the lease
   * then carries `first`); any other job is leased as without it.
   */
  acquire(jobId: string, owner: string, leaseMs: number, now: number, first?: FirstCommit): Promise<AcquireResult>;
  /**
   * Commits one transition; throws FencedError if version or epoch moved. Any commit but the
   * one that ends the job cancelled throws CancelRequestedError instead when a cancel was
   * requested first, so a job whose cancel was accepted starts nothing more and can only end
   * cancelled.
   */
  commit(request: CommitRequest): Promise<void>;
  /** Extends the lease; throws FencedError if it is no longer ours. Returns the cancel flag. */
  heartbeat(lease: Lease, leaseMs: number, now: number): Promise<{ cancelRequested: boolean; cancelReason?: string }>;
  /**
   * Gives the lease up (expires it now); a lost or already released lease is not an error
   * here. A clean hand-over takes its run back out of `stalledRuns`: an interruption is not a failure.
   */
  release(lease: Lease, opts?: { handedOver?: boolean }): Promise<void>;
  get(jobId: string): Promise<StateItem | undefined>;
  /**
   * Flags a cancel for the worker to pick up, only while the job is not finished: atomically
   * against the worker's final commit, so either the flag is set and the job will end
   * cancelled, or the job had already finished and its status is returned.
   */
  requestCancel(jobId: string, reason: string): Promise<CancelRequestResult>;
  /**
   * Redrives a failed job, only while it is failed: in one transaction the Jobs item becomes
   * queued again, the State item's version moves on (fencing off anything still holding the
   * failed run) and marks the redrive, and a `job.redriven` transition continues the history.
   * Of two redrives, or a redrive and anything else that moves the version, one wins.
   */
  requestRedrive(request: RedriveRequest): Promise<RedriveRequestResult>;
  /** The cancel reasons of those of `jobIds` whose cancel was requested (one strongly consistent batch read). */
  cancelRequests(jobIds: readonly string[]): Promise<Map<string, string>>;
  /** Committed transitions with seq > afterSeq, in order. */
  transitionsAfter(jobId: string, afterSeq: number, limit?: number): Promise<TransitionRecord[]>;
}
