/**
 * The State table as the worker uses it, with what telemetry needs to hear: each commit
 * (its transition and how long the write took), a commit fenced off by another worker, and
 * a heartbeat that found the lease lost. Behaviour is the inner store's, errors included.
 */
import { FencedError } from '../../shared/errors.js';
import type { Clock, CommitRequest, Lease, RedriveRequest, SnapshotStore } from '../../shared/ports/index.js';

export interface CommitObserver {
  committed(request: CommitRequest, at: number, ms: number): void;
  fenced(jobId: string): void;
  leaseLost(jobId: string): void;
}

export class ObservedSnapshotStore implements SnapshotStore {
  constructor(
    private readonly inner: SnapshotStore,
    private readonly clock: Clock,
    private readonly observer: CommitObserver,
  ) {}

  async acquire(...args: Parameters<SnapshotStore['acquire']>) {
    const started = this.clock.now();
    const result = await this.inner.acquire(...args);
    // A first commit written with the lease is heard once its run has begun (it needs the run).
    if (result.kind === 'acquired' && result.lease.first) result.lease.first.ms = this.clock.now() - started;
    return result;
  }

  async commit(request: CommitRequest): Promise<void> {
    const started = this.clock.now();
    try {
      await this.inner.commit(request);
    } catch (err) {
      if (err instanceof FencedError) this.observer.fenced(request.jobId);
      throw err;
    }
    const at = this.clock.now();
    this.observer.committed(request, at, at - started);
  }

  async heartbeat(lease: Lease, leaseMs: number, now: number) {
    try {
      return await this.inner.heartbeat(lease, leaseMs, now);
    } catch (err) {
      if (err instanceof FencedError) this.observer.leaseLost(lease.jobId);
      throw err;
    }
  }

  release(lease: Lease, opts?: { handedOver?: boolean }) {
    return this.inner.release(lease, opts);
  }

  get(jobId: string) {
    return this.inner.get(jobId);
  }

  requestCancel(jobId: string, reason: string) {
    return this.inner.requestCancel(jobId, reason);
  }

  requestRedrive(request: RedriveRequest) {
    return this.inner.requestRedrive(request);
  }

  cancelRequests(jobIds: readonly string[]) {
    return this.inner.cancelRequests(jobIds);
  }

  transitionsAfter(jobId: string, afterSeq: number, limit?: number) {
    return this.inner.transitionsAfter(jobId, afterSeq, limit);
  }
}
