import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { JobItem, JobStage, JobStatus, StateItem } from '../../contracts/job.js';
import { INDEX } from '../../contracts/names.js';
import type { JobPage, JobStore } from '../../ports/job-store.js';
import { InvalidCursorError, JobExistsError } from '../../errors.js';
import { NOT_FINISHED } from './dynamo-conditions.js';
import { failedTransactionItems, isConditionalFailure } from './dynamo-errors.js';

interface CursorKey {
  jobId: string;
  owner: string;
  createdAt: string;
}

/** The Jobs table; a new job's empty State item is created in the same transaction. */
export class DynamoJobStore implements JobStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { jobs: string; state: string },
  ) {}

  async create(job: JobItem): Promise<void> {
    const state: StateItem = { jobId: job.jobId, version: 0, epoch: 0, expiresAt: job.expiresAt };
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tables.jobs, Item: job, ConditionExpression: 'attribute_not_exists(jobId)' } },
            { Put: { TableName: this.tables.state, Item: state, ConditionExpression: 'attribute_not_exists(jobId)' } },
          ],
        }),
      );
    } catch (err) {
      if (failedTransactionItems(err)?.length) throw new JobExistsError(`job ${job.jobId} already exists`, { cause: err });
      throw err;
    }
  }

  async get(jobId: string): Promise<JobItem | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tables.jobs, Key: { jobId }, ConsistentRead: true }));
    return out.Item as JobItem | undefined;
  }

  /**
   * Reads one item more than the page holds: DynamoDB returns a LastEvaluatedKey whenever it
   * stopped at the limit, even with nothing after, so its presence cannot say "more".
   */
  async listByOwner(owner: string, limit: number, cursor?: string): Promise<JobPage> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tables.jobs,
        IndexName: INDEX.jobsByOwner,
        KeyConditionExpression: '#o = :o',
        ExpressionAttributeNames: { '#o': 'owner' },
        ExpressionAttributeValues: { ':o': owner },
        ScanIndexForward: false,
        Limit: limit + 1,
        ExclusiveStartKey: cursor === undefined ? undefined : { ...decodeCursor(cursor, owner) },
      }),
    );
    const found = (out.Items ?? []) as JobItem[];
    const items = found.slice(0, limit);
    const last = items.at(-1);
    // More follow when the extra item came back, or (with fewer) when the 1 MB page limit cut the read short.
    const more = found.length > limit || out.LastEvaluatedKey !== undefined;
    return more && last ? { items, cursor: encodeCursor(last) } : { items };
  }

  async listConversation(conversationId: string, limit: number): Promise<JobItem[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tables.jobs,
        IndexName: INDEX.jobsByConversation,
        KeyConditionExpression: 'conversationId = :c',
        ExpressionAttributeValues: { ':c': conversationId },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []) as JobItem[];
  }

  async setStatus(jobId: string, status: JobStatus, stage: JobStage, reason?: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.jobs,
          Key: { jobId },
          UpdateExpression: `SET #s = :s, #g = :g, updatedAt = :u${reason === undefined ? '' : ', reason = :r'}`,
          ConditionExpression: `attribute_exists(jobId) AND ${NOT_FINISHED.expression}`,
          ExpressionAttributeNames: { '#s': 'status', '#g': 'stage' },
          ExpressionAttributeValues: {
            ':s': status,
            ':g': stage,
            ':u': new Date().toISOString(),
            ...(reason === undefined ? {} : { ':r': reason }),
            ...NOT_FINISHED.values,
          },
        }),
      );
    } catch (err) {
      // A terminal job never moves again; that is not an error for the caller.
      if (!isConditionalFailure(err)) throw err;
    }
  }
}

function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.owner, key.createdAt, key.jobId])).toString('base64url');
}

/** Accepts only cursors of this owner's listing, so a cursor can never page through someone else's jobs. */
function decodeCursor(cursor: string, owner: string): CursorKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('the cursor is not one this API produced');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 200)) {
    throw new InvalidCursorError('the cursor is not one this API produced');
  }
  const [o, createdAt, jobId] = parsed as [string, string, string];
  if (o !== owner) throw new InvalidCursorError('the cursor belongs to another listing');
  return { owner: o, createdAt, jobId };
}
