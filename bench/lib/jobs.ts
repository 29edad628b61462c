/**
 * Submitting jobs through the API and observing them behind it: terminal status from the
 * Jobs table and commit times from the Transitions table, read past the write counter.
 */
import { BatchGetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isTerminal, type JobStatus, type TransitionRecord } from '../../services/shared/contracts/job.js';
import type { TableNames } from '../../services/local/bootstrap.js';
import { nowMs } from './stats.js';

export interface ChatRequest {
  question: string;
  mode?: 'full' | 'quick';
}

export interface Submitted {
  jobId: string;
  /** When POST /chat was sent and answered (epoch ms). */
  sentAt: number;
  answeredAt: number;
}

/** A POST /chat that did not answer 202. */
export class SubmitError extends Error {
  override name = 'SubmitError';
}

/** POST /chat as `token`; resolves with the job id and the request's timing. */
export async function submitJob(apiUrl: string, token: string, body: ChatRequest): Promise<Submitted> {
  const sentAt = nowMs();
  const res = await fetch(`${apiUrl}/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const answeredAt = nowMs();
  if (res.status !== 202) throw new SubmitError(`POST /chat answered ${res.status}: ${text.slice(0, 200)}`);
  return { jobId: (JSON.parse(text) as { jobId: string }).jobId, sentAt, answeredAt };
}

/** Polls the Jobs table until every job is terminal; resolves with each job's status. */
export async function waitForTerminal(
  direct: DynamoDBDocumentClient,
  tables: TableNames,
  jobIds: readonly string[],
  timeoutMs: number,
  everyMs = 100,
): Promise<Map<string, JobStatus>> {
  const done = new Map<string, JobStatus>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < jobIds.length) {
    if (Date.now() > deadline) throw new Error(`${jobIds.length - done.size} of ${jobIds.length} jobs did not end within ${timeoutMs} ms`);
    const pending = jobIds.filter((id) => !done.has(id));
    for (let i = 0; i < pending.length; i += 100) {
      const keys = pending.slice(i, i + 100).map((jobId) => ({ jobId }));
      const out = await direct.send(new BatchGetCommand({ RequestItems: { [tables.jobs]: { Keys: keys, ProjectionExpression: 'jobId, #s', ExpressionAttributeNames: { '#s': 'status' } } } }));
      for (const item of out.Responses?.[tables.jobs] ?? []) {
        const status = item.status as JobStatus;
        if (isTerminal(status)) done.set(item.jobId as string, status);
      }
    }
    if (done.size < jobIds.length) await new Promise((r) => setTimeout(r, everyMs));
  }
  return done;
}

/** The job's committed transitions, in seq order. */
export async function transitionsOf(direct: DynamoDBDocumentClient, tables: TableNames, jobId: string): Promise<TransitionRecord[]> {
  const items: TransitionRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await direct.send(
      new QueryCommand({ TableName: tables.transitions, KeyConditionExpression: 'jobId = :j', ExpressionAttributeValues: { ':j': jobId }, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...((out.Items ?? []) as TransitionRecord[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Distinct, plausible questions (none of them a recorded one), the same list on every run. */
export function benchQuestions(n: number): string[] {
  const topics = [
    'adopt a four-day week for a team of eight',
    'move our monolith to a managed Kubernetes service',
    'hire a first product manager before the seed round',
    'rent or buy a flat in a city we may leave in five years',
    'switch our mobile app from native to a cross-platform toolkit',
    'open a second café across town',
    'offer a free tier for our developer tool',
    'go back to university for a master’s degree at forty',
  ];
  return Array.from({ length: n }, (_, i) => `Should we ${topics[i % topics.length]}? (case ${i + 1})`);
}
