/**
 * Who holds an exclusive lock, written next to it in shared memory so that another
 * process can tell whether the holder died: a token (pid << 8 | thread id & 0xff), the
 * holder's pid namespace and its process start time (so a reused pid is not mistaken for
 * the dead process). Used by Mutex and by RWLock's write side.
 */
import { threadId } from 'node:worker_threads';
import { isProcessAlive, ownPidNamespace, ownStartTime } from '../liveness.js';

/** This process's pid, read once: `process.pid` is a getter into C++ (~300 ns a read). */
export const OWN_PID = process.pid;

/** This thread's owner token (never 0). */
export function ownToken(): number {
  return (((OWN_PID & 0x3fffff) << 8) | (threadId & 0xff)) | 0;
}

/** The pid and thread id a token stands for. */
export function tokenOwner(token: number): { readonly pid: number; readonly threadId: number } {
  return Object.freeze({ pid: token >>> 8, threadId: token & 0xff });
}

/** Where an owner record lives: Int32 words for token and namespace, a Float64 slot for the start time. */
export class OwnerRecord {
  constructor(
    private readonly i32: Int32Array,
    private readonly f64: Float64Array,
    private readonly wToken: number,
    private readonly wNs: number,
    private readonly fStart: number,
  ) {}

  /** The holder's token, 0 when none is recorded. */
  get token(): number {
    return Atomics.load(this.i32, this.wToken);
  }

  /** Record `token` as the holder (namespace and start time first, the token last). */
  record(token: number): void {
    Atomics.store(this.i32, this.wNs, ownPidNamespace() | 0);
    this.f64[this.fStart] = ownStartTime();
    Atomics.store(this.i32, this.wToken, token);
  }

  /** Forget the holder (before the lock is released, so a record is never stale). */
  clear(): void {
    Atomics.store(this.i32, this.wToken, 0);
  }

  /** Hand the record from `from` to `to` atomically; false if someone else changed it first. */
  takeOver(from: number, to: number): boolean {
    if (Atomics.compareExchange(this.i32, this.wToken, from, to) !== from) return false;
    if (to !== 0) this.record(to);
    return true;
  }

  /**
   * Whether the process behind `token` is gone. False when it cannot be judged: a holder in
   * this process (a worker thread's death is not detected), or in another pid namespace.
   */
  holderDead(token: number): boolean {
    const pid = token >>> 8;
    if (token === 0 || pid === (OWN_PID & 0x3fffff)) return false;
    const ns = Atomics.load(this.i32, this.wNs) >>> 0;
    const ours = ownPidNamespace() >>> 0;
    if (ns !== 0 && ours !== 0 && ns !== ours) return false;
    const start = this.f64[this.fStart]!;
    if (Atomics.load(this.i32, this.wToken) !== token) return false; // changed while we looked
    return !isProcessAlive(pid, start);
  }
}
