/**
 * One chaos run: the whole local stack (startLocalStack, as `npm start`) with DynamoDB Local
 * behind the strike proxy and the chaos Bedrock stand-in, N workers that the driver
 * signals at random and respawns, jobs kept in flight through the API, WebSocket followers
 * that drop and resubscribe, a few jobs poisoned on purpose — then the history checker's
 * verdict over everything the run left behind, and the figures.
 */
import type { StandinConfig } from '../../../services/local/bedrock/standin.types.js';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isTerminal, type StateItem } from '../../../services/shared/contracts/job.js';
import { JOB_VISIBILITY_SECONDS_DEFAULT } from '../../../services/shared/contracts/names.js';
import { ENDPOINT_ENV, resourceNames } from '../../../services/local/aws-standins.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../../services/local/dynamodb-local.js';
import { getAccessToken } from '../../../services/local/oidc/token-client.js';
import { startLocalStack, type LocalStack } from '../../../services/local/stack.js';
import { checkHistories, type ChaosEvidence, type Verdict } from '../../../test/support/chaos/history-checker.js';
import { isolatedBaseEnv } from '../../../test/support/isolation.js';
import { benchQuestions, submitJob } from '../jobs.js';
import { startChaosBedrock } from './chaos-bedrock.js';
import { DeadLetterWatch, batchGet, jobEvidence, statusesOf } from './evidence.js';
import { Follower } from './follower.js';
import { firstCommitWaits, recoveries, type ChaosReport } from './report.js';
import { Rng } from './rng.js';
import { startStrikeProxy } from './strike-proxy.js';
import { WorkerChaos, type FaultChoice } from './worker-chaos.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../../fixtures/circles/test.circle.json', import.meta.url));

export interface ChaosSettings {
  jobs: number;
  seed: number;
  workers: number;
  /**
   * Jobs one worker may run at once. A fleet that loses workers needs room for their jobs:
   * with 4 × 12 slots, two workers down at once still leave room for the 24 in flight, so a
   * recovery time measures recovery, not a queue behind full workers.
   */
  slotsPerWorker: number;
  /** Jobs kept running at once. */
  inFlight: number;
  /** Share of jobs followed by a WebSocket client. */
  followShare: number;
  /** Mean time a follower's connection stays up before it drops it. */
  meanDropMs: number;
  /**
   * Worker faults per minute across the workers, on average. 12 (each of 4 workers struck
   * about every 20 s) is the density of the earlier runs at 0.7 faults per job; a rate per
   * job instead doubled it when the stack got faster, until workers died every 11 s, faster
   * than a job can be taken over, and healthy jobs were counted poison after 5 runs in a row died.
   */
  faultsPerMinute: number;
  weights: Record<FaultChoice, number>;
  /** Share of model calls that fail or start slowly. */
  modelFaultRate: number;
  stopMs: [number, number];
  /** One job in this many is poisoned on purpose (at least one per run). */
  poisonEvery: number;
  /** Faults stop once this share of jobs has ended, so the last ones can finish. */
  calmAt: number;
  /** Give up waiting for the jobs this long after the last one was submitted. */
  drainTimeoutMs: number;
  bedrock: StandinConfig;
  /** Service settings (COT_*) on top of the driver's own; e.g. COT_LEASE_SECONDS. */
  serviceEnv: Record<string, string>;
  /** Every service's log lines go to this file (the evidence behind a violation), if set. */
  serviceLog?: string;
}

export const DEFAULT_CHAOS_SETTINGS: Omit<ChaosSettings, 'jobs' | 'seed'> = {
  workers: 4,
  slotsPerWorker: 12,
  inFlight: 24,
  followShare: 0.5,
  meanDropMs: 3000,
  faultsPerMinute: 12,
  weights: { SIGKILL: 3, SIGSTOP: 2, SIGTERM: 2, 'strike-after-return': 2, 'strike-during-commit': 2 },
  modelFaultRate: 0.08,
  stopMs: [1000, 12_000],
  poisonEvery: 100,
  calmAt: 0.95,
  drainTimeoutMs: 10 * 60_000,
  bedrock: { firstTokenDelayMs: 150, tokenDelayMs: 3, badDay: null },
  serviceEnv: {},
};

