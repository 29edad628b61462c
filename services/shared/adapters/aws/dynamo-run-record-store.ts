import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RunRecord } from '../../contracts/timeline.js';
import type { RunRecordStore } from '../../ports/run-record-store.js';

/** The Runs table: one item per (jobId, epoch), replaced as the run goes on. */
export class DynamoRunRecordStore implements RunRecordStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async put(record: RunRecord): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: record }));
  }

  async list(jobId: string): Promise<RunRecord[]> {
    const items: RunRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'jobId = :j',
          ExpressionAttributeValues: { ':j': jobId },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items ?? []) as RunRecord[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}
