/**
 * `.local/stack.json`: what `npm start` is running, for the tools that talk to it
 * (`npm run token`, `npm run ask`, `npm run worker`, the web UI, people with curl).
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { LocalStack } from './stack.js';
import { StartupError } from './errors.js';

export const STACK_FILE_NAME = 'stack.json';

/** The file's shape; `env` is what a service process needs to join the stack. */
export const stackFileSchema = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  apiUrl: z.string(),
  wsUrl: z.string(),
  /** Absent when the stack serves no web app. */
  webUrl: z.string().optional(),
  managementEndpoint: z.string(),
  oidc: z.object({ issuer: z.string(), audience: z.string() }),
  bedrock: z.object({ url: z.string(), controlUrl: z.string().optional() }),
  endpoints: z.record(z.string(), z.string().optional()),
  tables: z.record(z.string(), z.string()),
  queues: z.object({ jobs: z.object({ name: z.string(), url: z.string() }), deadLetter: z.object({ name: z.string(), url: z.string() }) }),
  workers: z.array(z.object({ id: z.string(), pid: z.number().int() })),
  apiPid: z.number().int(),
  dynamodbPid: z.number().int().optional(),
  env: z.record(z.string(), z.string()),
});

export type StackFile = z.infer<typeof stackFileSchema>;

/** The stack file's path for a state directory (default `.local`). */
export function stackFilePath(dir = '.local'): string {
  return join(resolve(dir), STACK_FILE_NAME);
}

/** The description of a running stack as written to stack.json. */
export function describeStack(stack: LocalStack, launcherPid: number): StackFile {
  const pids = stack.pids();
  return {
    pid: launcherPid,
    startedAt: new Date().toISOString(),
    apiUrl: stack.apiUrl,
    wsUrl: stack.wsUrl,
    webUrl: stack.webUrl,
    managementEndpoint: stack.managementEndpoint,
    oidc: stack.oidc,
    bedrock: stack.bedrock,
    endpoints: stack.endpoints,
    tables: stack.tables,
    queues: {
      jobs: { name: stack.queueNames.jobs, url: stack.jobQueueUrl },
      deadLetter: { name: stack.queueNames.dlq, url: stack.dlqUrl },
    },
    workers: stack.workers.filter((w) => !w.hasExited()).map((w) => ({ id: w.id, pid: w.pid })),
    apiPid: pids.api,
    dynamodbPid: pids.dynamodb,
    env: stack.env,
  };
}

/** Writes the file atomically (readers never see half of it). */
export async function writeStackFile(path: string, content: StackFile): Promise<void> {
  await mkdir(resolve(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** Removes the file if it still describes the launcher `pid` (another stack may have replaced it). */
export async function removeStackFile(path: string, pid: number): Promise<void> {
  const current = await readStackFile(path).catch(() => undefined);
  if (current && current.pid !== pid) return;
  await rm(path, { force: true });
}

/** Reads and validates the file; a StartupError saying what to do when it is missing or stale. */
export async function readStackFile(path: string): Promise<StackFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new StartupError(`no local stack found (${path} does not exist): start it with npm start`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StartupError(`${path} is not valid JSON; restart the stack with npm start`, { cause: err });
  }
  const parsed = stackFileSchema.safeParse(json);
  if (!parsed.success) throw new StartupError(`${path} is not a stack file this version understands; restart the stack with npm start`);
  return parsed.data;
}
