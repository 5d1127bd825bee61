/**
 * Waiting on a 32-bit word of shared memory: the "sleep" half of the rings' spin-then-
 * sleep idle strategy, in two flavours that must not be mixed on one word.
 *
 * - `atomics`: `Atomics.wait` / `Atomics.waitAsync` / `Atomics.notify`. Works between
 *   threads of one process (workers and the main thread). V8 keeps its waiter list inside
 *   the process, so a notify from another process never reaches it.
 * - `futex`: the native addon's FUTEX_WAIT / FUTEX_WAKE without the private flag. Works
 *   between processes on a shared segment (and between threads too). The async form runs
 *   the wait on a helper thread, so the event loop is never blocked.
 */
import { ErrorCode, plexusError } from '../errors/index.js';
import { loadShm, type LoadShmOptions, type ShmAddon } from './addon.js';

/** Result of one wait: woken (maybe spuriously), the word differed, or the time ran out. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/** How a side of a ring (or a primitive) sleeps on, and wakes, a shared 32-bit word. */
export interface Waiter {
  /** `atomics` stays inside one process; `futex` crosses processes. */
  readonly kind: 'atomics' | 'futex';
  /** Blocks the calling thread while `i32[index] === expected`, at most `timeoutMs` (may be Infinity). */
  waitSync(i32: Int32Array, index: number, expected: number, timeoutMs: number): WaitResult;
  /**
   * Waits without blocking the thread, at most `timeoutMs` (finite). Rejects with
   * `signal.reason` when aborted. `ref: false` lets the process exit while it waits.
   */
  waitAsync(i32: Int32Array, index: number, expected: number, timeoutMs: number, signal?: AbortSignal, ref?: boolean): Promise<WaitResult>;
  /** Wakes up to `count` waiters on the word; returns how many were woken (if known). */
  wake(i32: Int32Array, index: number, count?: number): number;
}

type WaitAsyncFn = (
  i32: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };

const atomicsWaitAsync = (Atomics as unknown as { waitAsync?: WaitAsyncFn }).waitAsync;

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? plexusError(ErrorCode.CANCELLED, 'wait aborted');
}

/** In-process waiter on `Atomics` (no addon needed). */
export const atomicsWaiter: Waiter = Object.freeze({
  kind: 'atomics' as const,
  waitSync(i32: Int32Array, index: number, expected: number, timeoutMs: number): WaitResult {
    return Atomics.wait(i32, index, expected, timeoutMs);
  },
  async waitAsync(i32: Int32Array, index: number, expected: number, timeoutMs: number, signal?: AbortSignal, ref = true): Promise<WaitResult> {
    if (signal?.aborted) throw abortReason(signal);
    if (atomicsWaitAsync === undefined) {
      // Fallback for runtimes without Atomics.waitAsync: poll on a short timer.
      return await pollWord(i32, index, expected, timeoutMs, signal, ref);
    }
    const r = atomicsWaitAsync(i32, index, expected, timeoutMs);
    if (!r.async) return r.value;
    // A pending Atomics.waitAsync does not keep Node's event loop alive by itself. A
    // long interval does, until the wait settles: a timer for just the wait's span was
    // not enough, since a timed-out waitAsync may settle after that timer has fired.
    const keepAlive = ref ? setInterval(noop, 0x3fffffff) : undefined;
    let onAbort: (() => void) | undefined;
    try {
      if (signal === undefined) return await r.value;
      return await new Promise<WaitResult>((resolve, reject) => {
        onAbort = () => reject(abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        r.value.then(resolve, reject);
      });
    } finally {
      if (keepAlive !== undefined) clearInterval(keepAlive);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  },
  wake(i32: Int32Array, index: number, count = Infinity): number {
    return Atomics.notify(i32, index, count);
  },
});

function noop(): void {}

async function pollWord(i32: Int32Array, index: number, expected: number, timeoutMs: number, signal: AbortSignal | undefined, ref: boolean): Promise<WaitResult> {
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(i32, index) === expected) {
    if (signal?.aborted) throw abortReason(signal);
    if (performance.now() >= deadline) return 'timed-out';
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1);
      if (!ref) t.unref();
    });
  }
  return 'ok';
}

function sharedBuffer(i32: Int32Array): SharedArrayBuffer {
  const b = i32.buffer;
  if (!(b instanceof SharedArrayBuffer)) {
    throw plexusError(ErrorCode.INVALID_ARGUMENT, 'a futex word must live in a SharedArrayBuffer');
  }
  return b;
}

/**
 * Cross-process waiter on the addon's futex (FUTEX_WAIT/FUTEX_WAKE, shared).
 * @throws PlexusError `PLEXUS_ERR_SHM_UNAVAILABLE` when the addon cannot be loaded.
 */
export function futexWaiter(options?: LoadShmOptions): Waiter {
  return makeFutexWaiter(loadShm(options));
}

function makeFutexWaiter(addon: ShmAddon): Waiter {
  return Object.freeze({
    kind: 'futex' as const,
    waitSync(i32: Int32Array, index: number, expected: number, timeoutMs: number): WaitResult {
      return addon.wait(sharedBuffer(i32), i32.byteOffset + index * 4, expected, timeoutMs);
    },
    async waitAsync(i32: Int32Array, index: number, expected: number, timeoutMs: number, signal?: AbortSignal, ref = true): Promise<WaitResult> {
      if (signal?.aborted) throw abortReason(signal);
      // Cheap check first: no thread is started when the word already differs.
      if (Atomics.load(i32, index) !== expected) return 'not-equal';
      if (timeoutMs <= 0) return 'timed-out';
      const { promise, id } = addon.waitAsync(sharedBuffer(i32), i32.byteOffset + index * 4, expected, timeoutMs, ref);
      const onAbort = (): void => {
        addon.cancelWait(id);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const r = await promise;
        if (r === 'cancelled') throw signal !== undefined ? abortReason(signal) : plexusError(ErrorCode.CANCELLED, 'wait cancelled');
        return r;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    wake(i32: Int32Array, index: number, count = Infinity): number {
      return addon.wake(sharedBuffer(i32), i32.byteOffset + index * 4, count);
    },
  });
}

/** Which waiter kind a ring's header asks for, as a live waiter for this thread. */
export function waiterFor(kind: 'atomics' | 'futex', options?: LoadShmOptions): Waiter {
  return kind === 'futex' ? futexWaiter(options) : atomicsWaiter;
}

