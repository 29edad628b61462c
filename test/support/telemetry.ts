/**
 * Reading telemetry the way X-Ray and CloudWatch would: trace documents assembled into
 * trees (streamed subsegments hung under their parents, in-progress segments replaced by
 * their finished version), EMF lines parsed and checked against the format, and in-memory
 * stores for pure tests.
 */
import type { ResultItem, TransitionRecord } from '../../services/shared/contracts/job.js';
import type { RunRecord } from '../../services/shared/contracts/timeline.js';
import { FencedError } from '../../services/shared/errors.js';
import type { CommitRequest, Metrics, MetricValue, RunRecordStore, SnapshotStore } from '../../services/shared/ports/index.js';
import type { TraceDocument } from '../../services/local/xray-daemon.js';

export type { TraceDocument } from '../../services/local/xray-daemon.js';

/**
 * The segments of one trace as X-Ray shows them: the latest document of each segment id
 * (an in-progress one is kept only if nothing replaced it), with every streamed subsegment
 * attached under its parent.
 */
export function assembleTrace(documents: readonly TraceDocument[], traceId: string): TraceDocument[] {
  const mine = documents.filter((d) => d.trace_id === traceId).map((d) => structuredClone(d));
  const segments = new Map<string, TraceDocument>();
  for (const doc of mine) {
    if (doc.type === 'subsegment') continue;
    const seen = segments.get(doc.id);
    if (!seen || seen.in_progress) segments.set(doc.id, doc);
  }
  const nodes = new Map<string, TraceDocument>();
  const index = (doc: TraceDocument) => {
    nodes.set(doc.id, doc);
    for (const child of doc.subsegments ?? []) index(child);
  };
  for (const segment of segments.values()) index(segment);
  const streamed = mine.filter((d) => d.type === 'subsegment');
  for (const sub of streamed) index(sub);
  for (const sub of streamed) {
    const parent = sub.parent_id ? nodes.get(sub.parent_id) : undefined;
    if (parent && !(parent.subsegments ?? []).some((c) => c.id === sub.id)) (parent.subsegments ??= []).push(sub);
  }
  return [...segments.values()];
}

/** Every node under `doc` (itself included) named `name`. */
export function descendantsNamed(doc: TraceDocument, name: string): TraceDocument[] {
  const found: TraceDocument[] = doc.name === name ? [doc] : [];
  for (const child of doc.subsegments ?? []) found.push(...descendantsNamed(child, name));
  return found;
}

/** An EMF line as CloudWatch reads it. */
export interface EmfEvent {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

/**
 * Parses one EMF line and checks what CloudWatch requires of it: a timestamp, directives with
 * a namespace, dimension sets whose keys are top-level strings, and each metric's value(s) as
 * top-level numbers. Throws naming what is wrong.
 */
export function parseEmf(line: string): EmfEvent {
  const event = JSON.parse(line) as EmfEvent;
  const meta = event._aws;
  if (!meta || typeof meta.Timestamp !== 'number') throw new Error(`no _aws.Timestamp: ${line}`);
  for (const directive of meta.CloudWatchMetrics) {
    if (!directive.Namespace) throw new Error(`no namespace: ${line}`);
    for (const set of directive.Dimensions) {
      if (set.length > 30) throw new Error(`more than 30 dimensions: ${line}`);
      for (const key of set) if (typeof event[key] !== 'string') throw new Error(`dimension ${key} is not a string member: ${line}`);
    }
    for (const metric of directive.Metrics) {
      const value = event[metric.Name];
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0 || values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) throw new Error(`metric ${metric.Name} has no numeric value: ${line}`);
    }
  }
  return event;
}

/** The values of `metric` in EMF events (whatever the dimensions), optionally only events matching `where`. */
export function emfValues(events: readonly EmfEvent[], metric: string, where: (e: EmfEvent) => boolean = () => true): number[] {
  return events
    .filter((e) => where(e) && e._aws.CloudWatchMetrics.some((d) => d.Metrics.some((m) => m.Name === metric)))
    .flatMap((e) => {
      const v = e[metric];
      return Array.isArray(v) ? (v as number[]) : [v as number];
    });
}

export const sum = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0);

export class MemoryRunRecordStore implements RunRecordStore {
  readonly records = new Map<string, RunRecord>();
  async put(record: RunRecord): Promise<void> {
    this.records.set(`${record.jobId}#${record.epoch}`, structuredClone(record));
  }
  async list(jobId: string): Promise<RunRecord[]> {
    return [...this.records.values()].filter((r) => r.jobId === jobId).sort((a, b) => a.epoch - b.epoch);
  }
}

/** Metrics kept in memory: each record with its dimension sets and properties. */
export class MemoryMetrics implements Metrics {
  readonly records: { values: MetricValue[]; dimensionSets: Record<string, string>[]; properties: Record<string, string | number> }[] = [];
  record(values: MetricValue[], dimensionSets: Record<string, string>[] = [{}], properties: Record<string, string | number> = {}): void {
    this.records.push({ values, dimensionSets, properties });
  }
  async flush(): Promise<void> {}
}

/**
 * Just enough of the State table for a JobRun: fenced commits by version, transitions and
 * the step outputs written with them kept, a heartbeat that can be told the lease is gone.
 */
export class MemoryCommitStore implements SnapshotStore {
  readonly transitions: TransitionRecord[] = [];
  /** Step outputs written with commits, by step key. */
  readonly results = new Map<string, ResultItem>();
  private readonly versions = new Map<string, number>();
  leaseGone = false;
  /** Set once a commit has given the lease up (the job's last): heartbeats are refused then. */
  released = false;
  /** A cancel the API accepted: heartbeats report it. */
  cancelReason?: string;
  /** Runs before each commit is decided, e.g. to hold one in flight. */
  beforeCommit?: (request: CommitRequest) => Promise<void>;
  /** Runs once a commit is stored, before it returns: its answer is still on its way. */
  afterCommit?: (request: CommitRequest) => Promise<void>;

  async commit(request: CommitRequest): Promise<void> {
    await this.beforeCommit?.(request);
    if (this.leaseGone || (this.versions.get(request.jobId) ?? 0) !== request.expectedVersion) throw new FencedError(request.jobId);
    this.versions.set(request.jobId, request.expectedVersion + 1);
    this.transitions.push(request.transition);
    for (const item of request.results ?? []) this.results.set(item.stepKey, item);
    if (request.release) this.released = true;
    await this.afterCommit?.(request);
  }
  async heartbeat(): Promise<{ cancelRequested: boolean; cancelReason?: string }> {
    if (this.leaseGone || this.released) throw new FencedError('lease');
    return { cancelRequested: this.cancelReason !== undefined, cancelReason: this.cancelReason };
  }
  async release(): Promise<void> {}
  async transitionsAfter(jobId: string, afterSeq: number): Promise<TransitionRecord[]> {
    return this.transitions.filter((t) => t.jobId === jobId && t.seq > afterSeq);
  }
  acquire(): never {
    throw new Error('the test leases its jobs itself');
  }
  get(): never {
    throw new Error('not used by a JobRun');
  }
  requestCancel(): never {
    throw new Error('not used by a JobRun');
  }
  cancelRequests(): never {
    throw new Error('not used by a JobRun');
  }
  requestRedrive(): never {
    throw new Error('not used by a JobRun');
  }
}
