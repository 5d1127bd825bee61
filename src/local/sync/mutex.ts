/**
 * A robust mutual-exclusion lock in 64 bytes of a SharedArrayBuffer, for worker threads
 * (plain SharedArrayBuffer, `wake: 'atomics'`) and processes (a `SharedSegment`,
 * `wake: 'futex'`).
 *
 * ```
 * word 4  lock: 0 free, else the owner's token (pid << 8 | worker threadId & 0xff)
 * word 5  owner pid   word 6  owner pid-namespace inode   bytes 32..39  owner start time (f64)
 * ```
 *
 * Robustness: a waiter whose sleep slice times out checks whether the owner's process is
 * still alive (pid + process start time from /proc, the same judgement `SharedSegment`
 * uses). If it died holding the lock, the waiter takes the lock over with a
 * compare-and-swap and learns it through `ownerDied: true` in its result, so it can
 * repair the state the lock protects. Death of a worker thread whose process lives on is
 * not detected, nor death of an owner in another pid namespace.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import { isProcessAlive, ownPidNamespace, ownStartTime } from '../liveness.js';
import { OWN_PID, ownToken } from './owner.js';
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';

const W_LOCK = W_STATE;
const W_OWNER_PID = W_STATE + 1;
const W_OWNER_NS = W_STATE + 2;
const F_OWNER_START = 4; // Float64 index (byte 32)

/** What acquiring the lock found. */
export interface LockResult {
  /**
   * True when the previous owner died while holding the lock: the caller owns it now, but
   * the data it protects may be half-updated and should be checked or repaired.
   */
  readonly ownerDied: boolean;
  /** With `ownerDied`: the code `PLEXUS_ERR_OWNER_DIED`, for logging and matching. */
  readonly code?: typeof ErrorCode.OWNER_DIED;
  /** With `ownerDied`: who held it. */
  readonly previousOwner?: { readonly pid: number; readonly threadId: number };
}

/** Options of {@link Mutex.lock} and {@link Mutex.lockSync}. */
export interface MutexLockOptions extends SyncWaitOptions {
  /**
   * What to do when the previous owner died holding the lock: `report` (default) resolves
   * with `ownerDied: true`; `throw` rejects with `PLEXUS_ERR_OWNER_DIED` (details:
   * `previousOwner`), and the caller owns the lock all the same and must unlock it.
   */
  readonly ownerDied?: 'report' | 'throw';
}

const LOCKED: LockResult = Object.freeze({ ownerDied: false });

