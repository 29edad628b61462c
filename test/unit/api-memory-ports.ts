/**
 * In-memory ports and a fake verifier for the API's pure unit tests (never used by
 * integration tests, which run the real adapters against DynamoDB Local and fauxqs).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { JobItem, JobStage, JobStatus, ResultItem, StateItem, TransitionRecord } from '../../services/shared/contracts/job.js';
import { isTerminal } from '../../services/shared/contracts/job.js';
import type { CancelRequestResult, JobPage, JobQueue, JobStore, QueueMessage, RedriveRequest, RedriveRequestResult, ResultStore, SnapshotStore } from '../../services/shared/ports/index.js';
import { InvalidCursorError, JobExistsError } from '../../services/shared/errors.js';
import { AuthError } from '../../services/shared/auth/errors.js';
import type { JwtVerifier, Principal } from '../../services/shared/auth/jwt-verifier.js';
import type { Logger } from '../../services/shared/logging.js';

export class MemoryJobStore implements JobStore {
  readonly jobs = new Map<string, JobItem>();
  readonly states = new Map<string, StateItem>();
  failCreate?: Error;

  async create(job: JobItem): Promise<void> {
    if (this.failCreate) throw this.failCreate;
    if (this.jobs.has(job.jobId)) throw new JobExistsError(job.jobId);
    this.jobs.set(job.jobId, structuredClone(job));
    this.states.set(job.jobId, { jobId: job.jobId, version: 0, epoch: 0, expiresAt: job.expiresAt });
  }

  async get(jobId: string): Promise<JobItem | undefined> {
    const job = this.jobs.get(jobId);
    return job && structuredClone(job);
  }

  /** Cursor: "<owner>|<index>", checked against the owner like the real adapter does. */
  async listByOwner(owner: string, limit: number, cursor?: string): Promise<JobPage> {
    const own = [...this.jobs.values()]
      .filter((j) => j.owner === owner)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.jobId.localeCompare(a.jobId));
    let start = 0;
    if (cursor !== undefined) {
      const [cursorOwner, index] = cursor.split('|');
      if (cursorOwner !== owner || !/^\d+$/.test(index ?? '')) throw new InvalidCursorError('bad cursor');
      start = Number(index);
    }
    const items = own.slice(start, start + limit);
    const next = start + limit < own.length ? `${owner}|${start + limit}` : undefined;
    return next ? { items, cursor: next } : { items };
  }

  async listConversation(conversationId: string, limit: number): Promise<JobItem[]> {
    return [...this.jobs.values()]
      .filter((j) => j.conversationId === conversationId)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, limit)
      .map((j) => structuredClone(j));
  }

  async setStatus(jobId: string, status: JobStatus, stage: JobStage, reason?: string): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job || isTerminal(job.status)) return;
    Object.assign(job, { status, stage, updatedAt: new Date().toISOString() }, reason === undefined ? {} : { reason });
  }
}

export class MemorySnapshotStore implements SnapshotStore {
  failGet?: Error;
  constructor(private readonly jobStore: MemoryJobStore) {}

  async get(jobId: string): Promise<StateItem | undefined> {
    if (this.failGet) throw this.failGet;
    const state = this.jobStore.states.get(jobId);
    return state && structuredClone(state);
  }

  async requestCancel(jobId: string, reason: string): Promise<CancelRequestResult> {
    const job = this.jobStore.jobs.get(jobId);
    const state = this.jobStore.states.get(jobId);
    if (!job || !state) throw new Error(`no job ${jobId}`);
    if (isTerminal(job.status)) return { kind: 'finished', status: job.status };
    state.cancelRequested = true;
    state.cancelReason ??= reason;
    return { kind: 'requested' };
  }

  async requestRedrive({ jobId, at, expiresAt }: RedriveRequest): Promise<RedriveRequestResult> {
    const job = this.jobStore.jobs.get(jobId);
    const state = this.jobStore.states.get(jobId);
    if (!job || !state) throw new Error(`no job ${jobId}`);
    if (job.status !== 'failed') return { kind: 'not-failed', status: job.status };
    Object.assign(job, { status: 'queued', stage: 'queued', updatedAt: new Date(at).toISOString() });
    delete job.reason;
    state.version += 1;
    state.redriveVersion = state.version;
    delete state.cancelRequested;
    delete state.cancelReason;
    return { kind: 'requested', transition: { jobId, seq: state.version, at, event: 'job.redriven', status: 'queued', stage: 'queued', changes: [], expiresAt } };
  }

  cancelRequests(): never {
    throw new Error('the API never watches for cancels');
  }

  async transitionsAfter(): Promise<TransitionRecord[]> {
    return [];
  }

  acquire(): never {
    throw new Error('the API never acquires leases');
  }
  commit(): never {
    throw new Error('the API never commits');
  }
  heartbeat(): never {
    throw new Error('the API never heartbeats');
  }
  release(): never {
    throw new Error('the API never releases');
  }
}

export class MemoryResultStore implements ResultStore {
  readonly items = new Map<string, ResultItem>();

  async putOnce(item: ResultItem): Promise<boolean> {
    const key = `${item.jobId}/${item.stepKey}`;
    if (this.items.has(key)) return false;
    this.items.set(key, item);
    return true;
  }
  async get(jobId: string, stepKey: string): Promise<ResultItem | undefined> {
    return this.items.get(`${jobId}/${stepKey}`);
  }
  async getMany(jobId: string, stepKeys: string[]): Promise<(ResultItem | undefined)[]> {
    return stepKeys.map((k) => this.items.get(`${jobId}/${k}`));
  }
}

export class MemoryJobQueue implements JobQueue {
  readonly sent: string[] = [];
  failSend?: Error;

  async send(body: string): Promise<void> {
    if (this.failSend) throw this.failSend;
    this.sent.push(body);
  }
  async receive(): Promise<QueueMessage[]> {
    return [];
  }
  async delete(): Promise<void> {}
  async changeVisibility(): Promise<boolean> {
    return true;
  }
}

/**
 * Accepts "user:<sub>" tokens; "expired" is an expired token and anything else is invalid,
 * with the same AuthError codes the real verifier raises.
 */
export const fakeVerifier: JwtVerifier = {
  async verify(token: string): Promise<Principal> {
    if (token === 'expired') throw new AuthError('expired_token', 'the access token has expired; sign in again');
    const sub = /^user:([\w-]+)$/.exec(token)?.[1];
    if (!sub) throw new AuthError('invalid_token', 'the access token signature is not valid');
    return { sub, scopes: [], claims: { sub } };
  },
};

/** A logger that keeps its JSON lines in memory, to check what the API logs. */
export function memoryLogger(level = 'info'): { logger: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines: () => chunks.join('').split('\n').filter(Boolean) };
}

/** Serves a Koa app on an ephemeral loopback port. */
export async function serve(app: { callback(): import('node:http').RequestListener }): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
