/**
 * A writer-preferring readers–writer lock in 64 bytes of a SharedArrayBuffer.
 *
 * ```
 * word 4  state: readers holding it (low 30 bits) | writer holds it (bit 30)
 * word 5  writers waiting      word 6  sequence number everyone sleeps on
 *
 * word 7  the writer's owner token (pid << 8 | thread id), word 8 its pid namespace,
 * bytes 40..47 its process start time (see owner.ts)
 * word 12 reader holder slots after the lock (robust read side), 0: none
 * ```
 *
 * A reader may enter only while no writer holds the lock *and none is waiting*, so a
 * stream of readers cannot starve a writer (a stream of writers can delay readers).
 *
 * Robust on the write side: a waiter whose sleep slice times out checks whether the
 * recorded writer's process died; a waiting writer then takes the write lock over, a
 * waiting reader releases it and goes on; either learns `ownerDied`.
 *
 * The read side is robust when created with `readers: n`: a table of n holder slots after
 * the lock (holders.ts, {@link RWLock.bytesFor}) records which thread holds how many read
 * locks, and a waiting writer whose sleep slice times out releases the read locks of
 * processes that are gone (and learns `ownerDied` when it then gets the lock). Without it
 * a process that dies holding a read lock leaves it held.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import { HOLDER_SLOT_BYTES, HolderTable, MAX_HOLDER_SLOTS } from './holders.js';
import type { LockResult } from './mutex.js';
import { OwnerRecord, ownToken, tokenOwner } from './owner.js';
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';

const W_RW = W_STATE;
const W_WRITERS_WAITING = W_STATE + 1;
const W_SEQ = W_STATE + 2;
const W_WRITER = W_STATE + 3;
const W_WRITER_NS = W_STATE + 4;
const F_WRITER_START = 5; // Float64 index (byte 40)
const W_READER_SLOTS = 12;
const WRITER = 1 << 30;

/** Options for {@link RWLock.create}. */
export interface RWLockCreateOptions extends SyncCreateOptions {
  /**
   * Robust read side: slots for this many reader threads at once, in
   * `RWLock.bytesFor(readers) - RWLock.BYTES` bytes right after the lock. 0: not robust.
   * @default 0
   */
  readonly readers?: number;
}

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
  private readonly readerSlots: HolderTable | undefined;

  /** Bytes a lock with `readers` reader slots occupies (robust read side). */
  static bytesFor(readers = 0): number {
    return RWLock.BYTES + readers * HOLDER_SLOT_BYTES;
  }

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: RWLockCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'RWLock');
    if (create !== undefined) {
      const slots = create.readers ?? 0;
      if (!Number.isInteger(slots) || slots < 0 || slots > MAX_HOLDER_SLOTS) throw plexusError(ErrorCode.INVALID_ARGUMENT, `readers must be an integer from 0 to ${MAX_HOLDER_SLOTS}, got ${slots}`);
      if (slots > 0) new HolderTable(buffer, byteOffset + RWLock.BYTES, slots, 'RWLock').clear();
      initRegion(i32, SyncKind.RWLOCK, create, 'RWLock');
      Atomics.store(i32, W_READER_SLOTS, slots);
    }
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.RWLOCK, 'RWLock'), options);
    this.i32 = i32;
    this.writer = new OwnerRecord(i32, new Float64Array(buffer, byteOffset, 8), W_WRITER, W_WRITER_NS, F_WRITER_START);
    const slots = Atomics.load(i32, W_READER_SLOTS);
    this.readerSlots = slots > 0 ? new HolderTable(buffer, byteOffset + RWLock.BYTES, slots, 'RWLock') : undefined;
  }

  /** True when created with reader slots: read locks of a dead process are released. */
  get robustReaders(): boolean {
    return this.readerSlots !== undefined;
  }

  /** Initialises a free lock at `byteOffset` (8-byte aligned, {@link RWLock.BYTES} long). */
  static create(buffer: SharedArrayBuffer, byteOffset = 0, options: RWLockCreateOptions = {}): RWLock {
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
      return await this.core.waitFor(W_SEQ, () => this.writeAttempt(), 'RWLock.writeLock', opts, () => this.recoverForWriter());
    } finally {
      this.leaveWriterQueue();
    }
  }

  /** Takes the write lock, blocking the calling thread (workers). @throws PlexusError `PLEXUS_ERR_TIMEOUT`. */
  writeLockSync(timeoutMs?: number): LockResult {
    if (this.tryWriteLock()) return LOCKED;
    Atomics.add(this.i32, W_WRITERS_WAITING, 1);
    try {
      return this.core.waitForSync(W_SEQ, () => this.writeAttempt(), 'RWLock.writeLockSync', timeoutMs, () => this.recoverForWriter());
    } finally {
      this.leaveWriterQueue();
    }
  }

  /**
   * Releases a read lock. @throws PlexusError `PLEXUS_ERR_INVALID_ARGUMENT` when no reader
   * holds it (robust read side: when this thread holds none).
   */
  readUnlock(): void {
    if (this.readerSlots) {
      if (this.readerSlots.held() === 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, 'RWLock.readUnlock: this thread holds no read lock');
      // Forget first, then release: a death in between leaves the lock held, never double-released.
      this.readerSlots.remove(1);
    }
    this.dropReaders(1, true);
  }

  /** Takes `n` readers off the state word (reclaimed ones: at most those there). */
  private dropReaders(n: number, strict: boolean): void {
    const i32 = this.i32;
    for (;;) {
      const s = Atomics.load(i32, W_RW);
      const count = s & (WRITER - 1);
      if (count === 0 && strict) throw plexusError(ErrorCode.INVALID_ARGUMENT, 'RWLock.readUnlock: no read lock is held');
      const drop = Math.min(n, count);
      if (Atomics.compareExchange(i32, W_RW, s, s - drop) === s) {
        if (count - drop === 0) this.bump();
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

  /**
   * A waiting writer after a sleep slice: take over from a dead writer, or release the read
   * locks of dead readers (robust read side) and try again.
   */
  private recoverForWriter(): LockResult | undefined {
    const taken = this.takeOverDeadWriter();
    if (taken !== undefined || !this.readerSlots) return taken;
    const dead = this.readerSlots.reclaimDead();
    if (dead.length === 0) return undefined;
    this.dropReaders(
      dead.reduce((sum, d) => sum + d.shares, 0),
      false,
    );
    if (!this.tryWriteLock()) return undefined; // live readers remain; keep waiting
    return Object.freeze({ ownerDied: true, code: ErrorCode.OWNER_DIED, previousOwner: Object.freeze({ pid: dead[0]!.pid, threadId: dead[0]!.threadId }) });
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
      if (Atomics.compareExchange(i32, W_RW, s, s + 1) !== s) continue;
      // Take first, then record: a death in between leaves the lock held, never double-released.
      if (this.readerSlots && !this.readerSlots.add(1)) {
        this.dropReaders(1, false);
        throw plexusError(ErrorCode.REGISTRY_LIMIT, `RWLock: all ${this.readerSlots.slots} reader slots are taken by other threads`, { details: { slots: this.readerSlots.slots } });
      }
      return true;
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
