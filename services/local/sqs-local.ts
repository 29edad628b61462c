/**
 * fauxqs (SQS over the JSON protocol of SDK v3), embedded in this process and bound to
 * loopback. We build its Fastify app ourselves because `startFauxqs()` always listens on
 * 0.0.0.0, and we give it an SQS store whose queue URLs carry the host the client used
 * (http://127.0.0.1:<port>/000000000000/<name>): its default, http://sqs.<region>.localhost:<port>/…,
 * does not resolve everywhere, and the SDK sends requests to the queue URL's host whenever
 * the endpoint comes from AWS_ENDPOINT_URL_SQS rather than from code.
 *
 * fauxqs 1.9 ignores message system attributes; SQS keeps X-Ray's trace header as the
 * AWSTraceHeader attribute — from the sender's X-Amzn-Trace-Id HTTP header, or from the
 * attribute itself, which wins — and returns it to receivers that ask for it. A hook adds
 * that here, so a job's trace crosses the local queue as it crosses SQS.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp, type BuildAppOptions } from 'fauxqs';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { StartupError } from './errors.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './dynamodb-local.js';

export interface SqsLocalOptions {
  host?: string;
  /** 0 or unset: the OS picks a port. */
  port?: number;
  region?: string;
}

export interface SqsLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts fauxqs on host:port and resolves once it answers ListQueues. */
export async function startSqsLocal(opts: SqsLocalOptions = {}): Promise<SqsLocal> {
  const host = opts.host ?? '127.0.0.1';
  const app = buildApp({ logger: false, defaultRegion: opts.region ?? LOCAL_REGION, stores: await loopbackStores() });
  app.addHook('onSend', keepTraceHeaders());
  let address: string;
  try {
    address = await app.listen({ host, port: opts.port ?? 0 });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new StartupError(`cannot start fauxqs on ${host}:${String(opts.port ?? 0)}: ${(err as Error).message}`, { cause: err });
  }
  const port = Number(new URL(address).port);
  const endpoint = `http://${host}:${port}`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await app.close();
  };
  try {
    await assertAnswers(endpoint, opts.region ?? LOCAL_REGION);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, port, stop };
}

async function assertAnswers(endpoint: string, region: string): Promise<void> {
  const client = new SQSClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 });
  try {
    await client.send(new ListQueuesCommand({}));
  } catch (err) {
    throw new StartupError(`fauxqs does not answer ListQueues at ${endpoint}: ${(err as Error).message}`, { cause: err });
  } finally {
    client.destroy();
  }
}

type Stores = NonNullable<BuildAppOptions['stores']>;

const TRACE_ATTRIBUTE = 'AWSTraceHeader';
/** Trace headers kept for messages not yet received; the oldest are forgotten beyond this. */
const MAX_TRACED_MESSAGES = 100_000;

interface SqsBody {
  MessageSystemAttributes?: Record<string, { StringValue?: string } | undefined>;
  MessageSystemAttributeNames?: string[];
  AttributeNames?: string[];
}

/**
 * An onSend hook: remembers the trace header of each SendMessage by the message id
 * fauxqs answers with, and adds it to the Attributes of ReceiveMessage answers that ask
 * for it (by name or All), as SQS does.
 */
function keepTraceHeaders() {
  const headers = new Map<string, string>();
  return async (request: { headers: Record<string, unknown>; body: unknown }, reply: { statusCode: number }, payload: unknown): Promise<unknown> => {
    const action = String(request.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
    if (reply.statusCode !== 200 || typeof payload !== 'string' || (action !== 'SendMessage' && action !== 'ReceiveMessage')) return payload;
    const body = (request.body ?? {}) as SqsBody;
    const answer = JSON.parse(payload) as { MessageId?: string; Messages?: { MessageId: string; Attributes?: Record<string, string> }[] };
    if (action === 'SendMessage') {
      const header = request.headers['x-amzn-trace-id'];
      const trace = body.MessageSystemAttributes?.[TRACE_ATTRIBUTE]?.StringValue ?? (typeof header === 'string' ? header : undefined);
      if (trace && answer.MessageId) {
        headers.set(answer.MessageId, trace);
        if (headers.size > MAX_TRACED_MESSAGES) headers.delete(headers.keys().next().value as string);
      }
      return payload;
    }
    const wanted = [...(body.MessageSystemAttributeNames ?? []), ...(body.AttributeNames ?? [])];
    if (!wanted.includes(TRACE_ATTRIBUTE) && !wanted.includes('All')) return payload;
    let changed = false;
    for (const message of answer.Messages ?? []) {
      const trace = headers.get(message.MessageId);
      if (!trace) continue;
      message.Attributes = { ...message.Attributes, [TRACE_ATTRIBUTE]: trace };
      changed = true;
    }
    return changed ? JSON.stringify(answer) : payload;
  };
}

/**
 * fauxqs's stores with the SQS store's URL host cleared (so URLs use the request's Host).
 * The store classes are not in fauxqs's export map, so they are loaded by file path.
 */
async function loopbackStores(): Promise<Stores> {
  const dist = fauxqsDist();
  const load = async <T>(file: string, name: string): Promise<new () => T> => {
    const mod = (await import(pathToFileURL(join(dist, file)).href)) as Record<string, new () => T>;
    const ctor = mod[name];
    if (!ctor) throw new StartupError(`fauxqs ${file} has no ${name}; is fauxqs 1.9.x installed?`);
    return ctor;
  };
  const [SqsStore, SnsStore, S3Store] = await Promise.all([
    load<Stores['sqsStore']>('sqs/sqsStore.js', 'SqsStore'),
    load<Stores['snsStore']>('sns/snsStore.js', 'SnsStore'),
    load<Stores['s3Store']>('s3/s3Store.js', 'S3Store'),
  ]);
  const sqsStore = new SqsStore();
  (sqsStore as unknown as { host: string }).host = '';
  return { sqsStore, snsStore: new SnsStore(), s3Store: new S3Store() };
}

function fauxqsDist(): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths('fauxqs') ?? []) {
    const dist = join(dir, 'fauxqs', 'dist');
    if (existsSync(join(dist, 'sqs', 'sqsStore.js'))) return dist;
  }
  throw new StartupError('fauxqs is not installed; run npm ci');
}
