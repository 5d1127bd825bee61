/**
 * A distributed lock with leases and fencing tokens, served by the durable service's
 * coordination API (docs/coordination.md).
 *
 * ```ts
 * const orders = lock(bus, 'orders', { ttlMs: 10_000 });
 * const lease = await orders.acquire({ timeoutMs: 5000 });
 * try {
 *   // KV writes fenced by the token are refused once a newer holder exists.
 *   await counters.put('orders.total', String(n + 1), { fence: lease.fence });
 * } finally {
 *   await lease.release();
 * }
 * ```
 */
import type { Bus } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { CoKind, MAX_TTL_MS, MAX_WAIT_MS, MIN_TTL_MS, checkCoName, type WireLease } from '../durable/coord-config.js';
import { HeldLease, acquireLease, coCall, randomId, type AcquireOptions, type Lease } from './lock-lease.js';

import { patternTarget } from './provider.js';

export type { Lease, AcquireOptions } from './lock-lease.js';

/** Options of {@link lock}. */
export interface LockOptions {
  /** Lease length; renewed every third of it while held. 50 ms – 10 min. @default 10000 */
  readonly ttlMs?: number;
  /** Renew automatically while held. @default true */
  readonly autoRenew?: boolean;
  /** Timeout of each control call (renew, release, info). @default 5000 */
  readonly callTimeoutMs?: number;
}

/** What {@link Lock.info} reports. */
export interface LockInfo {
  readonly name: string;
  /** The newest fencing token handed out (0: never acquired). */
  readonly lastToken: number;
  readonly holders: readonly WireLease[];
  /** Requests waiting right now. */
  readonly waiting: number;
}

/** A named distributed lock. */
export interface Lock {
  readonly name: string;
  /** Wait for the lock (no polling: the service answers on release or expiry). */
  acquire(options?: AcquireOptions): Promise<Lease>;
  /** Take it if free now, else undefined. */
  tryAcquire(): Promise<Lease | undefined>;
  info(): Promise<LockInfo>;
}

/** Check a TTL option. */
export function checkTtl(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `ttlMs must be an integer from ${MIN_TTL_MS} to ${MAX_TTL_MS}`, { details: { ttlMs } });
  }
  return ttlMs;
}

/** The lock `name` through `bus` (a durable service must be running on the broker). */
export function lock(on: Bus, name: string, options: LockOptions = {}): Lock {
  checkCoName(name);
  const target = patternTarget(on, 'lock');
  if (target.kind === 'backend') return target.impl(name, options);
  const bus = target.conn;
  const ttlMs = checkTtl(options.ttlMs ?? 10_000);
  const callTimeoutMs = options.callTimeoutMs ?? 5000;
  const autoRenew = options.autoRenew ?? true;
  const acquire = async (o: AcquireOptions = {}): Promise<Lease> => {
    const owner = randomId('lock');
    const { wire, sentAt } = await acquireLease(bus, CoKind.LOCK, name, { owner, ttlMs }, o, callTimeoutMs, MAX_WAIT_MS);
    return new HeldLease(bus, CoKind.LOCK, wire, ttlMs, callTimeoutMs, sentAt, autoRenew);
  };
  return {
    name,
    acquire,
    async tryAcquire() {
      try {
        return await acquire({ timeoutMs: 0 });
      } catch (err) {
        if (err instanceof PlexusError && err.code === ErrorCode.TIMEOUT) return undefined;
        throw err;
      }
    },
    info: () => coCall<LockInfo>(bus, CoKind.LOCK, 'INFO', name, {}, callTimeoutMs),
  };
}
