import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { JobItem, ResultItem, StateItem, TransitionRecord } from '../../contracts/job.js';
import { isTerminal } from '../../contracts/job.js';
import type { AcquireResult, CancelRequestResult, CommitRequest, FirstCommit, Lease, RedriveRequest, RedriveRequestResult, SnapshotStore } from '../../ports/snapshot-store.js';
import { CancelRequestedError, FencedError } from '../../errors.js';
import { NOT_FINISHED } from './dynamo-conditions.js';
import { failedTransactionItems, isConditionalFailure } from './dynamo-errors.js';
import { putParts, storedPiecesOf } from './dynamo-result-store.js';

/** A redrive that lost a race against another write to the State item reads and tries again this often. */
const REDRIVE_TRIES = 3;

/** BatchGetItem reads at most this many keys per request. */
const BATCH_GET_MAX_KEYS = 100;

/**
 * Step outputs a commit writes inside its transaction, at most (TransactWriteItems takes 100
 * items and 4 MB): any beyond are written just before it, which keeps save-then-act.
 */
const INLINE_RESULTS_MAX = 25;
const INLINE_RESULT_BYTES_MAX = 2 * 1024 * 1024;


export interface SnapshotTables {
  state: string;
  transitions: string;
  jobs: string;
  /** The Results table, for step outputs written with a commit (only the worker commits). */
  results?: string;
}

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;
type StateUpdate = { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> };

/**
 * The State table with fencing: every lease acquisition increments `epoch`, and every
 * commit is conditional on (version, epoch), so a worker that lost its lease can never
 * overwrite the one that took over. Each commit also appends the transition to the
 * Transitions table in the same transaction, so the history is gapless and linear.
 *
 * Cancel and completion race on conditions, never on timing: a cancel sets the State
 * item's flag only while the Jobs item is not finished, and a commit that finishes the job
 * otherwise than cancelled requires the flag to be absent. DynamoDB serialises the two
 * transactions, so exactly one of them wins.
 */
