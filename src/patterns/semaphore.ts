/**
 * A distributed counting semaphore: `permits` leases at a time, each with a TTL that
 * is renewed while held, so a holder that dies gives its permit back when the lease
 * expires (docs/coordination.md).
 *
 * ```ts
 * const gpu = semaphore(bus, 'gpu', { permits: 4, ttlMs: 30_000 });
 * const permit = await gpu.acquire({ timeoutMs: 60_000 });
 * try { await train(); } finally { await permit.release(); }
 * ```
 */
import type { Bus } from '../client/index.js';
import { embeddedOnly } from './provider.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { CoKind, MAX_PERMITS, MAX_WAIT_MS, checkCoName, type WireLease } from '../durable/coord-config.js';
import { checkTtl } from './lock.js';
import { HeldLease, acquireLease, coCall, randomId, type AcquireOptions, type Lease } from './lock-lease.js';

/** Options of {@link semaphore}. */
export interface SemaphoreOptions {
  /** How many holders at once (1 – 10000). Every user of the name must agree while it is in use. */
  readonly permits: number;
  /** Lease length of a permit; renewed every third of it while held. @default 10000 */
  readonly ttlMs?: number;
  /** Renew automatically while held. @default true */
  readonly autoRenew?: boolean;
  /** Timeout of each control call. @default 5000 */
  readonly callTimeoutMs?: number;
}

/** What {@link Semaphore.info} reports. */
export interface SemaphoreInfo {
  readonly name: string;
  readonly permits: number;
  readonly lastToken: number;
  readonly holders: readonly WireLease[];
  readonly waiting: number;
}

/** A named distributed semaphore. */
export interface Semaphore {
  readonly name: string;
  readonly permits: number;
  /** Wait for a permit (woken by a release or an expiry, never by polling). */
  acquire(options?: AcquireOptions): Promise<Lease>;
  /** Take a permit if one is free now, else undefined. */
  tryAcquire(): Promise<Lease | undefined>;
  info(): Promise<SemaphoreInfo>;
}

/** The semaphore `name` with `options.permits` permits, through `bus`. */
export function semaphore(on: Bus, name: string, options: SemaphoreOptions): Semaphore {
  const bus = embeddedOnly(on, 'semaphore');
  checkCoName(name);
  const permits = options.permits;
  if (!Number.isSafeInteger(permits) || permits < 1 || permits > MAX_PERMITS) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `permits must be an integer from 1 to ${MAX_PERMITS}`, { details: { permits } });
  }
  const ttlMs = checkTtl(options.ttlMs ?? 10_000);
  const callTimeoutMs = options.callTimeoutMs ?? 5000;
  const autoRenew = options.autoRenew ?? true;
  const acquire = async (o: AcquireOptions = {}): Promise<Lease> => {
    const owner = randomId('sem');
    const { wire, sentAt } = await acquireLease(bus, CoKind.SEMAPHORE, name, { owner, ttlMs, permits }, o, callTimeoutMs, MAX_WAIT_MS);
    return new HeldLease(bus, CoKind.SEMAPHORE, wire, ttlMs, callTimeoutMs, sentAt, autoRenew);
  };
  return {
    name,
    permits,
    acquire,
    async tryAcquire() {
      try {
        return await acquire({ timeoutMs: 0 });
      } catch (err) {
        if (err instanceof PlexusError && err.code === ErrorCode.TIMEOUT) return undefined;
        throw err;
      }
    },
    info: () => coCall<SemaphoreInfo>(bus, CoKind.SEMAPHORE, 'INFO', name, {}, callTimeoutMs),
  };
}
