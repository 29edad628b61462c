import { BatchGetCommand, type BatchGetCommandOutput, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ResultItem } from '../../contracts/job.js';
import type { ResultStore } from '../../ports/result-store.js';
import { isConditionalFailure } from './dynamo-errors.js';
import { splitByBytes } from '../../text.js';
import { sleep } from '../../sleep.js';

/** Text above this many UTF-8 bytes is split across part items, keeping every item far below 400 KB. */
export const RESULT_PART_BYTES = 300 * 1024;

export type StoredResult = Omit<ResultItem, 'text'> & { text: string; parts?: number };
export interface PartItem {
  jobId: string;
  stepKey: string;
  text: string;
  expiresAt: number;
}

/**
 * The Results table: write-once outputs keyed by (jobId, "<step>#<attempt>"). A long
 * output is stored as extra part items written first; the main item, written last and
 * conditionally, is what makes the result exist.
 */
export class DynamoResultStore implements ResultStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async putOnce(item: ResultItem): Promise<boolean> {
    const { main, parts } = storedPiecesOf(item);
    // Parts are idempotent overwrites; only the main item below is write-once.
    await putParts(this.doc, this.table, parts);
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: main, ConditionExpression: 'attribute_not_exists(stepKey)' }));
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw err;
    }
  }

  async get(jobId: string, stepKey: string): Promise<ResultItem | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { jobId, stepKey }, ConsistentRead: true }));
    return out.Item ? this.assemble(out.Item as StoredResult) : undefined;
  }

  async getMany(jobId: string, stepKeys: string[]): Promise<(ResultItem | undefined)[]> {
    const found = await this.batchGet(jobId, [...new Set(stepKeys)]);
    const byKey = new Map<string, ResultItem>();
    for (const item of found) byKey.set(item.stepKey, await this.assemble(item as StoredResult));
    return stepKeys.map((k) => byKey.get(k));
  }

  private async assemble(item: StoredResult): Promise<ResultItem> {
    const { parts, ...rest } = item;
    if (!parts || parts <= 1) return rest;
    const keys = Array.from({ length: parts - 1 }, (_, i) => partKey(item.stepKey, i + 1));
    const found = new Map((await this.batchGet(item.jobId, keys)).map((p) => [p.stepKey, p.text as string]));
    const text = item.text + keys.map((k) => found.get(k) ?? '').join('');
    return { ...rest, text };
  }

  private async batchGet(jobId: string, stepKeys: string[]): Promise<({ stepKey: string } & Record<string, unknown>)[]> {
    const out: ({ stepKey: string } & Record<string, unknown>)[] = [];
    for (let i = 0; i < stepKeys.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = stepKeys.slice(i, i + 100).map((stepKey) => ({ jobId, stepKey }));
      for (let round = 0; keys?.length; round++) {
        const res: BatchGetCommandOutput = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
        );
        out.push(...((res.Responses?.[this.table] ?? []) as { stepKey: string }[]));
        keys = res.UnprocessedKeys?.[this.table]?.Keys;
        if (keys?.length) await sleep(Math.min(1000, 50 * 2 ** round));
      }
    }
    return out;
  }
}

const partKey = (stepKey: string, n: number): string => `${stepKey}~part${n}`;

/**
 * A result as the Results table holds it: the main item (the text's first piece and how
 * many pieces there are), and the part items with the rest, which must be written first.
 */
export function storedPiecesOf(item: ResultItem): { main: StoredResult; parts: PartItem[] } {
  const pieces = splitByBytes(item.text, RESULT_PART_BYTES);
  const parts: PartItem[] = pieces.slice(1).map((text, i) => ({
    jobId: item.jobId,
    stepKey: partKey(item.stepKey, i + 1),
    text,
    expiresAt: item.expiresAt,
  }));
  return { main: { ...item, text: pieces[0] ?? '', parts: pieces.length }, parts };
}

/** Writes part items (idempotent overwrites: a part means nothing until its main item exists). */
export async function putParts(doc: DynamoDBDocumentClient, table: string, parts: PartItem[]): Promise<void> {
  for (const part of parts) await doc.send(new PutCommand({ TableName: table, Item: part }));
}
