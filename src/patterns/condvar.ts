/**
 * A distributed condition variable, used with a {@link Lock}: `wait(lease)` gives the
 * lock up and waits for a notify in one step on the service (so a notify sent by the
 * next holder cannot slip in between), then takes the lock again and returns the new
 * lease. As with any condition variable, re-check the condition after waking.
 *
 * ```ts
 * const m = lock(bus, 'jobs');
 * const nonEmpty = condvar(bus, 'jobs-nonempty', m);
 * let lease = await m.acquire();
 * while ((await queue.get('jobs.count'))?.json<number>() === 0) {
 *   ({ lease } = await nonEmpty.wait(lease, { timeoutMs: 10_000 }));
 * }
 * ```
 */
import type { Bus } from '../client/index.js';
import { embeddedOnly } from './provider.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { CoKind, MAX_WAIT_MS, checkCoName } from '../durable/coord-config.js';
import { HeldLease, coCall, type Lease } from './lock-lease.js';
import type { Lock } from './lock.js';

/** Options of {@link CondVar.wait}. */
export interface CondWaitOptions {
  /** Longest wait for a notify (then the lock is re-acquired and `notified` is false). ≤ 60000. @default 30000 */
  readonly timeoutMs?: number;
  /** Longest wait to take the lock back after waking. @default 30000 */
  readonly reacquireTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A named distributed condition variable bound to a lock. */
export interface CondVar {
  readonly name: string;
  /**
   * Release `lease` (of the bound lock) and wait for a notify or the timeout, then
   * re-acquire the lock. The old lease is finished; use the returned one.
   */
  wait(lease: Lease, options?: CondWaitOptions): Promise<{ notified: boolean; lease: Lease }>;
  /** Wake the longest-waiting waiter; resolves with how many were woken (0 or 1). */
  notify(): Promise<number>;
  /** Wake every waiter. */
  notifyAll(): Promise<number>;
}

/** The condition variable `name`, used together with `withLock`. */
export function condvar(on: Bus, name: string, withLock: Lock, options: { callTimeoutMs?: number } = {}): CondVar {
  const bus = embeddedOnly(on, 'condvar');
  checkCoName(name);
  const callTimeoutMs = options.callTimeoutMs ?? 5000;
  const notify = async (all: boolean): Promise<number> =>
    (await coCall<{ woken: number }>(bus, CoKind.COND, 'NOTIFY', name, { all }, callTimeoutMs)).woken;
  return {
    name,
    async wait(lease, o = {}) {
      const timeoutMs = o.timeoutMs ?? 30_000;
      if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_WAIT_MS) {
        throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `timeoutMs must be an integer from 0 to ${MAX_WAIT_MS}`);
      }
      if (lease.name !== withLock.name) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `the lease is on ${lease.name}, not ${withLock.name}`);
      if (lease.lost) throw new PlexusError(ErrorCode.LEASE_LOST, `the lease on ${lease.name} is no longer held`);
      // The service takes the lease over: stop renewing it here.
      if (lease instanceof HeldLease) lease.stop();
      let notified = false;
      try {
        const r = await coCall<{ notified: boolean }>(
          bus,
          CoKind.COND,
          'WAIT',
          name,
          { lock: lease.name, owner: lease.owner, token: lease.token, waitMs: timeoutMs },
          timeoutMs + callTimeoutMs,
          o.signal,
        );
        notified = r.notified;
      } catch (err) {
        if (err instanceof PlexusError && err.code === ErrorCode.LEASE_LOST) throw err;
        // Whatever happened, we must not return without the lock: fall through to re-acquire,
        // unless the caller aborted.
        if (o.signal?.aborted) throw o.signal.reason;
        if (!(err instanceof PlexusError)) throw err;
      }
      const next = await withLock.acquire({ timeoutMs: o.reacquireTimeoutMs ?? 30_000, ...(o.signal ? { signal: o.signal } : {}) });
      return { notified, lease: next };
    },
    notify: () => notify(false),
    notifyAll: () => notify(true),
  };
}
