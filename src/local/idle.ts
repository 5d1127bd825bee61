/**
 * The idle strategy of rings and other shared-memory waits: spin briefly (the other side
 * is usually microseconds away), then announce "I am sleeping" in a shared word and sleep
 * on it, so an idle side burns no CPU. The side that makes progress clears the word and
 * wakes sleepers only when the word says someone sleeps, so the busy path costs one
 * atomic load and no system call.
 *
 * Lost wake-ups cannot happen: the sleeper stores 1 and then re-checks the condition; the
 * waker publishes its progress and then reads the word. With sequentially consistent
 * `Atomics` at least one of the two sees the other's store. The futex/Atomics wait itself
 * only sleeps while the word is still 1.
 */
import { ErrorCode, plexusError } from '../errors/index.js';
import type { Waiter } from './waiter.js';

/** How a side waits when there is nothing to do. */
export interface IdleOptions {
  /** Polls of the condition before sleeping. @default 2000 (about 10–30 µs) */
  readonly spinIterations?: number;
  /** Longest single sleep; `checkPeer` runs after each one that timed out. @default 250 */
  readonly sleepSliceMs?: number;
  /**
   * Called after every sleep slice in which nothing happened: throw (for example
   * `PLEXUS_ERR_PEER_DIED` from a segment's `checkPeers`) to end the wait, so a side never
   * hangs on a crashed peer.
   */
  readonly checkPeer?: () => void;
  /** Whether an async wait keeps the process alive. @default true */
  readonly ref?: boolean;
}

/** {@link IdleOptions} with defaults applied. */
export interface ResolvedIdleOptions {
  readonly spinIterations: number;
  readonly sleepSliceMs: number;
  readonly checkPeer: (() => void) | undefined;
  readonly ref: boolean;
}

/** Per-call limits of a blocking or async wait. */
export interface WaitOptions {
  /** Give up after this many milliseconds with `PLEXUS_ERR_TIMEOUT`. @default Infinity */
  readonly timeoutMs?: number;
  /** Abort the wait; it rejects (or throws) with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** Apply defaults and check ranges once. */
export function resolveIdleOptions(o: IdleOptions = {}): ResolvedIdleOptions {
  const spinIterations = o.spinIterations ?? 2000;
  const sleepSliceMs = o.sleepSliceMs ?? 250;
  if (!Number.isInteger(spinIterations) || spinIterations < 0) {
    throw plexusError(ErrorCode.INVALID_ARGUMENT, `spinIterations must be a non-negative integer, got ${spinIterations}`);
  }
  if (!(sleepSliceMs > 0) || !Number.isFinite(sleepSliceMs)) {
    throw plexusError(ErrorCode.INVALID_ARGUMENT, `sleepSliceMs must be a positive finite number, got ${sleepSliceMs}`);
  }
  return { spinIterations, sleepSliceMs, checkPeer: o.checkPeer, ref: o.ref ?? true };
}

function deadlineOf(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined || timeoutMs === Infinity) return Infinity;
  if (!(timeoutMs >= 0)) throw plexusError(ErrorCode.INVALID_ARGUMENT, `timeoutMs must be >= 0, got ${timeoutMs}`);
  return performance.now() + timeoutMs;
}

function timedOut(what: string, timeoutMs: number | undefined): Error {
  return plexusError(ErrorCode.TIMEOUT, `${what} timed out after ${timeoutMs} ms`);
}

/**
 * Blocks the calling thread until `ready()` is true. Meant for worker threads (on the main
 * thread it stalls the event loop: use {@link idleWait}).
 * @throws PlexusError `PLEXUS_ERR_TIMEOUT`, or whatever `checkPeer` throws.
 */
export function idleWaitSync(
  ctl: Int32Array,
  word: number,
  ready: () => boolean,
  waiter: Waiter,
  idle: ResolvedIdleOptions,
  what: string,
  opts?: WaitOptions,
): void {
  for (let i = idle.spinIterations; i > 0; i--) if (ready()) return;
  const deadline = deadlineOf(opts?.timeoutMs);
  for (;;) {
    if (opts?.signal?.aborted) throw opts.signal.reason;
    Atomics.store(ctl, word, 1);
    if (ready()) return;
    const left = deadline - performance.now();
    if (left <= 0) throw timedOut(what, opts?.timeoutMs);
    const r = waiter.waitSync(ctl, word, 1, Math.min(left, idle.sleepSliceMs));
    if (ready()) return;
    if (r === 'timed-out') idle.checkPeer?.();
  }
}

/**
 * Waits until `ready()` is true without blocking the thread (spins at most
 * `spinIterations` polls first).
 * @throws PlexusError `PLEXUS_ERR_TIMEOUT`, `signal.reason` when aborted, or whatever `checkPeer` throws.
 */
export async function idleWait(
  ctl: Int32Array,
  word: number,
  ready: () => boolean,
  waiter: Waiter,
  idle: ResolvedIdleOptions,
  what: string,
  opts?: WaitOptions,
): Promise<void> {
  const signal = opts?.signal;
  if (signal?.aborted) throw signal.reason;
  for (let i = idle.spinIterations; i > 0; i--) if (ready()) return;
  const deadline = deadlineOf(opts?.timeoutMs);
  for (;;) {
    Atomics.store(ctl, word, 1);
    if (ready()) return;
    const left = deadline - performance.now();
    if (left <= 0) throw timedOut(what, opts?.timeoutMs);
    const r = await waiter.waitAsync(ctl, word, 1, Math.min(left, idle.sleepSliceMs), signal, idle.ref);
    if (ready()) return;
    if (r === 'timed-out') idle.checkPeer?.();
  }
}

/** After making progress: wake whoever announced sleeping on `word` (one load when nobody did). */
export function wakeSleepers(ctl: Int32Array, word: number, waiter: Waiter): void {
  if (Atomics.load(ctl, word) !== 0 && Atomics.exchange(ctl, word, 0) !== 0) waiter.wake(ctl, word, Infinity);
}
