/**
 * The DynamoDB tables as data: key schema, indexes and TTL attribute. The local stack
 * creates tables from these definitions and the CDK app declares the same ones, so the
 * code, the stand-ins and AWS cannot drift apart.
 */
import { DEFAULT_NAMES, ENV, INDEX } from './names.js';

export type KeyType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Projection: ALL, or KEYS_ONLY plus these attributes. */
  readonly projection: 'ALL' | readonly string[];
}

export interface TableDefinition {
  /** Logical id used in code and CDK construct ids. */
  readonly id: 'jobs' | 'results' | 'state' | 'transitions' | 'connections' | 'runs';
  readonly defaultName: string;
  /** Environment variable carrying the physical name. */
  readonly env: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalIndexes: readonly IndexDefinition[];
  /** Epoch-seconds attribute DynamoDB TTL deletes by, if any. */
  readonly ttlAttribute?: string;
  readonly description: string;
}

export const TABLES = {
  /** One item per job: owner, question, options, status summary. */
  jobs: {
    id: 'jobs',
    defaultName: DEFAULT_NAMES.jobsTable,
    env: ENV.jobsTable,
    partitionKey: { name: 'jobId', type: 'S' },
    globalIndexes: [
      {
        name: INDEX.jobsByOwner,
        partitionKey: { name: 'owner', type: 'S' },
        sortKey: { name: 'createdAt', type: 'S' },
        projection: 'ALL',
      },
      {
        name: INDEX.jobsByConversation,
        partitionKey: { name: 'conversationId', type: 'S' },
        sortKey: { name: 'createdAt', type: 'S' },
        projection: 'ALL',
      },
    ],
    ttlAttribute: 'expiresAt',
    description: 'Jobs: owner, question, options and status summary.',
  },
  /** Write-once step outputs: key (jobId, stepKey = "<step>#<attempt>"). */
  results: {
    id: 'results',
    defaultName: DEFAULT_NAMES.resultsTable,
    env: ENV.resultsTable,
    partitionKey: { name: 'jobId', type: 'S' },
    sortKey: { name: 'stepKey', type: 'S' },
    globalIndexes: [],
    ttlAttribute: 'expiresAt',
    description: 'Advisor, review and synthesis outputs, written once per step attempt.',
  },
  /** One item per job: persisted XState snapshot, version, lease and fencing epoch. */
  state: {
    id: 'state',
    defaultName: DEFAULT_NAMES.stateTable,
    env: ENV.stateTable,
    partitionKey: { name: 'jobId', type: 'S' },
    globalIndexes: [],
    ttlAttribute: 'expiresAt',
    description: 'Durable execution state: snapshot, version, epoch, lease.',
  },
  /** One item per committed transition: key (jobId, seq); seq = State version. */
  transitions: {
    id: 'transitions',
    defaultName: DEFAULT_NAMES.transitionsTable,
    env: ENV.transitionsTable,
    partitionKey: { name: 'jobId', type: 'S' },
    sortKey: { name: 'seq', type: 'N' },
    globalIndexes: [],
    ttlAttribute: 'expiresAt',
    description: 'The committed, gapless transition history of each job (replayed to clients).',
  },
  /**
   * WebSocket connections and their subscriptions. Connection item: (connectionId, "conn").
   * Subscription item: (connectionId, "job#<jobId>") with attribute jobId for the byJob index.
   */
  connections: {
    id: 'connections',
    defaultName: DEFAULT_NAMES.connectionsTable,
    env: ENV.connectionsTable,
    partitionKey: { name: 'connectionId', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    globalIndexes: [
      {
        name: INDEX.connectionsByJob,
        partitionKey: { name: 'jobId', type: 'S' },
        sortKey: { name: 'connectionId', type: 'S' },
        projection: ['sub'],
      },
    ],
    ttlAttribute: 'expiresAt',
    description: 'Live WebSocket connections (with their user) and job subscriptions.',
  },
  /** One item per worker run of a job: key (jobId, epoch); what the run observed, for the job's timeline. */
  runs: {
    id: 'runs',
    defaultName: DEFAULT_NAMES.runsTable,
    env: ENV.runsTable,
    partitionKey: { name: 'jobId', type: 'S' },
    sortKey: { name: 'epoch', type: 'N' },
    globalIndexes: [],
    ttlAttribute: 'expiresAt',
    description: 'What each worker run of a job observed (lease, model calls, commit and push latency): the timeline.',
  },
} as const satisfies Record<string, TableDefinition>;

export type TableId = keyof typeof TABLES;

/** How long job data is kept before DynamoDB TTL removes it (days). */
export const RETENTION_DAYS = 90;
/** How long a connection record lives without activity (seconds): API Gateway's 2 h max age. */
export const CONNECTION_TTL_SECONDS = 2 * 60 * 60;