export class DynamoSnapshotStore implements SnapshotStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: SnapshotTables,
  ) {}

  async acquire(jobId: string, owner: string, leaseMs: number, now: number, first?: FirstCommit): Promise<AcquireResult> {
    const expiresAt = now + leaseMs;
    if (first) {
      const lease = await this.startFresh(jobId, owner, expiresAt, now, first);
      if (lease) return { kind: 'acquired', lease };
    }
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.state,
          Key: { jobId },
          UpdateExpression:
            'SET epoch = epoch + :one, leaseOwner = :o, leaseExpiresAt = :x, versionAtAcquire = version, stalledRuns = if_not_exists(stalledRuns, :zero) + :one',
          ConditionExpression: 'attribute_exists(jobId) AND (attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt <= :now)',
          ExpressionAttributeValues: { ':one': 1, ':zero': 0, ':o': owner, ':x': expiresAt, ':now': now },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = out.Attributes as StateItem;
      const progressed = old.versionAtAcquire !== undefined && old.version > old.versionAtAcquire;
      const stalledRuns = progressed ? 1 : (old.stalledRuns ?? 0) + 1;
      const state: StateItem = { ...old, epoch: old.epoch + 1, leaseOwner: owner, leaseExpiresAt: expiresAt, stalledRuns };
      if (stalledRuns !== (old.stalledRuns ?? 0) + 1) await this.setStalledRuns(jobId, state.epoch, owner, stalledRuns);
      // `versionAtAcquire` in the returned state is the PREVIOUS acquisition's, so the caller can tell progress.
      return { kind: 'acquired', lease: { jobId, owner, epoch: state.epoch, expiresAt, state } };
    } catch (err) {
      if (!isConditionalFailure(err)) throw err;
      const current = await this.get(jobId);
      if (!current) return { kind: 'missing' };
      return { kind: 'held', owner: current.leaseOwner ?? 'unknown', expiresAt: current.leaseExpiresAt ?? now };
    }
  }

  /**
   * The lease and the first commit in one transaction, for a job nobody has taken yet
   * (version 0, epoch 0, no cancel flag, no live lease); undefined (nothing written) otherwise.
   */
  private async startFresh(jobId: string, owner: string, expiresAt: number, now: number, first: FirstCommit): Promise<Lease | undefined> {
    const request: CommitRequest = { ...first, jobId, expectedVersion: 0, epoch: 1 };
    const items = this.commitItems(request, {
      UpdateExpression:
        'SET #snapshot = :s, machineVersion = :m, version = :next, epoch = :e, leaseOwner = :o, leaseExpiresAt = :x, versionAtAcquire = :v, stalledRuns = :one',
      ConditionExpression:
        'version = :v AND epoch = :zero AND attribute_not_exists(cancelRequested) AND (attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt <= :now)',
      ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':o': owner, ':x': expiresAt, ':now': now },
    });
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      if (failedTransactionItems(err)?.length) return undefined;
      throw err;
    }
    const state: StateItem = { jobId, version: 0, epoch: 1, leaseOwner: owner, leaseExpiresAt: expiresAt, versionAtAcquire: 0, stalledRuns: 1, expiresAt: first.transition.expiresAt ?? 0 };
    return { jobId, owner, epoch: 1, expiresAt, state, first: { request } };
  }

  async commit(request: CommitRequest): Promise<void> {
    const { jobId, expectedVersion, epoch, transition } = request;
    // Every commit but the one that ends the job cancelled requires the cancel flag absent: a
    // cancelled job schedules no further step, and cannot end otherwise.
    const refusesCancelled = transition.status !== 'cancelled';
    const lease = request.release
      ? { set: ', leaseExpiresAt = :zero REMOVE leaseOwner', values: { ':zero': 0 } }
      : request.renewLeaseUntil !== undefined
        ? { set: ', leaseExpiresAt = :x', values: { ':x': request.renewLeaseUntil } }
        : { set: '', values: {} };
    const items = this.commitItems(request, {
      UpdateExpression: `SET #snapshot = :s, machineVersion = :m, version = :next${lease.set}`,
      ConditionExpression: `version = :v AND epoch = :e${refusesCancelled ? ' AND attribute_not_exists(cancelRequested)' : ''}`,
      ExpressionAttributeValues: lease.values,
    });
    items.push(...(await this.resultItems(request.results ?? [])));
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      const failed = failedTransactionItems(err);
      if (!failed?.length) throw err;
      if (refusesCancelled && failed.includes(0)) {
        // Fenced, or the cancel flag: still our version and epoch means it was the flag.
        const state = await this.get(jobId);
        if (state?.cancelRequested && state.epoch === epoch && state.version === expectedVersion) {
          throw new CancelRequestedError(jobId, state.cancelReason, { cause: err });
        }
      }
      throw new FencedError(jobId, `commit of version ${expectedVersion + 1} of job ${jobId} was fenced off`, { cause: err });
    }
  }

  /**
   * A commit's transaction: the State item (`state` adds to version, snapshot and the fencing
   * condition), the transition record and the Jobs status when it changed.
   */
  private commitItems(request: CommitRequest, state: StateUpdate): TransactItems {
    const { jobId, expectedVersion, epoch, transition, jobStatus } = request;
    const items: TransactItems = [
      {
        Update: {
          TableName: this.tables.state,
          Key: { jobId },
          // `snapshot` is a DynamoDB reserved word.
          UpdateExpression: state.UpdateExpression,
          ConditionExpression: state.ConditionExpression,
          ExpressionAttributeNames: { '#snapshot': 'snapshot' },
          ExpressionAttributeValues: {
            ':s': request.snapshot,
            ':m': request.machineVersion,
            ':next': expectedVersion + 1,
            ':v': expectedVersion,
            ':e': epoch,
            ...state.ExpressionAttributeValues,
          },
        },
      },
      {
        Put: {
          TableName: this.tables.transitions,
          Item: transition,
          ConditionExpression: 'attribute_not_exists(seq)',
        },
      },
    ];
    if (jobStatus) {
      items.push({
        Update: {
          TableName: this.tables.jobs,
          Key: { jobId },
          UpdateExpression: `SET #s = :s, #g = :g, updatedAt = :u${jobStatus.reason === undefined ? '' : ', reason = :r'}`,
          ConditionExpression: NOT_FINISHED.expression,
          ExpressionAttributeNames: { '#s': 'status', '#g': 'stage' },
          ExpressionAttributeValues: {
            ':s': jobStatus.status,
            ':g': jobStatus.stage,
            ':u': new Date(transition.at).toISOString(),
            ...(jobStatus.reason === undefined ? {} : { ':r': jobStatus.reason }),
            ...NOT_FINISHED.values,
          },
        },
      });
    }
    return items;
  }

  /**
   * The Put items of a commit's step outputs. Parts of a long output, and outputs past the
   * transaction's budget, are written first (a part, or an output no snapshot refers to yet,
   * is harmless if the commit then fails).
   */
  private async resultItems(results: ResultItem[]): Promise<TransactItems> {
    if (!results.length) return [];
    const table = this.tables.results;
    if (!table) throw new Error('this snapshot store has no Results table to write step outputs to');
    const items: TransactItems = [];
    let bytes = 0;
    for (const result of results) {
      const { main, parts } = storedPiecesOf(result);
      await putParts(this.doc, table, parts);
      bytes += Buffer.byteLength(main.text);
      if (items.length < INLINE_RESULTS_MAX && bytes <= INLINE_RESULT_BYTES_MAX) items.push({ Put: { TableName: table, Item: main } });
      else await this.doc.send(new PutCommand({ TableName: table, Item: main }));
    }
    return items;
  }

  async heartbeat(lease: Lease, leaseMs: number, now: number): Promise<{ cancelRequested: boolean; cancelReason?: string }> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.state,
          Key: { jobId: lease.jobId },
          UpdateExpression: 'SET leaseExpiresAt = :x',
          ConditionExpression: 'epoch = :e AND leaseOwner = :o',
          ExpressionAttributeValues: { ':x': now + leaseMs, ':e': lease.epoch, ':o': lease.owner },
          ReturnValues: 'ALL_NEW',
        }),
      );
      lease.expiresAt = now + leaseMs;
      const item = out.Attributes as StateItem;
      return { cancelRequested: item.cancelRequested === true, cancelReason: item.cancelReason };
    } catch (err) {
      if (isConditionalFailure(err)) throw new FencedError(lease.jobId, undefined, { cause: err });
      throw err;
    }
  }

  /**
   * The previous run made progress, so the count starts again at this run. A second write
   * rather than arithmetic DynamoDB cannot express in one; only a resumed job needs it, once.
   */
  private async setStalledRuns(jobId: string, epoch: number, owner: string, stalledRuns: number): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.state,
          Key: { jobId },
          UpdateExpression: 'SET stalledRuns = :n',
          ConditionExpression: 'epoch = :e AND leaseOwner = :o',
          ExpressionAttributeValues: { ':n': stalledRuns, ':e': epoch, ':o': owner },
        }),
      );
    } catch (err) {
      // Fenced already: the next acquisition counts from what is stored.
      if (!isConditionalFailure(err)) throw err;
    }
  }

  async release(lease: Lease, opts: { handedOver?: boolean } = {}): Promise<void> {
    if (lease.released) return;
    const refund = opts.handedOver ? ', stalledRuns = if_not_exists(stalledRuns, :one) - :one' : '';
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.state,
          Key: { jobId: lease.jobId },
          UpdateExpression: `SET leaseExpiresAt = :zero${refund} REMOVE leaseOwner`,
          ConditionExpression: 'epoch = :e AND leaseOwner = :o',
          ExpressionAttributeValues: { ':zero': 0, ':e': lease.epoch, ':o': lease.owner, ...(refund ? { ':one': 1 } : {}) },
        }),
      );
    } catch (err) {
      if (!isConditionalFailure(err)) throw err;
    }
  }

  async get(jobId: string): Promise<StateItem | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tables.state, Key: { jobId }, ConsistentRead: true }));
    return out.Item as StateItem | undefined;
  }

  async requestCancel(jobId: string, reason: string): Promise<CancelRequestResult> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tables.jobs,
                Key: { jobId },
                ConditionExpression: `attribute_exists(jobId) AND ${NOT_FINISHED.expression}`,
                ExpressionAttributeNames: { '#s': 'status' },
                ExpressionAttributeValues: NOT_FINISHED.values,
              },
            },
            {
              Update: {
                TableName: this.tables.state,
                Key: { jobId },
                // The first reason stays: a repeated cancel changes nothing.
                UpdateExpression: 'SET cancelRequested = :t, cancelReason = if_not_exists(cancelReason, :r)',
                ConditionExpression: 'attribute_exists(jobId)',
                ExpressionAttributeValues: { ':t': true, ':r': reason },
              },
            },
          ],
        }),
      );
      return { kind: 'requested' };
    } catch (err) {
      if (!failedTransactionItems(err)?.length) throw err;
      const out = await this.doc.send(new GetCommand({ TableName: this.tables.jobs, Key: { jobId }, ConsistentRead: true }));
      const job = out.Item as JobItem | undefined;
      if (job && isTerminal(job.status)) return { kind: 'finished', status: job.status };
      throw err;
    }
  }

  async requestRedrive({ jobId, at, expiresAt }: RedriveRequest): Promise<RedriveRequestResult> {
    for (let tries = 1; ; tries++) {
      const state = await this.get(jobId);
      if (!state) throw new Error(`job ${jobId} has no state item`);
      const transition: TransitionRecord = { jobId, seq: state.version + 1, at, event: 'job.redriven', status: 'queued', stage: 'queued', changes: [], expiresAt };
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tables.jobs,
                  Key: { jobId },
                  UpdateExpression: 'SET #s = :queued, #g = :queued, updatedAt = :u REMOVE reason',
                  ConditionExpression: '#s = :failed',
                  ExpressionAttributeNames: { '#s': 'status', '#g': 'stage' },
                  ExpressionAttributeValues: { ':queued': 'queued', ':failed': 'failed', ':u': new Date(at).toISOString() },
                },
              },
              {
                Update: {
                  TableName: this.tables.state,
                  Key: { jobId },
                  // A cancel flag left by the run that failed must not stop the redriven one.
                  UpdateExpression: 'SET version = :next, redriveVersion = :next REMOVE cancelRequested, cancelReason',
                  ConditionExpression: 'version = :v',
                  ExpressionAttributeValues: { ':v': state.version, ':next': transition.seq },
                },
              },
              { Put: { TableName: this.tables.transitions, Item: transition, ConditionExpression: 'attribute_not_exists(seq)' } },
            ],
          }),
        );
        return { kind: 'requested', transition };
      } catch (err) {
        const failed = failedTransactionItems(err);
        if (!failed?.length) throw err;
        if (failed.includes(0)) {
          const out = await this.doc.send(new GetCommand({ TableName: this.tables.jobs, Key: { jobId }, ConsistentRead: true }));
          const job = out.Item as JobItem | undefined;
          if (!job) throw err;
          if (job.status !== 'failed') return { kind: 'not-failed', status: job.status };
        }
        // Still failed, but the State item moved between our read and write: read it again.
        if (tries >= REDRIVE_TRIES) throw err;
      }
    }
  }

  async cancelRequests(jobIds: readonly string[]): Promise<Map<string, string>> {
    const requested = new Map<string, string>();
    for (let i = 0; i < jobIds.length; i += BATCH_GET_MAX_KEYS) {
      const out = await this.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tables.state]: {
              Keys: jobIds.slice(i, i + BATCH_GET_MAX_KEYS).map((jobId) => ({ jobId })),
              // Strongly consistent: a flag set just before is seen now, not after replication.
              ConsistentRead: true,
              ProjectionExpression: 'jobId, cancelRequested, cancelReason',
            },
          },
        }),
      );
      // Unprocessed keys (throttling) are simply read again on the caller's next round.
      for (const item of (out.Responses?.[this.tables.state] ?? []) as StateItem[]) {
        if (item.cancelRequested === true) requested.set(item.jobId, item.cancelReason ?? '');
      }
    }
    return requested;
  }

  async transitionsAfter(jobId: string, afterSeq: number, limit = 1000): Promise<TransitionRecord[]> {
    const items: TransitionRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tables.transitions,
          KeyConditionExpression: 'jobId = :j AND seq > :a',
          ExpressionAttributeValues: { ':j': jobId, ':a': afterSeq },
          ConsistentRead: true,
          Limit: Math.min(limit - items.length, 500),
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items ?? []) as TransitionRecord[]));
      start = out.LastEvaluatedKey;
    } while (start && items.length < limit);
    return items;
  }
}
