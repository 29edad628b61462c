/**
 * The DynamoDB tables, declared by looping over the shared TABLES contract so the code, the
 * local stand-ins and AWS cannot drift apart: keys, indexes and TTL come from one place.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLES, type KeyAttribute, type TableDefinition, type TableId } from '../../../services/shared/contracts/tables.js';

export interface JobTablesProps {
  /** Customer-managed key encrypting every table (and its PITR backups) at rest. */
  readonly encryptionKey: kms.IKey;
  /** Physical name prefix: `cot` gives the contract's DEFAULT_NAMES (cot-jobs, cot-state, …). */
  readonly namePrefix: string;
}

/**
 * The physical table name: `{prefix}-{id}`. Fixed names (the tables are retained and
 * deletion-protected, so never replaced) give every consumer stable ARNs and names without
 * cross-stack lookups, and match DEFAULT_NAMES for the default prefix.
 */
export function tablePhysicalName(namePrefix: string, definition: Pick<TableDefinition, 'id'>): string {
  return `${namePrefix.toLowerCase()}-${definition.id}`;
}

/** Every table of TABLES: on-demand, PITR, customer-managed encryption, TTL, retained. */
export class JobTables extends Construct {
  /** The tables by their contract id (jobs, results, state, transitions, connections). */
  public readonly byId: Readonly<Record<TableId, dynamodb.Table>>;
  /** Physical names by contract id. */
  public readonly names: Readonly<Record<TableId, string>>;

  constructor(scope: Construct, id: string, props: JobTablesProps) {
    super(scope, id);
    const byId = {} as Record<TableId, dynamodb.Table>;
    const names = {} as Record<TableId, string>;
    for (const definition of Object.values(TABLES) as TableDefinition[]) {
      names[definition.id] = tablePhysicalName(props.namePrefix, definition);
      byId[definition.id] = createTable(this, definition, props.encryptionKey, names[definition.id]);
    }
    this.byId = byId;
    this.names = names;
  }

  /**
   * The same tables as references in another stack, addressed by their fixed names: grants
   * and environment values then carry stable, readable ARNs instead of cross-stack lookups.
   */
  referencesIn(scope: Construct): Readonly<Record<TableId, dynamodb.ITable>> {
    const refs = {} as Record<TableId, dynamodb.ITable>;
    for (const { definition, table } of this.entries()) {
      refs[definition.id] = dynamodb.Table.fromTableAttributes(scope, `${constructIdOf(definition.id)}Ref`, {
        tableName: this.names[definition.id],
        globalIndexes: definition.globalIndexes.map((index) => index.name),
        encryptionKey: table.encryptionKey,
      });
    }
    return refs;
  }

  /** The tables with the environment variable that carries each one's physical name. */
  entries(): { definition: TableDefinition; table: dynamodb.Table }[] {
    return (Object.values(TABLES) as TableDefinition[]).map((definition) => ({ definition, table: this.byId[definition.id] }));
  }
}

function createTable(scope: Construct, definition: TableDefinition, encryptionKey: kms.IKey, tableName: string): dynamodb.Table {
  const table = new dynamodb.Table(scope, constructIdOf(definition.id), {
    tableName,
    partitionKey: attributeOf(definition.partitionKey),
    sortKey: definition.sortKey && attributeOf(definition.sortKey),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: definition.ttlAttribute,
    // Job history is user data: a stack deletion or a replacement must never drop it.
    removalPolicy: RemovalPolicy.RETAIN,
    deletionProtection: true,
  });
  for (const index of definition.globalIndexes) {
    const projectsAll = index.projection === 'ALL';
    table.addGlobalSecondaryIndex({
      indexName: index.name,
      partitionKey: attributeOf(index.partitionKey),
      sortKey: index.sortKey && attributeOf(index.sortKey),
      projectionType: projectsAll ? dynamodb.ProjectionType.ALL : dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: projectsAll ? undefined : [...(index.projection as readonly string[])],
    });
  }
  return table;
}

function attributeOf(key: KeyAttribute): dynamodb.Attribute {
  return { name: key.name, type: key.type === 'N' ? dynamodb.AttributeType.NUMBER : dynamodb.AttributeType.STRING };
}

/** `transitions` → `TransitionsTable`: stable logical ids derived from the contract id. */
function constructIdOf(id: string): string {
  return `${id.charAt(0).toUpperCase()}${id.slice(1)}Table`;
}
