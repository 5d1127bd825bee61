/**
 * What every synchronization primitive shares: a 64-byte region of a SharedArrayBuffer
 * that starts with a small header, the choice of wake path (in-process `Atomics` or the
 * addon's futex across processes, stored in the header so every side agrees), and the
 * wait loop (spin briefly, then sleep on a 32-bit word in slices, never blocking the main
 * thread in the async form).
 *
 * ```
 * word 0  magic 'PXS' + kind      word 1  wake (0 atomics, 1 futex)
 * word 2  spare                   word 3  sleepers (how many are, or are about to be, asleep)
 * words 4..15  the primitive's own state
 * ```
 *
 * Lost wake-ups cannot happen: a sleeper counts itself in word 3, then reads the word it
 * sleeps on, then checks its condition, then sleeps only while the word is unchanged; a
 * waker changes the state (and the word), then wakes only when word 3 is not zero. With
 * sequentially consistent `Atomics` one of the two always sees the other.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import type { LoadShmOptions } from '../addon.js';
import { waiterFor, type Waiter } from '../waiter.js';

/** Bytes every primitive occupies (one cache line). The region must be 8-byte aligned. */
export const SYNC_PRIMITIVE_BYTES = 64;

/** How the sides of a primitive sleep and wake: `atomics` between threads, `futex` between processes. */
export type SyncWake = 'atomics' | 'futex';

/** Kinds stored in the header, so attaching the wrong primitive is refused. */
export const SyncKind = { MUTEX: 1, SEMAPHORE: 2, CONDVAR: 3, BARRIER: 4, RWLOCK: 5 } as const;

const MAGIC_BASE = 0x50585300; // 'PXS' + kind in the low byte
const W_MAGIC = 0;
const W_WAKE = 1;
/** Index of the sleeper count. */
export const W_SLEEPERS = 3;
/** First word of a primitive's own state. */
export const W_STATE = 4;

/** Options for creating a primitive. */
export interface SyncCreateOptions extends SyncAttachOptions {
  /**
   * `atomics` (default) works between threads of one process with a plain
   * SharedArrayBuffer; `futex` works between processes on a `SharedSegment` (and between
   * threads too) and needs the native addon. Every side reads it from the header.
   */
  readonly wake?: SyncWake;
}

/** Options for attaching to (or creating) a primitive. */
export interface SyncAttachOptions {
  /** Polls before the first sleep. @default 64 */
  readonly spinIterations?: number;
  /**
   * Longest single sleep. After each one that timed out, a mutex waiter checks whether the
   * owner is still alive. @default 100
   */
  readonly sleepSliceMs?: number;
  /** Whether a pending async wait keeps the process alive. @default true */
  readonly ref?: boolean;
  /** Where to load the addon from (futex wake). */
  readonly addon?: LoadShmOptions;
}

/** Per-call limits of `lock()`/`acquire()`/`wait()` and their sync forms. */
export interface SyncWaitOptions {
  /** Give up after this many milliseconds with `PLEXUS_ERR_TIMEOUT`. @default Infinity */
  readonly timeoutMs?: number;
  /** Abort the wait: it rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

function invalid(msg: string): Error {
  return plexusError(ErrorCode.INVALID_ARGUMENT, msg);
}

/** The Int32 view of a primitive's region, after checking bounds and alignment. */
export function regionView(buffer: SharedArrayBuffer, byteOffset: number, what: string): Int32Array {
  if (!(buffer instanceof SharedArrayBuffer)) throw invalid(`${what} needs a SharedArrayBuffer`);
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
    throw invalid(`${what} byteOffset must be a non-negative multiple of 8, got ${byteOffset}`);
  }
  if (byteOffset + SYNC_PRIMITIVE_BYTES > buffer.byteLength) {
    throw invalid(`${what} needs ${SYNC_PRIMITIVE_BYTES} bytes at ${byteOffset}, the buffer has ${buffer.byteLength}`);
  }
  return new Int32Array(buffer, byteOffset, SYNC_PRIMITIVE_BYTES / 4);
}

/**
 * Writes a fresh header (and zeroes the state) for `kind`. With `wake: 'futex'` the addon
 * is loaded first, so nothing is written when it is unavailable.
 */
export function initRegion(i32: Int32Array, kind: number, options: SyncCreateOptions, what: string): void {
  const w = options.wake ?? 'atomics';
  if (w !== 'atomics' && w !== 'futex') throw invalid(`${what} wake must be 'atomics' or 'futex', got ${String(w)}`);
  waiterFor(w, options.addon);
  for (let i = 1; i < i32.length; i++) Atomics.store(i32, i, 0);
  Atomics.store(i32, W_WAKE, w === 'futex' ? 1 : 0);
  Atomics.store(i32, W_MAGIC, MAGIC_BASE | kind);
}

