/**
 * The State table's commit against DynamoDB Local: the step outputs a commit carries are
 * written in its transaction (a long one in parts), the lease is renewed with it, and a
 * commit fenced off writes nothing — no output, no transition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { JobItem, ResultItem, TransitionRecord } from '../../services/shared/contracts/job.js';
import { DynamoJobStore } from '../../services/shared/adapters/aws/dynamo-job-store.js';
import { DynamoResultStore, RESULT_PART_BYTES } from '../../services/shared/adapters/aws/dynamo-result-store.js';
import { DynamoSnapshotStore } from '../../services/shared/adapters/aws/dynamo-snapshot-store.js';
import { FencedError } from '../../services/shared/errors.js';
import type { CommitRequest, Lease } from '../../services/shared/ports/index.js';
import { startAwsLocal, type AwsLocal } from '../support/aws-local.js';

let aws: AwsLocal;
let snapshots: DynamoSnapshotStore;
let results: DynamoResultStore;
let jobs: DynamoJobStore;

beforeAll(async () => {
  aws = await startAwsLocal();
  const { doc, tables } = aws;
  snapshots = new DynamoSnapshotStore(doc, { state: tables.state, transitions: tables.transitions, jobs: tables.jobs, results: tables.results });
  results = new DynamoResultStore(doc, tables.results);
  jobs = new DynamoJobStore(doc, { jobs: tables.jobs, state: tables.state });
}, 120_000);
afterAll(async () => {
  await aws?.stop();
});

const expiresAt = Math.floor(Date.now() / 1000) + 86_400;

/** A queued job, leased by worker "w" (version 0, epoch 1). */
async function leasedJob(): Promise<Lease> {
  const jobId = randomUUID();
  const job: JobItem = {
    jobId, owner: 'erin', question: 'Should I keep renting?', questionPreview: 'Should I keep renting?', advisors: ['claude', 'mistral'],
    mode: 'quick', status: 'queued', stage: 'queued', createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), expiresAt,
  };
  await jobs.create(job);
  const acquired = await snapshots.acquire(jobId, 'w', 6_000, Date.now());
  if (acquired.kind !== 'acquired') throw new Error(`could not lease ${jobId}: ${acquired.kind}`);
  return acquired.lease;
}

function output(jobId: string, stepId: string, text: string): ResultItem {
  return {
    jobId, stepKey: `${stepId}#1`, stepId, attempt: 1, advisorId: stepId.split('.')[1] ?? 'chair', modelId: 'm', text,
    usage: { inputTokens: 10, outputTokens: 10 }, costUsd: 0.001, stopReason: 'end_turn', createdAt: new Date().toISOString(), expiresAt,
  };
}

function commitOf(lease: Lease, extra: Partial<CommitRequest>): CommitRequest {
  const transition: TransitionRecord = { jobId: lease.jobId, seq: lease.state.version + 1, at: Date.now(), event: 'step.done', status: 'running', stage: 'advising', changes: [], expiresAt };
  return { jobId: lease.jobId, expectedVersion: lease.state.version, epoch: lease.epoch, snapshot: '{}', machineVersion: 'v', transition, ...extra };
}

describe('a commit with step outputs', () => {
  it('stores them with the transition, a long one whole across its parts, and renews the lease', async () => {
    const lease = await leasedJob();
    const long = 'Rent for now; buy once the rate falls. '.repeat(Math.ceil((RESULT_PART_BYTES * 2.5) / 39));
    const renewLeaseUntil = Date.now() + 60_000;
    await snapshots.commit(commitOf(lease, { renewLeaseUntil, results: [output(lease.jobId, 'advise.claude', 'Keep renting.'), output(lease.jobId, 'advise.mistral', long)] }));

    expect((await results.get(lease.jobId, 'advise.claude#1'))?.text).toBe('Keep renting.');
    expect((await results.get(lease.jobId, 'advise.mistral#1'))?.text).toBe(long);
    expect((await snapshots.transitionsAfter(lease.jobId, 0)).map((t) => t.seq)).toEqual([1]);
    expect((await snapshots.get(lease.jobId))?.leaseExpiresAt).toBe(renewLeaseUntil);
  });

  it('writes over an output a fenced-off run stored for the same attempt: the committed one is the job\'s', async () => {
    const lease = await leasedJob();
    expect(await results.putOnce(output(lease.jobId, 'advise.claude', 'The fenced run\'s answer.'))).toBe(true);
    await snapshots.commit(commitOf(lease, { results: [output(lease.jobId, 'advise.claude', 'The committed answer.')] }));
    expect((await results.get(lease.jobId, 'advise.claude#1'))?.text).toBe('The committed answer.');
  });

  it('stores nothing when the commit is fenced off', async () => {
    const lease = await leasedJob();
    const stale = { ...lease, epoch: lease.epoch - 1 };
    await expect(snapshots.commit(commitOf(stale, { results: [output(lease.jobId, 'advise.claude', 'Too late.')] }))).rejects.toBeInstanceOf(FencedError);
    expect(await results.get(lease.jobId, 'advise.claude#1')).toBeUndefined();
    expect(await snapshots.transitionsAfter(lease.jobId, 0)).toEqual([]);
  });
});