export interface ChaosResult {
  report: ChaosReport;
  verdict: Verdict;
  evidence: ChaosEvidence;
}

const USERS = ['ada', 'ben', 'cleo', 'dev', 'eve', 'finn'];

/** Runs the whole thing; `log` gets progress lines. Stops everything it started, also on failure. */
export async function runChaos(settings: ChaosSettings, log: (line: string) => void): Promise<ChaosResult> {
  const started = Date.now();
  const rng = new Rng(settings.seed);
  const suffix = `chaos${Date.now().toString(36)}`;
  const { tables } = resourceNames(suffix);
  const cleanups: (() => Promise<unknown>)[] = [];
  let chaos: WorkerChaos | undefined;
  let faultsOn = true;
  try {
    const ddb = await startDynamoDbLocal({ inMemory: true });
    cleanups.push(() => ddb.stop());
    const direct = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }), {
      marshallOptions: { removeUndefinedValues: true },
    });
    cleanups.push(async () => direct.destroy());
    const proxy = await startStrikeProxy({
      target: ddb.endpoint,
      tables,
      decide: (r) => chaos?.decide(r),
      kill: (r, when) => chaos?.strike(r, when),
    });
    cleanups.push(() => proxy.close());
    const bedrock = await startChaosBedrock({
      config: settings.bedrock,
      rng,
      faultRate: settings.modelFaultRate,
      slowFirstTokenMs: [1000, 6000],
      active: () => faultsOn,
    });
    cleanups.push(() => bedrock.close());

    const serviceLog = settings.serviceLog ? openServiceLog(settings.serviceLog) : undefined;
    if (serviceLog) cleanups.push(() => new Promise((resolve) => serviceLog.end(resolve)));
    log(`starting the stack: ${settings.workers} workers, seed ${settings.seed}${settings.serviceLog ? `; service logs in ${settings.serviceLog}` : ''}`);
    const stack: LocalStack = await startLocalStack({
      workers: settings.workers,
      persist: false,
      tableSuffix: suffix,
      baseEnv: { ...isolatedBaseEnv(), [ENDPOINT_ENV.dynamodb]: proxy.url, [ENDPOINT_ENV.bedrockRuntime]: bedrock.url },
      env: {
        COT_CIRCLE_FILE: TEST_CIRCLE,
        COT_RATE_LIMIT_PER_MINUTE: '1000000',
        COT_READ_RATE_LIMIT_PER_MINUTE: '1000000',
        COT_WS_MAX_CONNECTIONS_PER_USER: '10000',
        COT_DLQ_SWEEP_SECONDS: '5',
        COT_LOG_LEVEL: 'info',
        COT_TRACING: 'off',
        COT_METRICS: 'off',
        COT_WORKER_CONCURRENCY: String(settings.slotsPerWorker),
        ...settings.serviceEnv,
      },
      log: (line) => log(`stack: ${line}`),
      ...(serviceLog ? { onProcessLine: (source: string, line: string) => serviceLog.write(`${source} ${line}\n`) } : {}),
    });
    cleanups.push(() => stack.stop());
    const tokens = await Promise.all(USERS.map((user) => getAccessToken({ issuer: stack.oidc.issuer, audience: stack.oidc.audience, user })));

    const dlq = new DeadLetterWatch(stack.aws.sqs, stack.dlqUrl);
    dlq.start();
    cleanups.push(async () => dlq.stop());
    chaos = new WorkerChaos({
      stack,
      rng,
      faultsPerMinute: settings.faultsPerMinute,
      weights: settings.weights,
      stopMs: settings.stopMs,
      holders: () => proxy.holders(),
      log: (line) => log(`fault: ${line}`),
    });
    const workerChaos = chaos;
    cleanups.push(() => workerChaos.close());

    // Poisoned jobs are spread over the run; every other job goes through POST /chat.
    const poisonCount = Math.max(1, Math.floor(settings.jobs / settings.poisonEvery));
    const poisonAt = new Set(Array.from({ length: poisonCount }, (_, i) => Math.floor(((i + 0.5) * settings.jobs) / poisonCount)));
    const questions = benchQuestions(settings.jobs);
    const submittedAt = new Map<string, number>();
    const jobIds: string[] = [];
    const poisoned: string[] = [];
    const unfinished = new Set<string>();
    const endedAt = new Map<string, number>();
    const followers = new Map<string, Follower>();
    const byStatus: Record<string, number> = {};
    let submitErrors = 0;

    log(`${settings.jobs} jobs, ${settings.inFlight} at a time; ${settings.faultsPerMinute} worker faults a minute on average`);
    chaos.start();
    let lastSubmitAt = Date.now();
    let next = 0;
    let progressAt = Date.now();
    while (unfinished.size > 0 || next < settings.jobs) {
      while (next < settings.jobs && unfinished.size < settings.inFlight) {
        const i = next++;
        const user = i % USERS.length;
        const token = tokens[user]!;
        let jobId: string;
        if (poisonAt.has(i)) {
          jobId = await poisonJob(direct, tables, stack, ownerOf(token));
          poisoned.push(jobId);
        } else {
          try {
            jobId = (await submitJob(stack.apiUrl, token, { question: questions[i]!, mode: rng.chance(0.3) ? 'quick' : 'full' })).jobId;
          } catch (err) {
            submitErrors++;
            log(`POST /chat failed: ${(err as Error).message}`);
            continue;
          }
          if (rng.chance(settings.followShare)) {
            const follower = new Follower({ wsUrl: stack.wsUrl, token, jobId, client: `c${i}`, rng, meanDropMs: settings.meanDropMs });
            followers.set(jobId, follower);
            follower.start();
          }
        }
        submittedAt.set(jobId, Date.now());
        jobIds.push(jobId);
        unfinished.add(jobId);
        lastSubmitAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 500));
      const statuses = await statusesOf(direct, tables, [...unfinished]);
      for (const [jobId, status] of statuses) {
        if (!isTerminal(status)) continue;
        unfinished.delete(jobId);
        endedAt.set(jobId, Date.now());
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        // A follower gets a while for its job.done to arrive, then is stopped: the checker sees what it got.
        const follower = followers.get(jobId);
        if (follower) setTimeout(() => follower.stop(), 15_000).unref();
      }
      const ended = jobIds.length - unfinished.size;
      if (faultsOn && next >= settings.jobs && ended >= settings.calmAt * settings.jobs) {
        faultsOn = false;
        chaos.calm();
        log(`${ended} of ${settings.jobs} jobs ended: no more faults`);
      }
      if (Date.now() - progressAt > 10_000) {
        progressAt = Date.now();
        log(`${ended}/${settings.jobs} ended, ${unfinished.size} running, ${chaos.faults.length} worker faults`);
      }
      if (next >= settings.jobs && Date.now() - lastSubmitAt > settings.drainTimeoutMs) {
        log(`giving up on ${unfinished.size} jobs that did not end within ${settings.drainTimeoutMs / 1000} s`);
        break;
      }
    }
    faultsOn = false;
    chaos.calm();
    await Promise.all([...followers.values()].map((f) => Promise.race([f.ended, new Promise((r) => setTimeout(r, 15_000))])));
    for (const f of followers.values()) f.stop();

    // Leases are released after the final commit; a killed holder's lapses by itself.
    const leaseMs = Number(settings.serviceEnv.COT_LEASE_SECONDS ?? JOB_VISIBILITY_SECONDS_DEFAULT) * 1000;
    await untilNoLiveLease(direct, tables.state, jobIds, leaseMs + 5000);
    await dlq.peek().catch(() => undefined);
    const checkedAt = Date.now();
    const evidence: ChaosEvidence = {
      jobs: await jobEvidence(direct, tables, jobIds, bedrock.calls.list()),
      poisoned,
      deadLetters: { seen: [...dlq.seen.values()], count: await dlq.count() },
      faults: chaos.faults,
      transcripts: [...followers.values()].map((f) => f.transcript),
      checkedAt,
    };
    const verdict = checkHistories(evidence);
    const workerFaults: Record<string, number> = {};
    for (const f of chaos.faults) {
      const key = f.kind === 'SIGKILL' ? `SIGKILL ${f.moment}` : f.kind;
      workerFaults[key] = (workerFaults[key] ?? 0) + 1;
    }
    const repeatsByReason: Record<string, number> = {};
    for (const r of verdict.repeats) repeatsByReason[r.reason] = (repeatsByReason[r.reason] ?? 0) + 1;
    if (submitErrors) byStatus['not submitted'] = submitErrors;
    const report: ChaosReport = {
      seed: settings.seed,
      jobs: { total: jobIds.length, poisoned: poisoned.length, byStatus },
      durationS: (Date.now() - started) / 1000,
      workerFaults,
      modelFaults: { ...bedrock.injected },
      clients: {
        followers: followers.size,
        drops: [...followers.values()].reduce((n, f) => n + f.drops, 0),
        gapFills: [...followers.values()].reduce((n, f) => n + f.gapFills, 0),
        subscriptions: [...followers.values()].reduce((n, f) => n + f.transcript.subscriptions, 0),
      },
      respawned: chaos.respawned,
      wasted: verdict.wasted,
      repeatsByReason,
      recoveries: recoveries(chaos.faults, evidence.jobs, proxy.leasesTaken()),
      firstCommit: firstCommitWaits(evidence.jobs, submittedAt),
      deadLetters: evidence.deadLetters.count,
      verdict: { ok: verdict.ok, violations: verdict.violations },
    };
    return { report, verdict, evidence };
  } finally {
    faultsOn = false;
    log('stopping the stack');
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((err: unknown) => log(`cleanup failed: ${(err as Error).message}`));
  }
}

