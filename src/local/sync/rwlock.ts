/**
 * A writer-preferring readers–writer lock in 64 bytes of a SharedArrayBuffer.
 *
 * ```
 * word 4  state: readers holding it (low 30 bits) | writer holds it (bit 30)
 * word 5  writers waiting      word 6  sequence number everyone sleeps on
 *
 * word 7  the writer's owner token (pid << 8 | thread id), word 8 its pid namespace,
 * bytes 40..47 its process start time (see owner.ts)
 * ```
 *
 * A reader may enter only while no writer holds the lock *and none is waiting*, so a
 * stream of readers cannot starve a writer (a stream of writers can delay readers).
 *
 * Robust on the write side: a waiter whose sleep slice times out checks whether the
 * recorded writer's process died; a waiting writer then takes the write lock over, a
 * waiting reader releases it and goes on; either learns `ownerDied`. Readers are not
 * tracked one by one: a process that dies holding a *read* lock leaves it held.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import type { LockResult } from './mutex.js';
import { OwnerRecord, ownToken, tokenOwner } from './owner.js';
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';

const W_RW = W_STATE;
const W_WRITERS_WAITING = W_STATE + 1;
const W_SEQ = W_STATE + 2;
const W_WRITER = W_STATE + 3;
const W_WRITER_NS = W_STATE + 4;
const F_WRITER_START = 5; // Float64 index (byte 40)
const WRITER = 1 << 30;

const LOCKED: LockResult = Object.freeze({ ownerDied: false });

function died(previous: number): LockResult {
  return Object.freeze({ ownerDied: true, code: ErrorCode.OWNER_DIED, previousOwner: tokenOwner(previous) });
}

/** A readers–writer lock over shared memory. */
export class RWLock {
  /** Bytes a readers–writer lock occupies. */
  static readonly BYTES = 64;
  private readonly core: SyncCore;
  private readonly i32: Int32Array;
  private readonly writer: OwnerRecord;
  private readonly token = ownToken();

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: SyncCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'RWLock');
    if (create !== undefined) initRegion(i32, SyncKind.RWLOCK, create, 'RWLock');
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.RWLOCK, 'RWLock'), options);
    this.i32 = i32;
    this.writer = new OwnerRecord(i32, new Float64Array(buffer, byteOffset, 8), W_WRITER, W_WRITER_NS, F_WRITER_START);
  }

  /** Initialises a free lock at `byteOffset` (8-byte aligned, {@link RWLock.BYTES} long). */
  static create(buffer: SharedArrayBuffer, byteOffset = 0, options: SyncCreateOptions = {}): RWLock {
    return new RWLock(buffer, byteOffset, options, options);
  }

  /** Uses a lock created elsewhere at `byteOffset`. */
  static attach(buffer: SharedArrayBuffer, byteOffset = 0, options: SyncAttachOptions = {}): RWLock {
    return new RWLock(buffer, byteOffset, undefined, options);
  }

  /** Readers holding the lock right now (a snapshot). */
  get readers(): number {
    return Atomics.load(this.i32, W_RW) & (WRITER - 1);
  }

  /** Whether a writer holds the lock right now (a snapshot). */
  get writeLocked(): boolean {
    return (Atomics.load(this.i32, W_RW) & WRITER) !== 0;
  }

  /** Takes a read lock if no writer holds or waits for it. */
  tryReadLock(): boolean {
    return this.readAttempt() !== undefined;
  }

  /** Takes the write lock if nobody holds the lock. */
  tryWriteLock(): boolean {
    if (Atomics.compareExchange(this.i32, W_RW, 0, WRITER) !== 0) return false;
    this.writer.record(this.token);
    return true;
  }

  /**
   * Takes a read lock, waiting without blocking the thread. Resolves with `ownerDied: true`
   * when a writer had died holding the lock and this reader released it.
   * @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `signal.reason`.
   */
  async readLock(opts?: SyncWaitOptions): Promise<LockResult> {
    let found: LockResult | undefined;
    const onSlice = (): LockResult | undefined => ((found ??= this.releaseDeadWriter()), this.readResult(found));
    return this.core.waitFor(W_SEQ, () => this.readResult(found), 'RWLock.readLock', opts, onSlice);
  }

  /** Takes a read lock, blocking the calling thread (workers). @throws PlexusError `PLEXUS_ERR_TIMEOUT`. */
  readLockSync(timeoutMs?: number): LockResult {
    let found: LockResult | undefined;
    const onSlice = (): LockResult | undefined => ((found ??= this.releaseDeadWriter()), this.readResult(found));
    return this.core.waitForSync(W_SEQ, () => this.readResult(found), 'RWLock.readLockSync', timeoutMs, onSlice);
  }

  /**
   * Takes the write lock, waiting without blocking the thread. Resolves with
   * `ownerDied: true` when the previous writer died holding it and this caller took it over
   * (the protected data may be half-updated).
   * @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `signal.reason`.
   */
  async writeLock(opts?: SyncWaitOptions): Promise<LockResult> {
    if (this.tryWriteLock()) return LOCKED;
    Atomics.add(this.i32, W_WRITERS_WAITING, 1);
    try {
      return await this.core.waitFor(W_SEQ, () => this.writeAttempt(), 'RWLock.writeLock', opts, () => this.takeOverDeadWriter());
    } finally {
      this.leaveWriterQueue();
    }
  }

  /** Takes the write lock, blocking the calling thread (workers). @throws PlexusError `PLEXUS_ERR_TIMEOUT`. */
  writeLockSync(timeoutMs?: number): LockResult {
    if (this.tryWriteLock()) return LOCKED;
    Atomics.add(this.i32, W_WRITERS_WAITING, 1);
    try {
      return this.core.waitForSync(W_SEQ, () => this.writeAttempt(), 'RWLock.writeLockSync', timeoutMs, () => this.takeOverDeadWriter());
    } finally {
      this.leaveWriterQueue();
    }
  }

  /** Releases a read lock. @throws PlexusError `PLEXUS_ERR_INVALID_ARGUMENT` when no reader holds it. */
  readUnlock(): void {
    const i32 = this.i32;
    for (;;) {
      const s = Atomics.load(i32, W_RW);
      if ((s & (WRITER - 1)) === 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, 'RWLock.readUnlock: no read lock is held');
      if (Atomics.compareExchange(i32, W_RW, s, s - 1) === s) {
        if (s - 1 === 0) this.bump();
        return;
      }
    }
  }

  /** Releases the write lock. @throws PlexusError `PLEXUS_ERR_INVALID_ARGUMENT` when it is not held. */
  writeUnlock(): void {
    if (Atomics.load(this.i32, W_RW) !== WRITER) {
      throw plexusError(ErrorCode.INVALID_ARGUMENT, 'RWLock.writeUnlock: the write lock is not held');
    }
    this.writer.clear(); // before the release: a record is never left for a later writer
    if (Atomics.compareExchange(this.i32, W_RW, WRITER, 0) !== WRITER) {
      throw plexusError(ErrorCode.INVALID_ARGUMENT, 'RWLock.writeUnlock: the write lock is not held');
    }
    this.bump();
  }

  private readResult(found: LockResult | undefined): LockResult | undefined {
    return this.readAttempt() === undefined ? undefined : (found ?? LOCKED);
  }

  private writeAttempt(): LockResult | undefined {
    return this.tryWriteLock() ? LOCKED : undefined;
  }

  /** A waiting writer: if the recorded writer died, take the write lock over from it. */
  private takeOverDeadWriter(): LockResult | undefined {
    const dead = this.writer.token;
    if (!this.writer.holderDead(dead) || !this.writer.takeOver(dead, this.token)) return undefined;
    return died(dead);
  }

  /** A waiting reader: if the recorded writer died, release the write lock for everyone. */
  private releaseDeadWriter(): LockResult | undefined {
    const dead = this.writer.token;
    if (!this.writer.holderDead(dead) || !this.writer.takeOver(dead, 0)) return undefined;
    Atomics.and(this.i32, W_RW, ~WRITER);
    this.bump();
    return died(dead);
  }

  private readAttempt(): true | undefined {
    const i32 = this.i32;
    for (;;) {
      const s = Atomics.load(i32, W_RW);
      if ((s & WRITER) !== 0 || Atomics.load(i32, W_WRITERS_WAITING) !== 0) return undefined;
      if (Atomics.compareExchange(i32, W_RW, s, s + 1) === s) return true;
    }
  }

  private leaveWriterQueue(): void {
    // Readers held back by this writer may go now (if it was the last one waiting).
    if (Atomics.sub(this.i32, W_WRITERS_WAITING, 1) === 1) this.bump();
  }

  private bump(): void {
    Atomics.add(this.i32, W_SEQ, 1);
    this.core.wakeWord(W_SEQ);
  }
}
