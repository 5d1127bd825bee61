/**
 * A counting semaphore in 64 bytes of a SharedArrayBuffer: `permits` in word 4, taken
 * and given back with compare-and-swap; sleepers wait on that word.
 *
 * By default permits are not owned, so a process that dies holding some does not give
 * them back. Created with `holders: n`, the semaphore is robust: a table of n slots right
 * after it (holders.ts, {@link Semaphore.bytesFor}) records which thread holds how many,
 * and a waiter that finds no permit checks it after every sleep slice: the permits of a
 * holder whose process is gone are given back and the waiter that got them learns
 * `ownerDied` (like {@link Mutex}). Permits must then be released by the thread that
 * acquired them.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import { HOLDER_SLOT_BYTES, HolderTable, MAX_HOLDER_SLOTS, type ReclaimedShares } from './holders.js';
import type { LockResult } from './mutex.js';
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';

const W_PERMITS = W_STATE;
const W_MAX = W_STATE + 1;
const W_HOLDER_SLOTS = W_STATE + 2;
const ACQUIRED: LockResult = Object.freeze({ ownerDied: false });

/** Options for {@link Semaphore.create}. */
export interface SemaphoreCreateOptions extends SyncCreateOptions {
  /** Permits available at the start. @default 1 */
  readonly permits?: number;
  /** Upper bound: a release beyond it throws. @default the starting permits (at least 1) */
  readonly max?: number;
  /**
   * Robust mode: slots for this many holder threads at once, in
   * `Semaphore.bytesFor(holders) - Semaphore.BYTES` bytes right after the semaphore. 0: not robust.
   * @default 0
   */
  readonly holders?: number;
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
  private readonly holders: HolderTable | undefined;

  /** Bytes a semaphore with `holders` holder slots occupies (robust mode). */
  static bytesFor(holders = 0): number {
    return Semaphore.BYTES + holders * HOLDER_SLOT_BYTES;
  }

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: SemaphoreCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'Semaphore');
    if (create !== undefined) {
      const permits = create.permits ?? 1;
      const max = create.max ?? Math.max(1, permits);
      if (!Number.isInteger(permits) || permits < 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, `permits must be a non-negative integer, got ${permits}`);
      if (!Number.isInteger(max) || max < Math.max(1, permits) || max > 0x3fffffff) throw plexusError(ErrorCode.INVALID_ARGUMENT, `max must be an integer from max(1, permits) to 2^30-1, got ${max}`);
      const slots = create.holders ?? 0;
      if (!Number.isInteger(slots) || slots < 0 || slots > MAX_HOLDER_SLOTS) throw plexusError(ErrorCode.INVALID_ARGUMENT, `holders must be an integer from 0 to ${MAX_HOLDER_SLOTS}, got ${slots}`);
      if (slots > 0) new HolderTable(buffer, byteOffset + Semaphore.BYTES, slots, 'Semaphore').clear();
      initRegion(i32, SyncKind.SEMAPHORE, create, 'Semaphore');
      Atomics.store(i32, W_HOLDER_SLOTS, slots);
      Atomics.store(i32, W_MAX, max);
      Atomics.store(i32, W_PERMITS, permits);
    }
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.SEMAPHORE, 'Semaphore'), options);
    this.i32 = i32;
    const slots = Atomics.load(i32, W_HOLDER_SLOTS);
    this.holders = slots > 0 ? new HolderTable(buffer, byteOffset + Semaphore.BYTES, slots, 'Semaphore') : undefined;
  }

  /** True when created with holder slots: permits of a dead process come back. */
  get robust(): boolean {
    return this.holders !== undefined;
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
   * Takes `n` permits, waiting without blocking the thread. Robust mode: resolves with
   * `ownerDied: true` (and `previousOwner`) when permits of a dead holder were given back
   * while this caller waited and it then got its permits.
   * @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `signal.reason` when aborted; `PLEXUS_ERR_INVALID_ARGUMENT` when n > max;
   *   `PLEXUS_ERR_REGISTRY_LIMIT` (robust mode) when every holder slot is taken by other threads.
   */
  async acquire(n = 1, opts?: SyncWaitOptions): Promise<LockResult> {
    this.checkN(n);
    const attempt = (): LockResult | undefined => (this.take(n) ? ACQUIRED : undefined);
    return await this.core.waitFor(W_PERMITS, attempt, 'Semaphore.acquire', opts, this.holders && (() => this.recover(n)));
  }

  /** Takes `n` permits, blocking the calling thread (workers); as {@link acquire}. @throws PlexusError `PLEXUS_ERR_TIMEOUT`. */
  acquireSync(n = 1, timeoutMs?: number): LockResult {
    this.checkN(n);
    const attempt = (): LockResult | undefined => (this.take(n) ? ACQUIRED : undefined);
    return this.core.waitForSync(W_PERMITS, attempt, 'Semaphore.acquireSync', timeoutMs, this.holders && (() => this.recover(n)));
  }

  /** After a sleep slice without permits: give back what dead holders held, then try again. */
  private recover(n: number): LockResult | undefined {
    const dead: ReclaimedShares[] = this.holders!.reclaimDead();
    if (dead.length === 0) return undefined;
    const back = dead.reduce((sum, d) => sum + d.shares, 0);
    this.give(back, true);
    if (!this.take(n)) return undefined; // someone else was faster; keep waiting
    const first = dead[0]!;
    return Object.freeze({ ownerDied: true, code: ErrorCode.OWNER_DIED, previousOwner: Object.freeze({ pid: first.pid, threadId: first.threadId }) });
  }

  /**
   * Gives back `n` permits and wakes the waiters.
   * @throws PlexusError `PLEXUS_ERR_INVALID_ARGUMENT` when that would exceed `max` (nothing is released).
   */
  release(n = 1): void {
    checkCount(n, 'n');
    if (this.holders) {
      const held = this.holders.held();
      if (held < n) throw plexusError(ErrorCode.INVALID_ARGUMENT, `Semaphore.release(${n}): this thread holds ${held} permits of this robust semaphore`);
      // Forget first, then give back: a death in between loses permits, never duplicates them.
      this.holders.remove(n);
    }
    this.give(n, false);
  }

  /** Adds `n` permits (reclaimed ones are capped at max) and wakes the waiters. */
  private give(n: number, cap: boolean): void {
    const i32 = this.i32;
    const max = Atomics.load(i32, W_MAX);
    for (;;) {
      const v = Atomics.load(i32, W_PERMITS);
      if (v + n > max && !cap) throw plexusError(ErrorCode.INVALID_ARGUMENT, `Semaphore.release(${n}) would make ${v + n} permits, more than max ${max}`);
      if (Atomics.compareExchange(i32, W_PERMITS, v, Math.min(max, v + n)) === v) break;
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
      if (Atomics.compareExchange(i32, W_PERMITS, v, v - n) !== v) continue;
      // Take first, then record: a death in between loses permits, never duplicates them.
      if (this.holders && !this.holders.add(n)) {
        this.give(n, true);
        throw plexusError(ErrorCode.REGISTRY_LIMIT, `Semaphore: all ${this.holders.slots} holder slots are taken by other threads`, { details: { slots: this.holders.slots } });
      }
      return true;
    }
  }
}
