import { DeleteCommand, GetCommand, PutCommand, QueryCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { INDEX } from '../../contracts/names.js';
import { CONNECTION_TTL_SECONDS } from '../../contracts/tables.js';
import type { ConnectionRecord, ConnectionStore, Subscriber } from '../../ports/connection-store.js';

const CONNECTION_SK = 'conn';
const subscriptionSk = (jobId: string): string => `job#${jobId}`;
const ttl = (): number => Math.floor(Date.now() / 1000) + CONNECTION_TTL_SECONDS;

/** The Connections table: one item per socket plus one per job it subscribes to. */
export class DynamoConnectionStore implements ConnectionStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async put(connection: ConnectionRecord): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { ...connection, sk: CONNECTION_SK, expiresAt: ttl() } }));
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { connectionId, sk: CONNECTION_SK } }));
    if (!out.Item) return undefined;
    const { sub, connectedAt } = out.Item as ConnectionRecord;
    return { connectionId, sub, connectedAt };
  }

  async remove(connectionId: string): Promise<void> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'connectionId = :c',
        ExpressionAttributeValues: { ':c': connectionId },
        ProjectionExpression: 'connectionId, sk',
      }),
    );
    const keys = (out.Items ?? []) as { connectionId: string; sk: string }[];
    for (let i = 0; i < keys.length; i += 25) {
      await this.doc.send(
        new BatchWriteCommand({
          RequestItems: { [this.table]: keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })) },
        }),
      );
    }
  }

  async subscribe(connectionId: string, sub: string, jobId: string): Promise<void> {
    await this.doc.send(
      new PutCommand({ TableName: this.table, Item: { connectionId, sk: subscriptionSk(jobId), jobId, sub, expiresAt: ttl() } }),
    );
  }

  async unsubscribe(connectionId: string, jobId: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { connectionId, sk: subscriptionSk(jobId) } }));
  }

  async subscribers(jobId: string): Promise<Subscriber[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: INDEX.connectionsByJob,
        KeyConditionExpression: 'jobId = :j',
        ExpressionAttributeValues: { ':j': jobId },
      }),
    );
    return ((out.Items ?? []) as Subscriber[]).map(({ connectionId, sub }) => ({ connectionId, sub }));
  }
}
