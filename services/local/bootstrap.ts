/**
 * Idempotent creation of the stack's resources from the shared table definitions: every
 * DynamoDB table of TABLES (keys, GSIs with their projections, on-demand billing, TTL) and
 * the job queue with its dead-letter queue. Running it again changes nothing; a table from
 * an older schema gets its missing indexes, and one whose keys differ is reported.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type AttributeDefinition,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type Projection,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  type QueueAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { TABLES, type IndexDefinition, type KeyAttribute, type TableDefinition, type TableId } from '../shared/contracts/tables.js';
import { VISIBILITY_SECONDS_DEFAULT } from '../shared/contracts/names.js';

export type TableNames = Record<TableId, string>;

export interface EnsureResourcesOptions {
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  tables: TableNames;
  queueName: string;
  dlqName: string;
  /** Receives after which SQS moves a message to the DLQ. */
  maxReceiveCount: number;
  /** The job queue's default visibility timeout (seconds). */
  visibilityTimeoutSeconds?: number;
}

export interface EnsuredResources {
  jobQueueUrl: string;
  dlqUrl: string;
  dlqArn: string;
}

/** A resource exists with a shape this code cannot fix in place. */
export class BootstrapError extends Error {
  override name = 'BootstrapError';
}

/** DLQ messages are kept the SQS maximum, 14 days, so poison can be inspected. */
const DLQ_RETENTION_SECONDS = 14 * 24 * 60 * 60;

/** Creates every table and the queues if missing; returns the queue URLs. */
export async function ensureResources(opts: EnsureResourcesOptions): Promise<EnsuredResources> {
  for (const id of Object.keys(TABLES) as TableId[]) {
    await ensureTable(opts.dynamo, TABLES[id], opts.tables[id]);
  }
  return ensureQueues(opts);
}

/** Creates one table from its definition, or brings an existing one up to it. */
export async function ensureTable(dynamo: DynamoDBClient, def: TableDefinition, name: string): Promise<void> {
  let table = await describeTable(dynamo, name);
  if (!table) {
    await createTable(dynamo, def, name);
    table = await describeTable(dynamo, name);
  }
  if (!table) throw new BootstrapError(`table ${name} was created but cannot be described`);
  assertSameKeys(name, keySchema(def.partitionKey, def.sortKey), table.KeySchema ?? []);
  await addMissingIndexes(dynamo, def, name, table);
  if (def.ttlAttribute) await ensureTtl(dynamo, name, def.ttlAttribute);
}

async function describeTable(dynamo: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    const out = await dynamo.send(new DescribeTableCommand({ TableName: name }));
    return out.Table;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw err;
  }
}

async function createTable(dynamo: DynamoDBClient, def: TableDefinition, name: string): Promise<void> {
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributeDefinitions([def.partitionKey, def.sortKey, ...def.globalIndexes.flatMap((i) => [i.partitionKey, i.sortKey])]),
        KeySchema: keySchema(def.partitionKey, def.sortKey),
        GlobalSecondaryIndexes: def.globalIndexes.length > 0 ? def.globalIndexes.map(globalIndex) : undefined,
      }),
    );
  } catch (err) {
    // Someone else (another launcher) created it between our describe and create.
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  await waitUntilTableExists({ client: dynamo, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: name });
}

async function addMissingIndexes(dynamo: DynamoDBClient, def: TableDefinition, name: string, table: TableDescription): Promise<void> {
  const existing = new Map((table.GlobalSecondaryIndexes ?? []).map((g) => [g.IndexName, g]));
  for (const index of def.globalIndexes) {
    const found = existing.get(index.name);
    if (found) {
      assertSameKeys(`${name}.${index.name}`, keySchema(index.partitionKey, index.sortKey), found.KeySchema ?? []);
      continue;
    }
    // DynamoDB creates one index per UpdateTable call.
    await dynamo.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: attributeDefinitions([def.partitionKey, def.sortKey, index.partitionKey, index.sortKey]),
        GlobalSecondaryIndexUpdates: [{ Create: globalIndex(index) }],
      }),
    );
    await waitUntilTableExists({ client: dynamo, maxWaitTime: 300, minDelay: 1, maxDelay: 5 }, { TableName: name });
  }
}

