/**
 * A writer-preferring readers–writer lock in 64 bytes of a SharedArrayBuffer.
 *
 * ```
 * word 4  state: readers holding it (low 30 bits) | writer holds it (bit 30)
 * word 5  writers waiting      word 6  sequence number everyone sleeps on
 * ```
 *
 * A reader may enter only while no writer holds the lock *and none is waiting*, so a
 * stream of readers cannot starve a writer (a stream of writers can delay readers). Not
 * robust: a process that dies holding it leaves it held.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';

const W_RW = W_STATE;
const W_WRITERS_WAITING = W_STATE + 1;
const W_SEQ = W_STATE + 2;
const WRITER = 1 << 30;

/** A readers–writer lock over shared memory. */
export class RWLock {
  /** Bytes a readers–writer lock occupies. */
  static readonly BYTES = 64;
  private readonly core: SyncCore;
  private readonly i32: Int32Array;

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: SyncCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'RWLock');
    if (create !== undefined) initRegion(i32, SyncKind.RWLOCK, create, 'RWLock');
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.RWLOCK, 'RWLock'), options);
    this.i32 = i32;
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
    return Atomics.compareExchange(this.i32, W_RW, 0, WRITER) === 0;
  }

  /** Takes a read lock, waiting without blocking the thread. @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `signal.reason`. */
  async readLock(opts?: SyncWaitOptions): Promise<void> {
    await this.core.waitFor(W_SEQ, () => this.readAttempt(), 'RWLock.readLock', opts);
  }

  /** Takes a read lock, blocking the calling thread (workers). @throws PlexusError `PLEXUS_ERR_TIMEOUT`. */
  readLockSync(timeoutMs?: number): void {
    this.core.waitForSync(W_SEQ, () => this.readAttempt(), 'RWLock.readLockSync', timeoutMs);
  }

  /** Takes the write lock, waiting without blocking the thread. @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `signal.reason`. */
  async writeLock(opts?: SyncWaitOptions): Promise<void> {
    if (this.tryWriteLock()) return;
    Atomics.add(this.i32, W_WRITERS_WAITING, 1);
    try {
      await this.core.waitFor(W_SEQ, () => (this.tryWriteLock() ? true : undefined), 'RWLock.writeLock', opts);
    } finally {
      this.leaveWriterQueue();
    }
  }

  /** Takes the write lock, blocking the calling thread (workers). @throws PlexusError `PLEXUS_ERR_TIMEOUT`. */
  writeLockSync(timeoutMs?: number): void {
    if (this.tryWriteLock()) return;
    Atomics.add(this.i32, W_WRITERS_WAITING, 1);
    try {
      this.core.waitForSync(W_SEQ, () => (this.tryWriteLock() ? true : undefined), 'RWLock.writeLockSync', timeoutMs);
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
    if (Atomics.compareExchange(this.i32, W_RW, WRITER, 0) !== WRITER) {
      throw plexusError(ErrorCode.INVALID_ARGUMENT, 'RWLock.writeUnlock: the write lock is not held');
    }
    this.bump();
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
