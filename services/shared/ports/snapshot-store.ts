import type { StateItem, TransitionRecord, JobStatus, JobStage } from '../contracts/job.js';

export interface Lease {
  jobId: string;
  owner: string;
  epoch: number;
  /** Epoch ms. */
  expiresAt: number;
  /** The item as it was when the lease was taken. */
  state: StateItem;
}

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
}

/** What a cancel request did: flagged a job still running, or found it already finished. */
export type CancelRequestResult = { kind: 'requested' } | { kind: 'finished'; status: JobStatus };

/** The State table (plus the Transitions history, written in the same transaction). */
export interface SnapshotStore {
  /**
   * Takes the lease on a job's State item (JobStore.create made it, version 0, epoch 0):
   * increments its epoch when no live lease is held. `held` names the live lease's owner;
   * `missing` means there is no State item.
   */
  acquire(jobId: string, owner: string, leaseMs: number, now: number): Promise<AcquireResult>;
  /**
   * Commits one transition; throws FencedError if version or epoch moved. A commit that
   * finishes the job as succeeded or failed throws CancelRequestedError instead when a cancel
   * was requested first, so a job whose cancel was accepted can only end cancelled.
   */
  commit(request: CommitRequest): Promise<void>;
  /** Extends the lease; throws FencedError if it is no longer ours. Returns the cancel flag. */
  heartbeat(lease: Lease, leaseMs: number, now: number): Promise<{ cancelRequested: boolean; cancelReason?: string }>;
  /** Gives the lease up (expires it now); a lost lease is not an error here. */
  release(lease: Lease): Promise<void>;
  get(jobId: string): Promise<StateItem | undefined>;
  /**
   * Flags a cancel for the worker to pick up, only while the job is not finished: atomically
   * against the worker's final commit, so either the flag is set and the job will end
   * cancelled, or the job had already finished and its status is returned.
   */
  requestCancel(jobId: string, reason: string): Promise<CancelRequestResult>;
  /** The cancel reasons of those of `jobIds` whose cancel was requested (one strongly consistent batch read). */
  cancelRequests(jobIds: readonly string[]): Promise<Map<string, string>>;
  /** Committed transitions with seq > afterSeq, in order. */
  transitionsAfter(jobId: string, afterSeq: number, limit?: number): Promise<TransitionRecord[]>;
}
