/**
 * Helpers for whole-stack job tests: submit through the API, wait for what a person would
 * see, and look behind the API at the State/Transitions tables and the Bedrock call log.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { JobView, StateItem, TransitionRecord } from '../../services/shared/contracts/job.js';
import { BedrockControl } from '../../services/local/bedrock/control-client.js';
import type { CallLogEntry } from '../../services/local/bedrock/standin.types.js';
import type { ApiClient } from './http-client.js';
import type { TestStack } from './local-stack.js';

export const TERMINAL = ['succeeded', 'failed', 'cancelled'] as const;

/** Polls `probe` until it returns a value (not undefined), or fails naming `what`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** POST /chat; returns the job id (asserting the 202). */
export async function submit(client: ApiClient, body: Record<string, unknown>): Promise<string> {
  const res = await client.post<{ jobId: string; status: string }>('/chat', body);
  if (res.status !== 202) throw new Error(`POST /chat answered ${res.status}: ${res.text}`);
  return res.body.jobId;
}

/** The job view once `until` holds for it. */
export function waitForView(client: ApiClient, jobId: string, until: (v: JobView) => boolean, what: string, timeoutMs = 60_000): Promise<JobView> {
  return eventually(async () => {
    const res = await client.get<JobView>(`/jobs/${jobId}`);
    return res.status === 200 && until(res.body) ? res.body : undefined;
  }, what, timeoutMs);
}

/** The job view once the job is terminal. */
export function waitForEnd(client: ApiClient, jobId: string, timeoutMs = 60_000): Promise<JobView> {
  return waitForView(client, jobId, (v) => (TERMINAL as readonly string[]).includes(v.status), `job ${jobId} to end`, timeoutMs);
}

export async function stateOf(stack: TestStack, jobId: string): Promise<StateItem | undefined> {
  const out = await stack.aws.doc.send(new GetCommand({ TableName: stack.tables.state, Key: { jobId }, ConsistentRead: true }));
  return out.Item as StateItem | undefined;
}

/** The committed step records of the job's machine context (empty before the first commit). */
export async function stepsOf(stack: TestStack, jobId: string): Promise<Record<string, { status: string; attempt: number; dueAt?: number; retries: number[] }>> {
  const state = await stateOf(stack, jobId);
  return state?.snapshot ? (JSON.parse(state.snapshot) as { context: { steps: Record<string, never> } }).context.steps : {};
}

/** Waits until Claude and Mistral have answered while Llama's call is still running (a job held with 2 of 3 answers). */
export async function untilTwoOfThreeAnswered(stack: TestStack, jobId: string): Promise<void> {
  await eventually(async () => {
    const s = await stepsOf(stack, jobId);
    return s['advise.claude']?.status === 'succeeded' && s['advise.mistral']?.status === 'succeeded' && s['advise.llama']?.status === 'running' ? true : undefined;
  }, '2 of 3 advisors to answer');
}

export async function transitionsOf(stack: TestStack, jobId: string): Promise<TransitionRecord[]> {
  const items: TransitionRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await stack.aws.doc.send(
      new QueryCommand({
        TableName: stack.tables.transitions,
        KeyConditionExpression: 'jobId = :j',
        ExpressionAttributeValues: { ':j': jobId },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...((out.Items ?? []) as TransitionRecord[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

export function bedrockOf(stack: TestStack): BedrockControl {
  return new BedrockControl(stack.bedrock.controlUrl);
}

/** The Bedrock calls made for one job, in arrival order. */
export function callsOf(stack: TestStack, jobId: string): Promise<CallLogEntry[]> {
  return bedrockOf(stack).calls({ jobId });
}

/** The worker process whose id appears in the job's lease (worker ids are host:pid:nonce). */
export async function leaseHolderPid(stack: TestStack, jobId: string): Promise<number | undefined> {
  const owner = (await stateOf(stack, jobId))?.leaseOwner;
  const pid = owner ? Number(owner.split(':')[1]) : NaN;
  return Number.isFinite(pid) ? pid : undefined;
}