function openServiceLog(file: string): ReturnType<typeof createWriteStream> {
  mkdirSync(dirname(file), { recursive: true });
  return createWriteStream(file);
}

/** The token's subject (a job's owner). */
function ownerOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub;
}

/** A job no worker can run (an unknown mode), as a corrupt write would leave it: its message must end in the DLQ. */
async function poisonJob(doc: DynamoDBDocumentClient, tables: ReturnType<typeof resourceNames>['tables'], stack: LocalStack, owner: string): Promise<string> {
  const jobId = randomUUID();
  const now = new Date().toISOString();
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  await doc.send(
    new PutCommand({
      TableName: tables.jobs,
      Item: { jobId, owner, question: 'Poisoned on purpose', questionPreview: 'Poisoned on purpose', advisors: ['claude'], mode: 'turbo', status: 'queued', stage: 'queued', createdAt: now, updatedAt: now, expiresAt },
    }),
  );
  await doc.send(new PutCommand({ TableName: tables.state, Item: { jobId, version: 0, epoch: 0, expiresAt } }));
  await stack.aws.sqs.send(new SendMessageCommand({ QueueUrl: stack.jobQueueUrl, MessageBody: JSON.stringify({ jobId }) }));
  return jobId;
}

/** Waits (at most `timeoutMs`) until no job's lease is live. */
async function untilNoLiveLease(doc: DynamoDBDocumentClient, table: string, jobIds: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const states = await batchGet<StateItem>(doc, table, jobIds, 'jobId, leaseOwner, leaseExpiresAt');
    if (!states.some((s) => s.leaseOwner && (s.leaseExpiresAt ?? 0) > Date.now())) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

