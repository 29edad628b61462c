/**
 * An HTTP proxy between the workers and DynamoDB Local that lets the chaos driver kill a
 * worker at the two moments a random signal almost never hits:
 *
 * - `after-return`: the worker got a model's answer and is storing it — the commit that
 *   carries the answer (a TransactWriteItems with a Results put), or the answer stored on its
 *   own by a run that stopped before committing it (a PutItem to Results): killed before it
 *   lands (the answer is lost: a repeat, explained by this kill), or after it landed but
 *   before the worker hears so;
 * - `during-commit`: any other commit (a TransactWriteItems that appends to the Transitions
 *   table: a stage change, a retry scheduled, the job's end): killed before it lands, or after
 *   it landed but before the answer.
 *
 * Who sent a request is read from the leases: every acquire and heartbeat names its owner
 * (`host:pid:nonce`) for a job, so the proxy knows which process holds each job. That map is
 * also what the driver reads to know which jobs a signalled worker was holding.
 */
import { forwardTo, listenOnLoopback } from '../loopback-server.js';
import http from 'node:http';
import { pidOfWorker } from '../../../test/support/chaos/history-checker.js';
import type { TableNames } from '../../../services/local/bootstrap.js';

export type StrikeMoment = 'after-return' | 'during-commit';
/** `before`: the worker dies and its request is dropped; `after`: the request lands, the worker dies before the answer. */
export type StrikeWhen = 'before' | 'after';

export interface StrikeRequest {
  moment: StrikeMoment;
  jobId: string;
  pid: number;
}

export interface StrikeProxyOptions {
  target: string;
  tables: Pick<TableNames, 'state' | 'results' | 'transitions'>;
  /** Asked for each Results put and each commit of a job whose holder is known: strike or not. */
  decide(request: StrikeRequest): StrikeWhen | undefined;
  /** Kills the worker (synchronously, before the proxy goes on). */
  kill(request: StrikeRequest, when: StrikeWhen): void;
}

export interface StrikeProxy {
  url: string;
  /** The pid of the process that last took or renewed each job's lease, while it holds it. */
  holders(): ReadonlyMap<string, number>;
  /** Every lease taken (not renewed), in order: when a job was resumed after a fault. */
  leasesTaken(): readonly LeaseTaken[];
  close(): Promise<void>;
}

export interface LeaseTaken {
  jobId: string;
  pid: number;
  /** Epoch ms: when DynamoDB's answer reached the proxy. */
  at: number;
}

type Attr = { S?: string; N?: string };
interface DynamoRequest {
  TableName?: string;
  Key?: Record<string, Attr>;
  Item?: Record<string, Attr>;
  UpdateExpression?: string;
  ExpressionAttributeValues?: Record<string, Attr>;
  TransactItems?: Record<string, DynamoRequest>[];
}

export async function startStrikeProxy(opts: StrikeProxyOptions): Promise<StrikeProxy> {
  const upstream = new URL(opts.target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const holders = new Map<string, number>();
  const taken: LeaseTaken[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      const parsed = parse(body);
      const lease = parsed && leaseChange(operation, parsed, opts.tables.state);
      const strike = parsed && strikeOf(operation, parsed, opts, holders);
      const when = strike && opts.decide(strike);
      if (strike && when === 'before') {
        opts.kill(strike, when);
        res.destroy();
        return;
      }
      forwardTo(upstream, agent, req, body, res, (answer) => {
        if (strike && when === 'after') {
          answer.resume();
          answer.once('end', () => {
            opts.kill(strike, when);
            res.destroy();
          });
          return false;
        }
        if (lease && answer.statusCode === 200) {
          if (lease.pid === undefined) holders.delete(lease.jobId);
          else holders.set(lease.jobId, lease.pid);
          if (lease.pid !== undefined && lease.taken) taken.push({ jobId: lease.jobId, pid: lease.pid, at: Date.now() });
        }
        return true;
      });
    });
  });
  const loopback = await listenOnLoopback(server, agent);
  return {
    url: loopback.url,
    holders: () => holders,
    leasesTaken: () => taken,
    close: () => loopback.close(),
  };
}

function parse(body: Buffer): DynamoRequest | undefined {
  try {
    return JSON.parse(body.toString('utf8')) as DynamoRequest;
  } catch {
    return undefined;
  }
}

/**
 * An acquire or heartbeat (names its owner: the job is that pid's) or a release (nobody's),
 * also inside a transaction (an acquire with the first commit, a release with the last).
 */
function leaseChange(operation: string, request: DynamoRequest, stateTable: string): { jobId: string; pid?: number; taken?: boolean } | undefined {
  if (operation === 'TransactWriteItems') {
    // The lease taken with a job's first commit, or given up with its last.
    const update = request.TransactItems?.map((i) => i.Update).find((u) => u?.TableName === stateTable);
    return update ? leaseChange('UpdateItem', update, stateTable) : undefined;
  }
  if (operation !== 'UpdateItem' || request.TableName !== stateTable) return undefined;
  const jobId = request.Key?.jobId?.S;
  if (!jobId) return undefined;
  const expression = request.UpdateExpression ?? '';
  if (/REMOVE\s+leaseOwner/.test(expression)) return { jobId };
  const owner = request.ExpressionAttributeValues?.[':o']?.S;
  const pid = owner ? pidOfWorker(owner) : undefined;
  // Taking a lease names its owner; a heartbeat only moves the expiry.
  return pid && /leaseExpiresAt/.test(expression) ? { jobId, pid, taken: /leaseOwner\s*=/.test(expression) } : undefined;
}

/** A model's answer being stored (with its commit or on its own) or another commit, of a job whose holder is known. */
function strikeOf(operation: string, request: DynamoRequest, opts: StrikeProxyOptions, holders: ReadonlyMap<string, number>): StrikeRequest | undefined {
  let moment: StrikeMoment | undefined;
  let jobId: string | undefined;
  if (operation === 'PutItem' && request.TableName === opts.tables.results) {
    moment = 'after-return';
    jobId = request.Item?.jobId?.S;
  } else if (operation === 'TransactWriteItems') {
    const puts = request.TransactItems?.map((t) => t.Put) ?? [];
    const put = puts.find((p) => p?.TableName === opts.tables.transitions);
    const withAnswer = puts.some((p) => p?.TableName === opts.tables.results);
    moment = put ? (withAnswer ? 'after-return' : 'during-commit') : undefined;
    jobId = put?.Item?.jobId?.S;
  }
  const pid = jobId ? holders.get(jobId) : undefined;
  return moment && jobId && pid ? { moment, jobId, pid } : undefined;
}