async function ensureTtl(dynamo: DynamoDBClient, name: string, attribute: string): Promise<void> {
  const out = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: name }));
  const current = out.TimeToLiveDescription;
  if (current?.AttributeName === attribute && (current.TimeToLiveStatus === 'ENABLED' || current.TimeToLiveStatus === 'ENABLING')) return;
  await dynamo.send(
    new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: attribute, Enabled: true } }),
  );
}

function keySchema(partitionKey: KeyAttribute, sortKey?: KeyAttribute): KeySchemaElement[] {
  const keys: KeySchemaElement[] = [{ AttributeName: partitionKey.name, KeyType: 'HASH' }];
  if (sortKey) keys.push({ AttributeName: sortKey.name, KeyType: 'RANGE' });
  return keys;
}

function attributeDefinitions(attrs: readonly (KeyAttribute | undefined)[]): AttributeDefinition[] {
  const byName = new Map<string, AttributeDefinition>();
  for (const a of attrs) if (a) byName.set(a.name, { AttributeName: a.name, AttributeType: a.type });
  return [...byName.values()];
}

function globalIndex(index: IndexDefinition): GlobalSecondaryIndex {
  return { IndexName: index.name, KeySchema: keySchema(index.partitionKey, index.sortKey), Projection: projection(index.projection) };
}

function projection(p: IndexDefinition['projection']): Projection {
  if (p === 'ALL') return { ProjectionType: 'ALL' };
  if (p.length === 0) return { ProjectionType: 'KEYS_ONLY' };
  return { ProjectionType: 'INCLUDE', NonKeyAttributes: [...p] };
}

function assertSameKeys(what: string, want: KeySchemaElement[], have: KeySchemaElement[]): void {
  const show = (k: KeySchemaElement[]): string => k.map((e) => `${e.AttributeName ?? '?'}:${e.KeyType ?? '?'}`).join(',');
  if (show(want) !== show(have)) {
    throw new BootstrapError(
      `${what} exists with key schema ${show(have)} but the code expects ${show(want)}; ` +
        'delete it (locally: stop the stack and remove .local/dynamodb) and start again',
    );
  }
}

async function ensureQueues(opts: EnsureResourcesOptions): Promise<EnsuredResources> {
  const dlqUrl = await ensureQueue(opts.sqs, opts.dlqName, { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) });
  const dlqArn = await queueArn(opts.sqs, dlqUrl);
  const jobQueueUrl = await ensureQueue(opts.sqs, opts.queueName, {
    VisibilityTimeout: String(opts.visibilityTimeoutSeconds ?? VISIBILITY_SECONDS_DEFAULT),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: opts.maxReceiveCount }),
  });
  return { jobQueueUrl, dlqUrl, dlqArn };
}

type QueueAttributes = Partial<Record<QueueAttributeName, string>>;

async function ensureQueue(sqs: SQSClient, name: string, attributes: QueueAttributes): Promise<string> {
  const existing = await queueUrl(sqs, name);
  if (!existing) {
    const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (!out.QueueUrl) throw new BootstrapError(`CreateQueue ${name} returned no URL`);
    return out.QueueUrl;
  }
  const current = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: existing, AttributeNames: Object.keys(attributes) as QueueAttributeName[] }),
  );
  const changed = Object.entries(attributes).filter(([k, v]) => !sameAttribute(k, current.Attributes?.[k as QueueAttributeName], v));
  if (changed.length > 0) {
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: existing, Attributes: Object.fromEntries(changed) }));
  }
  return existing;
}

/** RedrivePolicy comes back with maxReceiveCount as a string or a number depending on the server. */
function sameAttribute(name: string, have: string | undefined, want: string | undefined): boolean {
  if (have === want) return true;
  if (name !== 'RedrivePolicy' || !have || !want) return false;
  try {
    const a = JSON.parse(have) as Record<string, unknown>;
    const b = JSON.parse(want) as Record<string, unknown>;
    return a.deadLetterTargetArn === b.deadLetterTargetArn && String(a.maxReceiveCount) === String(b.maxReceiveCount);
  } catch {
    return false;
  }
}

async function queueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    const out = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    return out.QueueUrl;
  } catch (err) {
    if (err instanceof QueueDoesNotExist || (err as Error).name === 'AWS.SimpleQueueService.NonExistentQueue') return undefined;
    throw err;
  }
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new BootstrapError(`queue ${url} has no QueueArn`);
  return arn;
}