/** Checks the header of an existing primitive; returns its wake mode. */
export function checkRegion(i32: Int32Array, kind: number, what: string): SyncWake {
  const magic = Atomics.load(i32, W_MAGIC);
  if (magic !== (MAGIC_BASE | kind)) {
    throw invalid(`no ${what} at this offset (header ${magic.toString(16)}; create it first)`);
  }
  return Atomics.load(i32, W_WAKE) === 1 ? 'futex' : 'atomics';
}

function timedOut(what: string, timeoutMs: number | undefined): Error {
  return plexusError(ErrorCode.TIMEOUT, `${what} timed out after ${timeoutMs} ms`, { details: { timeoutMs } });
}

function deadlineOf(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined || timeoutMs === Infinity) return Infinity;
  if (!(timeoutMs >= 0)) throw invalid(`timeoutMs must be >= 0, got ${timeoutMs}`);
  return performance.now() + timeoutMs;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? plexusError(ErrorCode.CANCELLED, 'wait aborted');
}

function noop(): void {}

/** The wait machinery bound to one region. */
export class SyncCore {
  readonly i32: Int32Array;
  readonly wake: SyncWake;
  private readonly waiter: Waiter;
  private readonly spin: number;
  private readonly slice: number;
  private readonly ref: boolean;

  constructor(i32: Int32Array, wake: SyncWake, options: SyncAttachOptions = {}) {
    this.i32 = i32;
    this.wake = wake;
    this.waiter = waiterFor(wake, options.addon);
    this.spin = options.spinIterations ?? 64;
    this.slice = options.sleepSliceMs ?? 100;
    this.ref = options.ref ?? true;
    if (!Number.isInteger(this.spin) || this.spin < 0) throw invalid(`spinIterations must be a non-negative integer, got ${this.spin}`);
    if (!(this.slice > 0) || !Number.isFinite(this.slice)) throw invalid(`sleepSliceMs must be a positive finite number, got ${this.slice}`);
  }

  /**
   * Waits without blocking the thread until `attempt()` returns something other than
   * undefined, sleeping on `word`. `onSlice` runs after every sleep slice that timed out
   * (and may also return a result).
   */
  async waitFor<T>(word: number, attempt: () => T | undefined, what: string, opts?: SyncWaitOptions, onSlice?: () => T | undefined): Promise<T> {
    const signal = opts?.signal;
    if (signal?.aborted) throw abortReason(signal);
    const deadline = deadlineOf(opts?.timeoutMs);
    for (let i = 0; i <= this.spin; i++) {
      const r = attempt();
      if (r !== undefined) return r;
    }
    const i32 = this.i32;
    // Keeps the process alive for the whole wait: a timed-out Atomics.waitAsync settles
    // through a task Node does not count, and may settle a little after the waiter's own
    // keep-alive timer for that slice has fired.
    const keepAlive = this.ref ? setInterval(noop, 1 << 30) : undefined;
    Atomics.add(i32, W_SLEEPERS, 1);
    try {
      for (;;) {
        const v = Atomics.load(i32, word);
        const r = attempt();
        if (r !== undefined) return r;
        const left = deadline - performance.now();
        if (left <= 0) throw timedOut(what, opts?.timeoutMs);
        const w = await this.waiter.waitAsync(i32, word, v, Math.min(left, this.slice), signal, this.ref);
        if (w === 'timed-out' && onSlice !== undefined) {
          const s = onSlice();
          if (s !== undefined) return s;
        }
      }
    } finally {
      Atomics.sub(i32, W_SLEEPERS, 1);
      if (keepAlive !== undefined) clearInterval(keepAlive);
    }
  }

  /** {@link waitFor} blocking the calling thread (workers; on the main thread it stalls the event loop). */
  waitForSync<T>(word: number, attempt: () => T | undefined, what: string, timeoutMs?: number, onSlice?: () => T | undefined): T {
    const deadline = deadlineOf(timeoutMs);
    for (let i = 0; i <= this.spin; i++) {
      const r = attempt();
      if (r !== undefined) return r;
    }
    const i32 = this.i32;
    Atomics.add(i32, W_SLEEPERS, 1);
    try {
      for (;;) {
        const v = Atomics.load(i32, word);
        const r = attempt();
        if (r !== undefined) return r;
        const left = deadline - performance.now();
        if (left <= 0) throw timedOut(what, timeoutMs);
        const w = this.waiter.waitSync(i32, word, v, Math.min(left, this.slice));
        if (w === 'timed-out' && onSlice !== undefined) {
          const s = onSlice();
          if (s !== undefined) return s;
        }
      }
    } finally {
      Atomics.sub(i32, W_SLEEPERS, 1);
    }
  }

  /** After changing `word`: wakes up to `count` sleepers on it (one load when nobody sleeps). */
  wakeWord(word: number, count = Infinity): void {
    if (Atomics.load(this.i32, W_SLEEPERS) !== 0) this.waiter.wake(this.i32, word, count);
  }
}
