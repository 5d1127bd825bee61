/**
 * Is the process behind a pid still the one we met? A pid alone is not enough: after a
 * crash the number can be reused by an unrelated process. Linux's /proc/<pid>/stat gives
 * the process's start time (clock ticks since boot), which together with the pid names
 * one process for the life of the machine. Processes in another pid namespace (another
 * container) cannot be judged by pid at all; callers fall back to a heartbeat there.
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** The start time of `pid` in clock ticks since boot, or undefined when it does not exist (or is a zombie). */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain anything: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); starttime is field 22.
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : undefined;
}

let cachedProc: boolean | undefined;
let cachedNs: number | undefined;
let cachedStart: number | undefined;

/** Whether /proc can be used to judge pids on this machine (checked once, on first use). */
export function procAvailable(): boolean {
  if (cachedProc === undefined) {
    try {
      readFileSync('/proc/self/stat', 'latin1');
      cachedProc = true;
    } catch {
      cachedProc = false;
    }
  }
  return cachedProc;
}

/** Inode number of this process's pid namespace (0 when unknown). */
export function ownPidNamespace(): number {
  if (cachedNs === undefined) {
    try {
      const m = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'));
      cachedNs = m ? Number(m[1]) : 0;
    } catch {
      cachedNs = 0;
    }
  }
  return cachedNs;
}

/** This process's start time in ticks since boot (0 when unknown). */
export function ownStartTime(): number {
  cachedStart ??= procAvailable() ? (processStartTime(process.pid) ?? 0) : 0;
  return cachedStart;
}

/**
 * Whether the process `pid` that started at `startTime` (0: unknown) is alive. Only
 * meaningful for a pid of this process's pid namespace.
 */
export function isProcessAlive(pid: number, startTime: number): boolean {
  if (procAvailable()) {
    const now = processStartTime(pid);
    if (now === undefined) return false;
    return startTime === 0 || now === startTime;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
