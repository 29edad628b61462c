/**
 * What a chaos run left behind, read for the history checker: the Jobs, State and
 * Transitions items of every job (straight from DynamoDB Local, past the strike proxy), the
 * Bedrock stand-in's call log, and the dead-letter queue — peeked at during the run, since
 * a worker's DLQ sweep hides each message it handles for 15 minutes, and counted at the end.
 */
import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { JobStatus, StateItem } from '../../../services/shared/contracts/job.js';
import type { CallLogEntry } from '../../../services/local/bedrock/standin.types.js';
import type { TableNames } from '../../../services/local/bootstrap.js';
import type { JobEvidence, ModelCall } from '../../../test/support/chaos/history-checker.js';
import { transitionsOf } from '../jobs.js';

/** Reads `keys` of `table` in batches of 100, strongly consistent. */
export async function batchGet<T>(doc: DynamoDBDocumentClient, table: string, jobIds: readonly string[], projection?: string): Promise<T[]> {
  const items: T[] = [];
  for (let i = 0; i < jobIds.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = jobIds.slice(i, i + 100).map((jobId) => ({ jobId }));
    while (keys?.length) {
      const out: BatchGetCommandOutput = await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: keys,
              ConsistentRead: true,
              ...(projection ? { ProjectionExpression: projection } : {}),
              ...(projection?.includes('#s') ? { ExpressionAttributeNames: { '#s': 'status' } } : {}),
            },
          },
        }),
      );
      items.push(...((out.Responses?.[table] ?? []) as T[]));
      keys = out.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return items;
}

/** The Jobs table's status of each job. */
export async function statusesOf(doc: DynamoDBDocumentClient, tables: TableNames, jobIds: readonly string[]): Promise<Map<string, JobStatus>> {
  const items = await batchGet<{ jobId: string; status: JobStatus }>(doc, tables.jobs, jobIds, 'jobId, #s');
  return new Map(items.map((i) => [i.jobId, i.status]));
}

/** Every job's evidence: status, committed history, State item and model calls. */
export async function jobEvidence(doc: DynamoDBDocumentClient, tables: TableNames, jobIds: readonly string[], calls: readonly CallLogEntry[]): Promise<JobEvidence[]> {
  const statuses = await statusesOf(doc, tables, jobIds);
  const states = new Map((await batchGet<StateItem>(doc, tables.state, jobIds, 'jobId, version, leaseOwner, leaseExpiresAt')).map((s) => [s.jobId, s]));
  const callsByJob = new Map<string, ModelCall[]>();
  for (const c of calls) {
    const jobId = c.requestMetadata.jobId;
    if (!jobId) continue;
    const call: ModelCall = {
      step: c.requestMetadata.step ?? '?',
      attempt: Number(c.requestMetadata.attempt ?? 0),
      worker: c.requestMetadata.worker ?? '?',
      at: c.at,
      endedAt: c.endedAt,
      outcome: c.outcome,
      ...(c.requestMetadata.leaseCheckedAt ? { leaseCheckedAt: Number(c.requestMetadata.leaseCheckedAt) } : {}),
    };
    callsByJob.set(jobId, [...(callsByJob.get(jobId) ?? []), call]);
  }
  const evidence: JobEvidence[] = [];
  for (const jobId of jobIds) {
    const state = states.get(jobId);
    evidence.push({
      jobId,
      status: statuses.get(jobId) ?? ('missing' as JobStatus),
      history: await transitionsOf(doc, tables, jobId),
      state: state ? { version: state.version, leaseOwner: state.leaseOwner, leaseExpiresAt: state.leaseExpiresAt } : undefined,
      calls: callsByJob.get(jobId) ?? [],
    });
  }
  return evidence;
}

/** Looks at the DLQ now and then without taking its messages, noting the job ids it sees. */
export class DeadLetterWatch {
  readonly seen = new Map<string, string | undefined>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly sqs: SQSClient,
    private readonly url: string,
  ) {}

  start(everyMs = 1000): void {
    const tick = async (): Promise<void> => {
      await this.peek().catch(() => undefined);
      this.timer = setTimeout(() => void tick(), everyMs);
    };
    void tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Receives what is visible with a visibility of 0, so it stays where it is. */
  async peek(): Promise<void> {
    const out = await this.sqs.send(new ReceiveMessageCommand({ QueueUrl: this.url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0 }));
    for (const m of out.Messages ?? []) {
      if (!m.MessageId || this.seen.has(m.MessageId)) continue;
      let jobId: string | undefined;
      try {
        const body = JSON.parse(m.Body ?? '') as { jobId?: unknown };
        jobId = typeof body.jobId === 'string' ? body.jobId : undefined;
      } catch {
        jobId = undefined;
      }
      this.seen.set(m.MessageId, jobId);
    }
  }

  /** Messages in the DLQ, visible or not. */
  async count(): Promise<number> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
    );
    const a = out.Attributes ?? {};
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
  }
}