/** A mutex over shared memory; see the module comment. Not re-entrant. */
export class Mutex {
  /** Bytes a mutex occupies. */
  static readonly BYTES = 64;
  private readonly core: SyncCore;
  private readonly i32: Int32Array;
  private readonly start: Float64Array;
  private readonly token = ownToken();

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: SyncCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'Mutex');
    if (create !== undefined) initRegion(i32, SyncKind.MUTEX, create, 'Mutex');
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.MUTEX, 'Mutex'), options);
    this.i32 = i32;
    this.start = new Float64Array(buffer, byteOffset, 8);
  }

  /** Initialises a free mutex at `byteOffset` (8-byte aligned, {@link Mutex.BYTES} long). Do it once, before anyone attaches. */
  static create(buffer: SharedArrayBuffer, byteOffset = 0, options: SyncCreateOptions = {}): Mutex {
    return new Mutex(buffer, byteOffset, options, options);
  }

  /** Uses a mutex another thread or process created at `byteOffset`. */
  static attach(buffer: SharedArrayBuffer, byteOffset = 0, options: SyncAttachOptions = {}): Mutex {
    return new Mutex(buffer, byteOffset, undefined, options);
  }

  /** The wake path stored in the header. */
  get wake(): 'atomics' | 'futex' {
    return this.core.wake;
  }

  /** Whether anyone holds the lock right now (a snapshot). */
  get locked(): boolean {
    return Atomics.load(this.i32, W_LOCK) !== 0;
  }

  /** Whether this thread holds it. */
  get heldByMe(): boolean {
    return Atomics.load(this.i32, W_LOCK) === this.token;
  }

  /** Takes the lock if it is free, without waiting (does not judge a dead owner). */
  tryLock(): boolean {
    if (Atomics.compareExchange(this.i32, W_LOCK, 0, this.token) !== 0) return false;
    this.recordOwner();
    return true;
  }

  /**
   * Takes the lock, waiting without blocking the thread.
   * @throws PlexusError `PLEXUS_ERR_TIMEOUT` after `timeoutMs`; `signal.reason` when
   *   aborted; `PLEXUS_ERR_OWNER_DIED` only with `ownerDied: 'throw'` (the lock is then held).
   */
  async lock(opts?: MutexLockOptions): Promise<LockResult> {
    const r = await this.core.waitFor(W_LOCK, () => this.attempt(), 'Mutex.lock', opts, () => this.recoverIfOwnerDied());
    return this.finish(r, opts);
  }

  /**
   * Takes the lock, blocking the calling thread (for workers; on the main thread it stalls
   * the event loop, use {@link lock}).
   * @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `PLEXUS_ERR_OWNER_DIED` only with `ownerDied: 'throw'`.
   */
  lockSync(timeoutMs?: number, opts?: Pick<MutexLockOptions, 'ownerDied'>): LockResult {
    const r = this.core.waitForSync(W_LOCK, () => this.attempt(), 'Mutex.lockSync', timeoutMs, () => this.recoverIfOwnerDied());
    return this.finish(r, opts);
  }

  /**
   * Releases the lock and wakes the waiters.
   * @throws PlexusError `PLEXUS_ERR_INVALID_ARGUMENT` when this thread does not hold it.
   */
  unlock(): void {
    const i32 = this.i32;
    if (Atomics.load(i32, W_LOCK) !== this.token) {
      throw plexusError(ErrorCode.INVALID_ARGUMENT, 'Mutex.unlock: this thread does not hold the lock');
    }
    Atomics.store(i32, W_OWNER_PID, 0);
    Atomics.store(i32, W_LOCK, 0);
    this.core.wakeWord(W_LOCK);
  }

  /** Runs `fn` holding the lock (async), unlocking afterwards whatever happens. */
  async withLock<T>(fn: (result: LockResult) => T | Promise<T>, opts?: MutexLockOptions): Promise<T> {
    const r = await this.lock(opts);
    try {
      return await fn(r);
    } finally {
      this.unlock();
    }
  }

  private attempt(): LockResult | undefined {
    return this.tryLock() ? LOCKED : undefined;
  }

  private finish(r: LockResult, opts: Pick<MutexLockOptions, 'ownerDied'> | undefined): LockResult {
    if (r.ownerDied && opts?.ownerDied === 'throw') {
      throw plexusError(ErrorCode.OWNER_DIED, `the previous owner of the mutex (pid ${r.previousOwner?.pid}) died holding it; the lock is now held by the caller`, {
        details: { previousOwner: r.previousOwner },
      });
    }
    return r;
  }

  private recordOwner(): void {
    Atomics.store(this.i32, W_OWNER_NS, ownPidNamespace() | 0);
    this.start[F_OWNER_START] = ownStartTime();
    Atomics.store(this.i32, W_OWNER_PID, OWN_PID);
  }

  /** Whether the holder with `token` is gone (false when it cannot be judged). */
  private ownerDead(token: number): boolean {
    const pid = token >>> 8;
    if (pid === (OWN_PID & 0x3fffff)) return false; // this process: threads are not judged
    const i32 = this.i32;
    let start = 0;
    if (Atomics.load(i32, W_OWNER_PID) === pid) {
      const ns = Atomics.load(i32, W_OWNER_NS) >>> 0;
      const ours = ownPidNamespace() >>> 0;
      if (ns !== 0 && ours !== 0 && ns !== ours) return false; // another pid namespace
      start = this.start[F_OWNER_START]!;
      // The record must still be this owner's (it is cleared before every unlock).
      if (Atomics.load(i32, W_OWNER_PID) !== pid || Atomics.load(i32, W_LOCK) !== token) return false;
    }
    return !isProcessAlive(pid, start);
  }

  private recoverIfOwnerDied(): LockResult | undefined {
    const token = Atomics.load(this.i32, W_LOCK);
    if (token === 0 || !this.ownerDead(token)) return undefined;
    if (Atomics.compareExchange(this.i32, W_LOCK, token, this.token) !== token) return undefined;
    this.recordOwner();
    return Object.freeze({ ownerDied: true, code: ErrorCode.OWNER_DIED, previousOwner: Object.freeze({ pid: token >>> 8, threadId: token & 0xff }) });
  }
}
