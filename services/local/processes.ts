/**
 * Child processes of the local stack: spawned with an explicit environment, their output
 * captured line by line (JSON log lines parsed), stoppable with a bounded grace period,
 * and guarded so that they do not outlive the launcher if it dies without cleaning up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';
import { StartupError } from './errors.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type LogEntry = Record<string, unknown>;

export interface ManagedProcess {
  /** Short name used as the log prefix, e.g. `worker-1`. */
  readonly id: string;
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** True once the process has exited. */
  hasExited(): boolean;
  kill(signal?: NodeJS.Signals): void;
  /** Everything it wrote to stdout and stderr so far, one line per line. */
  output(): string;
  /** Its JSON log lines parsed, oldest first. */
  logs(): LogEntry[];
  /**
   * The first JSON log line (already written or still to come) matching `predicate`;
   * rejects after `timeoutMs` or when the process exits first.
   */
  waitForLog(predicate: (entry: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry>;
  /** The same for any output line, JSON or not. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves when it is gone. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

export interface SpawnManagedOptions {
  id: string;
  command: string;
  args: readonly string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  /** Called with every output line as it arrives (for relaying to a terminal). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Keep at most this many lines in memory. */
  maxLines?: number;
}

const DEFAULT_MAX_LINES = 20_000;

/** Spawns a child process whose output is captured and which dies with its parent. */
export function spawnManaged(opts: SpawnManagedOptions): ManagedProcess {
  const child = spawn(opts.command, [...opts.args], {
    cwd: opts.cwd,
    env: opts.env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C reaches only the launcher, which stops children in order.
    detached: true,
  });
  return manage(child, opts);
}

/** Wraps an already spawned child (stdout/stderr piped) the same way. */
export function manage(child: ChildProcess, opts: Pick<SpawnManagedOptions, 'id' | 'onLine' | 'maxLines'>): ManagedProcess {
  const maxLines = opts.maxLines ?? DEFAULT_MAX_LINES;
  const lines: string[] = [];
  const entries: LogEntry[] = [];
  /** Pending waits; each tests a raw line and its parsed JSON (if any) and says whether it is satisfied. */
  const waiters = new Set<(line: string, entry: LogEntry | undefined) => boolean>();
  let exitInfo: ExitInfo | undefined;

  const exited = new Promise<ExitInfo>((resolve) => {
    // 'close', not 'exit': by then every output line has been read, so output() is complete.
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    // A spawn failure (ENOENT) emits 'error' and no 'exit'.
    child.once('error', () => {
      if (!exitInfo && child.pid === undefined) {
        exitInfo = { code: null, signal: null };
        resolve(exitInfo);
      }
    });
  });
  const guard = child.pid !== undefined ? guardAgainstOrphaning(child.pid) : undefined;
  void exited.then(() => guard?.release());

  const onLine = (line: string, stream: 'stdout' | 'stderr'): void => {
    lines.push(line);
    if (lines.length > maxLines) lines.shift();
    const entry = parseJsonLine(line);
    if (entry) {
      entries.push(entry);
      if (entries.length > maxLines) entries.shift();
    }
    for (const waiter of waiters) if (waiter(line, entry)) waiters.delete(waiter);
    opts.onLine?.(line, stream);
  };
  if (child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (l) => onLine(l, 'stdout'));
  if (child.stderr) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (l) => onLine(l, 'stderr'));

  /** Resolves with what `match` returns for the first future line it accepts. */
  const waitFor = <T>(match: (line: string, entry: LogEntry | undefined) => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const waiter = (line: string, entry: LogEntry | undefined): boolean => {
        const value = match(line, entry);
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new StartupError(`${opts.id}: no matching ${what} within ${timeoutMs} ms\n${tail(lines)}`));
      }, timeoutMs);
      waiters.add(waiter);
      void exited.then((info) => {
        if (!waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new StartupError(`${opts.id} exited (${describeExit(info)}) before the awaited ${what}\n${tail(lines)}`));
      });
    });

  const proc: ManagedProcess = {
    id: opts.id,
    pid: child.pid ?? -1,
    exited,
    hasExited: () => exitInfo !== undefined,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (!exitInfo) child.kill(signal);
    },
    output: () => lines.join('\n'),
    logs: () => [...entries],
    waitForLog(predicate, timeoutMs) {
      const found = entries.find((e) => safeMatch(predicate, e));
      if (found) return Promise.resolve(found);
      return waitFor<LogEntry>((_line, entry) => (entry && safeMatch(predicate, entry) ? entry : undefined), timeoutMs, 'log line');
    },
    waitForLine(predicate, timeoutMs) {
      const found = lines.find((l) => safeMatch(predicate, l));
      if (found !== undefined) return Promise.resolve(found);
      return waitFor<string>((line) => (safeMatch(predicate, line) ? line : undefined), timeoutMs, 'output line');
    },
    async stop(graceMs = 10_000) {
      if (exitInfo) return exitInfo;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const info = await exited;
      clearTimeout(timer);
      return info;
    },
  };
  return proc;
}

/** True while a process with this PID exists (signal 0 probes without signalling; EPERM: it exists, not ours). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `code 0` / `signal SIGKILL`, for messages. */
export function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `code ${String(info.code)}`;
}

/** The last lines of captured output, for error messages. */
export function tail(lines: readonly string[], n = 30): string {
  return lines.slice(-n).join('\n');
}

function parseJsonLine(line: string): LogEntry | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as LogEntry) : undefined;
  } catch {
    return undefined;
  }
}

function safeMatch<T>(predicate: (value: T) => boolean, value: T): boolean {
  try {
    return predicate(value);
  } catch {
    return false;
  }
}

/**
 * Waits for EOF on stdin, then SIGTERMs $1, and SIGKILLs it if it is still there $2 seconds
 * later: a service whose stdout pipe died with the launcher may not manage a clean exit.
 */
const ORPHAN_GUARD_SCRIPT = [
  'trap "" INT HUP',
  'read _',
  'kill -TERM "$1" 2>/dev/null || exit 0',
  'i=0',
  'while [ "$i" -lt "$2" ] && kill -0 "$1" 2>/dev/null; do sleep 1; i=$((i + 1)); done',
  'kill -KILL "$1" 2>/dev/null',
].join('; ');
const ORPHAN_KILL_AFTER_SECONDS = 10;

/**
 * A tiny `sh` watchdog holding a pipe from us: if this process dies without stopping its
 * children (SIGKILL, a crashed test runner), the pipe closes and the watchdog stops the
 * child, so no JVM or worker is left running. On a clean exit we kill the watchdog first.
 */
function guardAgainstOrphaning(pid: number): { release(): void } {
  let watchdog: ChildProcess | undefined;
  try {
    watchdog = spawn('/bin/sh', ['-c', ORPHAN_GUARD_SCRIPT, 'cot-orphan-guard', String(pid), String(ORPHAN_KILL_AFTER_SECONDS)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    watchdog.on('error', () => undefined);
    watchdog.unref();
    (watchdog.stdin as unknown as Socket | null)?.unref?.();
  } catch {
    watchdog = undefined;
  }
  return {
    release() {
      if (watchdog && watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
    },
  };
}
