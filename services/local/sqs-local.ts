/**
 * fauxqs (SQS over the JSON protocol of SDK v3), embedded in this process and bound to
 * loopback. We build its Fastify app ourselves because `startFauxqs()` always listens on
 * 0.0.0.0; queue URLs then carry the host the client used (127.0.0.1:<port>).
 */
import { buildApp } from 'fauxqs';
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
  const app = buildApp({ logger: false, defaultRegion: opts.region ?? LOCAL_REGION });
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
