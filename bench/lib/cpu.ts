/**
 * Where the CPU went during a scenario: CPU time of each process of the stack (from
 * /proc/<pid>/stat) and how busy the whole machine was (from /proc/stat), so a figure can
 * be read against a saturated or a shared machine. Linux only; elsewhere it reports nothing.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  at: number;
  /** CPU seconds used so far, by process name (several pids under one name are summed). */
  byProcess: Record<string, number>;
  machine?: { busy: number; total: number };
}

export interface CpuUse {
  /** Cores' worth of CPU used by each process on average (1 = one core fully busy). */
  coresByProcess: Record<string, number>;
  /** CPU seconds used by each process between the samples. */
  secondsByProcess: Record<string, number>;
  /** Share of all cores that were busy, whoever used them (others share this machine). */
  machineBusy?: number;
  cores: number;
}

/** CPU time so far of the named processes, and of the machine. */
export function sampleCpu(pids: Record<string, readonly number[]>): CpuSample {
  const byProcess: Record<string, number> = {};
  for (const [name, list] of Object.entries(pids)) byProcess[name] = list.reduce((s, pid) => s + processSeconds(pid), 0);
  return { at: Date.now(), byProcess, machine: machineTicks() };
}

/** CPU use between two samples. */
export function cpuBetween(before: CpuSample, after: CpuSample, cores: number): CpuUse {
  const wallS = Math.max(0.001, (after.at - before.at) / 1000);
  const coresByProcess: Record<string, number> = {};
  const secondsByProcess: Record<string, number> = {};
  for (const [name, s] of Object.entries(after.byProcess)) {
    secondsByProcess[name] = s - (before.byProcess[name] ?? 0);
    coresByProcess[name] = secondsByProcess[name] / wallS;
  }
  const machineBusy =
    before.machine && after.machine && after.machine.total > before.machine.total
      ? (after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total)
      : undefined;
  return { coresByProcess, secondsByProcess, machineBusy, cores };
}

function processSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
  } catch {
    return 0; // exited, or not Linux
  }
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const total = cpu.reduce((s, x) => s + x, 0);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}
