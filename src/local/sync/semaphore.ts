/**
 * A counting semaphore in 64 bytes of a SharedArrayBuffer: `permits` in word 4, taken
 * and given back with compare-and-swap; sleepers wait on that word. Permits are not owned,
 * so a process that dies holding some does not give them back (not robust, unlike
 * {@link Mutex}).
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';

const W_PERMITS = W_STATE;
const W_MAX = W_STATE + 1;

/** Options for {@link Semaphore.create}. */
export interface SemaphoreCreateOptions extends SyncCreateOptions {
  /** Permits available at the start. @default 1 */
  readonly permits?: number;
  /** Upper bound: a release beyond it throws. @default the starting permits (at least 1) */
  readonly max?: number;
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw plexusError(ErrorCode.INVALID_ARGUMENT, `${what} must be a positive integer, got ${n}`);
}

/** A counting semaphore over shared memory. */
export class Semaphore {
  /** Bytes a semaphore occupies. */
  static readonly BYTES = 64;
  private readonly core: SyncCore;
  private readonly i32: Int32Array;

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: SemaphoreCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'Semaphore');
    if (create !== undefined) {
      const permits = create.permits ?? 1;
      const max = create.max ?? Math.max(1, permits);
      if (!Number.isInteger(permits) || permits < 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, `permits must be a non-negative integer, got ${permits}`);
      if (!Number.isInteger(max) || max < Math.max(1, permits) || max > 0x3fffffff) throw plexusError(ErrorCode.INVALID_ARGUMENT, `max must be an integer from max(1, permits) to 2^30-1, got ${max}`);
      initRegion(i32, SyncKind.SEMAPHORE, create, 'Semaphore');
      Atomics.store(i32, W_MAX, max);
      Atomics.store(i32, W_PERMITS, permits);
    }
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.SEMAPHORE, 'Semaphore'), options);
    this.i32 = i32;
  }

  /** Initialises a semaphore at `byteOffset` (8-byte aligned, {@link Semaphore.BYTES} long). */
  static create(buffer: SharedArrayBuffer, byteOffset = 0, options: SemaphoreCreateOptions = {}): Semaphore {
    return new Semaphore(buffer, byteOffset, options, options);
  }

  /** Uses a semaphore created elsewhere at `byteOffset`. */
  static attach(buffer: SharedArrayBuffer, byteOffset = 0, options: SyncAttachOptions = {}): Semaphore {
    return new Semaphore(buffer, byteOffset, undefined, options);
  }

  /** Permits free right now (a snapshot). */
  get available(): number {
    return Atomics.load(this.i32, W_PERMITS);
  }

  /** The most permits there can be. */
  get max(): number {
    return Atomics.load(this.i32, W_MAX);
  }

  /** Takes `n` permits if that many are free, without waiting. */
  tryAcquire(n = 1): boolean {
    checkCount(n, 'n');
    return this.take(n);
  }

  /**
   * Takes `n` permits, waiting without blocking the thread.
   * @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `signal.reason` when aborted; `PLEXUS_ERR_INVALID_ARGUMENT` when n > max.
   */
  async acquire(n = 1, opts?: SyncWaitOptions): Promise<void> {
    this.checkN(n);
    await this.core.waitFor(W_PERMITS, () => (this.take(n) ? true : undefined), 'Semaphore.acquire', opts);
  }

  /** Takes `n` permits, blocking the calling thread (workers). @throws PlexusError `PLEXUS_ERR_TIMEOUT`. */
  acquireSync(n = 1, timeoutMs?: number): void {
    this.checkN(n);
    this.core.waitForSync(W_PERMITS, () => (this.take(n) ? true : undefined), 'Semaphore.acquireSync', timeoutMs);
  }

  /**
   * Gives back `n` permits and wakes the waiters.
   * @throws PlexusError `PLEXUS_ERR_INVALID_ARGUMENT` when that would exceed `max` (nothing is released).
   */
  release(n = 1): void {
    checkCount(n, 'n');
    const i32 = this.i32;
    const max = Atomics.load(i32, W_MAX);
    for (;;) {
      const v = Atomics.load(i32, W_PERMITS);
      if (v + n > max) throw plexusError(ErrorCode.INVALID_ARGUMENT, `Semaphore.release(${n}) would make ${v + n} permits, more than max ${max}`);
      if (Atomics.compareExchange(i32, W_PERMITS, v, v + n) === v) break;
    }
    this.core.wakeWord(W_PERMITS);
  }

  private checkN(n: number): void {
    checkCount(n, 'n');
    if (n > this.max) throw plexusError(ErrorCode.INVALID_ARGUMENT, `cannot acquire ${n} permits of a semaphore with max ${this.max}`);
  }

  private take(n: number): boolean {
    const i32 = this.i32;
    for (;;) {
      const v = Atomics.load(i32, W_PERMITS);
      if (v < n) return false;
      if (Atomics.compareExchange(i32, W_PERMITS, v, v - n) === v) return true;
    }
  }
}
