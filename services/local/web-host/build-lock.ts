/**
 * A lock between processes on one machine: a directory created with mkdir (atomic), holding
 * the owner's PID. Two stacks or two test files that want the same web build take turns;
 * a lock whose owner died is taken over.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { processExists } from '../processes.js';
import { WebBuildLockTimeoutError } from './errors.js';

export interface LockOptions {
  /** How long to wait for another holder; default 10 minutes (a cold build on a busy machine). */
  timeoutMs?: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (owner: LockOwner | undefined) => void;
}

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

const OWNER_FILE = 'owner.json';
const POLL_MS = 200;
/** A lock directory without an owner file older than this was left by a crash between mkdir and write. */
const OWNERLESS_GRACE_MS = 30_000;

/** Runs `fn` while holding the lock at `lockDir`; releases it however `fn` ends. */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  await acquire(lockDir, opts);
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function acquire(lockDir: string, opts: LockOptions): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  let waiting = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      await writeFile(join(lockDir, OWNER_FILE), JSON.stringify(owner));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(lockDir);
    if (await isStale(lockDir, owner)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!waiting) {
      waiting = true;
      opts.onWait?.(owner);
    }
    if (Date.now() > deadline) {
      throw new WebBuildLockTimeoutError(`${lockDir} is still held${owner ? ` by pid ${owner.pid} since ${owner.since}` : ''}; delete it if no build is running`);
    }
    // Another process; nothing to await but its removal of the directory.
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function readOwner(lockDir: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(join(lockDir, OWNER_FILE), 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? { pid: owner.pid, host: owner.host, since: String(owner.since) } : undefined;
  } catch {
    return undefined;
  }
}

async function isStale(lockDir: string, owner: LockOwner | undefined): Promise<boolean> {
  if (owner) return owner.host === hostname() && !processExists(owner.pid);
  const info = await stat(lockDir).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > OWNERLESS_GRACE_MS;
}
