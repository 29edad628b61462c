import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { INDEX } from '../../contracts/names.js';
import { CONNECTION_TTL_SECONDS } from '../../contracts/tables.js';
import type { ConnectionRecord, ConnectionStore, Subscriber } from '../../ports/connection-store.js';

const CONNECTION_SK = 'conn';
const subscriptionSk = (jobId: string): string => `job#${jobId}`;
/**
 * A user's connections are also listed under the user, so they can be counted with one
 * strongly consistent Query: partition `user#<sub>`, sort key `conn#<connectionId>`.
 * API Gateway's connection ids never contain '#', so no real connection id collides.
 */
const userPk = (sub: string): string => `user#${sub}`;
const userSk = (connectionId: string): string => `conn#${connectionId}`;
const ttl = (): number => Math.floor(Date.now() / 1000) + CONNECTION_TTL_SECONDS;

/** The Connections table: one item per socket plus one per job it subscribes to, and one under its user. */
export class DynamoConnectionStore implements ConnectionStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async put(connection: ConnectionRecord): Promise<void> {
    const expiresAt = ttl();
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.table, Item: { ...connection, sk: CONNECTION_SK, expiresAt } } },
          { Put: { TableName: this.table, Item: { connectionId: userPk(connection.sub), sk: userSk(connection.connectionId), expiresAt } } },
        ],
      }),
    );
  }

  async countOpen(sub: string, now: number): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'connectionId = :u',
          // TTL deletes expired items late (within days), so expiry is checked here too.
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':u': userPk(sub), ':now': Math.floor(now / 1000) },
          Select: 'COUNT',
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      count += out.Count ?? 0;
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return count;
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
        ProjectionExpression: 'connectionId, sk, #sub',
        ExpressionAttributeNames: { '#sub': 'sub' },
      }),
    );
    const items = (out.Items ?? []) as { connectionId: string; sk: string; sub?: string }[];
    const keys = items.map(({ connectionId: c, sk }) => ({ connectionId: c, sk }));
    const sub = items.find((i) => i.sk === CONNECTION_SK)?.sub;
    if (sub !== undefined) keys.push({ connectionId: userPk(sub), sk: userSk(connectionId) });
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
