/**
 * A counting HTTP proxy between the services and DynamoDB Local. It classifies every
 * request by its X-Amz-Target, counts write requests, the items they write (inside
 * TransactWriteItems and BatchWriteItem too) and their body bytes, and notes the size of
 * every snapshot written to the State table. It forwards everything unchanged.
 */
import { forwardTo, listenOnLoopback } from './loopback-server.js';
import http from 'node:http';

export interface OperationTally {
  requests: number;
  /** Items written (0 for reads). */
  items: number;
  /** Request body bytes. */
  bytes: number;
}

export interface Tally {
  /** By operation, e.g. TransactWriteItems, GetItem. */
  operations: Record<string, OperationTally>;
  /** Items written per table. */
  itemsByTable: Record<string, number>;
  /** Bytes (UTF-8) of each snapshot written to the State table, in order. */
  snapshotBytes: number[];
  /** DynamoDB Local's answer time (ms, request forwarded → response headers) of each request, by operation. */
  latencyMs: Record<string, number[]>;
}

export interface WriteTotals {
  requests: number;
  items: number;
  bytes: number;
}

export interface DynamoCounter {
  /** Endpoint for AWS_ENDPOINT_URL_DYNAMODB. */
  url: string;
  /** A copy of everything counted so far. */
  read(): Tally;
  close(): Promise<void>;
}

const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/** Starts the proxy on 127.0.0.1 (ephemeral port) in front of `target` (DynamoDB Local's URL). */
export async function startDynamoCounter(target: string, stateTable: string): Promise<DynamoCounter> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const tally: Tally = { operations: {}, itemsByTable: {}, snapshotBytes: [], latencyMs: {} };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = count(tally, String(req.headers['x-amz-target'] ?? ''), body, stateTable);
      const sentAt = performance.now();
      forwardTo(upstream, agent, req, body, res, () => void (tally.latencyMs[operation] ??= []).push(performance.now() - sentAt));
    });
  });
  const loopback = await listenOnLoopback(server, agent);
  return {
    url: loopback.url,
    read: () => structuredClone(tally),
    close: () => loopback.close(),
  };
}

/** What was counted between two reads. */
export function tallySince(before: Tally, after: Tally): Tally {
  const operations: Record<string, OperationTally> = {};
  for (const [op, t] of Object.entries(after.operations)) {
    const b = before.operations[op] ?? { requests: 0, items: 0, bytes: 0 };
    operations[op] = { requests: t.requests - b.requests, items: t.items - b.items, bytes: t.bytes - b.bytes };
  }
  const itemsByTable: Record<string, number> = {};
  for (const [table, n] of Object.entries(after.itemsByTable)) itemsByTable[table] = n - (before.itemsByTable[table] ?? 0);
  const latencyMs: Record<string, number[]> = {};
  for (const [op, list] of Object.entries(after.latencyMs)) latencyMs[op] = list.slice(before.latencyMs[op]?.length ?? 0);
  return { operations, itemsByTable, snapshotBytes: after.snapshotBytes.slice(before.snapshotBytes.length), latencyMs };
}

/** Write requests, items written and request bytes in a tally. */
export function writeTotals(tally: Tally): WriteTotals {
  const totals = { requests: 0, items: 0, bytes: 0 };
  for (const [op, t] of Object.entries(tally.operations)) {
    if (!WRITE_OPERATIONS.has(op)) continue;
    totals.requests += t.requests;
    totals.items += t.items;
    totals.bytes += t.bytes;
  }
  return totals;
}

/** Every request counted, reads included. */
export function requestTotal(tally: Tally): number {
  return Object.values(tally.operations).reduce((n, t) => n + t.requests, 0);
}

type AttributeValue = { S?: string } & Record<string, unknown>;
interface WriteItem {
  TableName?: string;
  Item?: Record<string, AttributeValue>;
  UpdateExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
}

/** Counts one request; returns its operation name. */
function count(tally: Tally, target: string, body: Buffer, stateTable: string): string {
  const operation = target.split('.').pop() || 'unknown';
  const t = (tally.operations[operation] ??= { requests: 0, items: 0, bytes: 0 });
  t.requests++;
  if (!WRITE_OPERATIONS.has(operation)) return operation;
  t.bytes += body.length;
  for (const item of writtenItems(operation, body)) {
    t.items++;
    const table = item.TableName ?? '?';
    tally.itemsByTable[table] = (tally.itemsByTable[table] ?? 0) + 1;
    if (table === stateTable) {
      const size = snapshotSize(item);
      if (size !== undefined) tally.snapshotBytes.push(size);
    }
  }
  return operation;
}

/** The items a write request writes, each with its table name. */
function writtenItems(operation: string, body: Buffer): WriteItem[] {
  let request: Record<string, unknown>;
  try {
    request = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return [{}];
  }
  if (operation === 'TransactWriteItems') {
    const items = (request.TransactItems ?? []) as Record<string, WriteItem>[];
    return items.map((entry) => Object.values(entry)[0] ?? {});
  }
  if (operation === 'BatchWriteItem') {
    const byTable = (request.RequestItems ?? {}) as Record<string, { PutRequest?: WriteItem }[]>;
    return Object.entries(byTable).flatMap(([TableName, writes]) => writes.map((w) => ({ TableName, Item: w.PutRequest?.Item })));
  }
  return [request as WriteItem];
}

/** Bytes of the `snapshot` attribute a write sets, whether put whole or by an update expression. */
function snapshotSize(item: WriteItem): number | undefined {
  const put = item.Item?.snapshot?.S;
  if (put !== undefined) return Buffer.byteLength(put);
  const alias = Object.entries(item.ExpressionAttributeNames ?? {}).find(([, name]) => name === 'snapshot')?.[0] ?? 'snapshot';
  const escaped = alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const placeholder = new RegExp(`(?:^|[\\s,])${escaped}\\s*=\\s*(:[A-Za-z0-9_]+)`).exec(item.UpdateExpression ?? '')?.[1];
  const value = placeholder ? item.ExpressionAttributeValues?.[placeholder]?.S : undefined;
  return value === undefined ? undefined : Buffer.byteLength(value);
}
