/**
 * A condition variable in 64 bytes of a SharedArrayBuffer, used with a {@link Mutex}.
 * Word 4 is a sequence number: `notifyOne`/`notifyAll` bump it and wake sleepers; a
 * waiter reads it before unlocking the mutex and sleeps until it changes, so a notify
 * between the unlock and the sleep is never lost. As with every condition variable,
 * wake-ups may be spurious: wait in a loop that re-checks the predicate.
 */
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';
import type { LockResult, Mutex } from './mutex.js';

const W_SEQ = W_STATE;

/** A condition variable over shared memory. */
export class ConditionVariable {
  /** Bytes a condition variable occupies. */
  static readonly BYTES = 64;
  private readonly core: SyncCore;
  private readonly i32: Int32Array;

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: SyncCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'ConditionVariable');
    if (create !== undefined) initRegion(i32, SyncKind.CONDVAR, create, 'ConditionVariable');
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.CONDVAR, 'ConditionVariable'), options);
    this.i32 = i32;
  }

  /** Initialises a condition variable at `byteOffset` (8-byte aligned, {@link ConditionVariable.BYTES} long). */
  static create(buffer: SharedArrayBuffer, byteOffset = 0, options: SyncCreateOptions = {}): ConditionVariable {
    return new ConditionVariable(buffer, byteOffset, options, options);
  }

  /** Uses a condition variable created elsewhere at `byteOffset`. */
  static attach(buffer: SharedArrayBuffer, byteOffset = 0, options: SyncAttachOptions = {}): ConditionVariable {
    return new ConditionVariable(buffer, byteOffset, undefined, options);
  }

  /**
   * Unlocks `mutex` (which the caller holds), waits without blocking the thread for a
   * notify, and locks `mutex` again before settling, whatever the outcome (like
   * `pthread_cond_timedwait`): also when it rejects, the caller holds the mutex. Resolves
   * with the re-lock's result (`ownerDied` when a holder died meanwhile).
   * @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `signal.reason` when aborted (mutex held again).
   */
  async wait(mutex: Mutex, opts?: SyncWaitOptions): Promise<LockResult> {
    const seq = Atomics.load(this.i32, W_SEQ);
    mutex.unlock();
    let failure: unknown;
    try {
      await this.core.waitFor(W_SEQ, () => (Atomics.load(this.i32, W_SEQ) !== seq ? true : undefined), 'ConditionVariable.wait', opts);
    } catch (err) {
      failure = err;
    }
    const relocked = await mutex.lock();
    if (failure !== undefined) throw failure;
    return relocked;
  }

  /** {@link wait}, blocking the calling thread (workers). */
  waitSync(mutex: Mutex, timeoutMs?: number): LockResult {
    const seq = Atomics.load(this.i32, W_SEQ);
    mutex.unlock();
    let failure: unknown;
    try {
      this.core.waitForSync(W_SEQ, () => (Atomics.load(this.i32, W_SEQ) !== seq ? true : undefined), 'ConditionVariable.waitSync', timeoutMs);
    } catch (err) {
      failure = err;
    }
    const relocked = mutex.lockSync();
    if (failure !== undefined) throw failure;
    return relocked;
  }

  /** Wakes at least one waiter (if any). */
  notifyOne(): void {
    Atomics.add(this.i32, W_SEQ, 1);
    this.core.wakeWord(W_SEQ, 1);
  }

  /** Wakes every waiter. */
  notifyAll(): void {
    Atomics.add(this.i32, W_SEQ, 1);
    this.core.wakeWord(W_SEQ);
  }
}
