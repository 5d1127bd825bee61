/**
 * Plexus locks on JetStream KV (docs/backends/nats.md). A lock is a KV bucket of its own
 * (`plexus-lock-<name>`) whose max age is the lease TTL; the holder is the one key
 * `holder`, created only if absent. Its creation revision is the fencing token (bucket-wide
 * stream sequences only grow); renewing rewrites the key at its current revision, which
 * restarts its age; releasing deletes it at its revision, so a holder can only remove its
 * own record. A lease nobody renews is removed by the server's max age and the next
 * `create` wins. Waiters ask again every few hundred ms (JetStream has no queue of
 * waiters for a key).
 */
import type { KV, NatsConnection } from 'nats';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { Fence } from '../../durable/kv-config.js';
import { checkTtl, type AcquireOptions, type Lease, type Lock, type LockOptions } from '../../patterns/lock.js';
import { randomId, sleep } from '../../patterns/lock-lease.js';
import { fromJetStreamError } from './jetstream-errors.js';

const HOLDER_KEY = 'holder';
/** How often a waiter asks again: often enough to follow a release quickly, bounded load. */
const RETRY_MS = 150;

class NatsLease implements Lease {
  readonly fence: Fence;
  private readonly ac = new AbortController();
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private released = false;
  expiresAt: number;

  constructor(
    private readonly bucket: KV,
    readonly name: string,
    readonly owner: string,
    readonly token: number,
    private revision: number,
    private readonly ttlMs: number,
    sentAt: number,
    autoRenew: boolean,
  ) {
    this.fence = { lock: name, token };
    this.expiresAt = sentAt + ttlMs;
    this.armExpiry();
    if (autoRenew) {
      this.renewTimer = setInterval(() => void this.renew().catch(() => undefined), Math.max(1, Math.floor(ttlMs / 3)));
      this.renewTimer.unref?.();
    }
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  get lost(): boolean {
    return this.ac.signal.aborted;
  }

  async renew(): Promise<void> {
    if (this.lost) throw new PlexusError(ErrorCode.LEASE_LOST, `the lease on ${this.name} is gone`);
    const sentAt = Date.now();
    try {
      this.revision = await this.bucket.update(HOLDER_KEY, this.owner, this.revision);
    } catch (err) {
      const coded = fromJetStreamError(err, `renew lock ${this.name}`, 'update');
      // Someone else's record (or none): our lease expired and was taken.
      if (coded.code === ErrorCode.KV_WRONG_REVISION) this.lose('the lease expired before it was renewed');
      throw this.lost ? new PlexusError(ErrorCode.LEASE_LOST, `the lease on ${this.name} is gone`, { cause: coded }) : coded;
    }
    this.expiresAt = sentAt + this.ttlMs;
    this.armExpiry();
  }

  async release(): Promise<void> {
    if (this.released) return;
    const wasLost = this.lost;
    this.released = true;
    this.lose('released');
    if (wasLost) return;
    try {
      await this.bucket.delete(HOLDER_KEY, { previousSeq: this.revision });
    } catch (err) {
      const coded = fromJetStreamError(err, `release lock ${this.name}`, 'update');
      // A wrong revision means the record is no longer ours: nothing to give back.
      if (coded.code !== ErrorCode.KV_WRONG_REVISION) throw coded;
    }
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => this.lose('the lease expired'), Math.max(0, this.expiresAt - Date.now()));
    this.expiryTimer.unref?.();
  }

  private lose(why: string): void {
    clearInterval(this.renewTimer);
    clearTimeout(this.expiryTimer);
    if (!this.ac.signal.aborted) this.ac.abort(new PlexusError(ErrorCode.LEASE_LOST, `lock ${this.name}: ${why}`));
  }
}

/** The lock `name` on `nc` as a Plexus {@link Lock}. */
export function natsLock(nc: NatsConnection, name: string, options: LockOptions): Lock {
  const ttlMs = checkTtl(options.ttlMs ?? 10_000);
  const timeout = options.callTimeoutMs ?? 5000;
  const autoRenew = options.autoRenew ?? true;
  let ready: Promise<KV> | undefined;
  const open = async (): Promise<KV> => {
    const b = await nc.jetstream({ timeout }).views.kv(`plexus-lock-${name}`, { history: 1, ttl: ttlMs });
    const existing = (await b.status()).ttl;
    if (existing !== ttlMs) {
      throw new PlexusError(ErrorCode.NOT_SUPPORTED, `lock ${name} exists on nats with ttlMs ${existing}: the lease length of a lock is fixed on nats`, { details: { ttlMs, existing } });
    }
    return b;
  };
  const bucket = (): Promise<KV> => {
    ready ??= open().catch((err: unknown) => {
      ready = undefined;
      throw fromJetStreamError(err, `open lock ${name}`);
    });
    return ready;
  };
  const attempt = async (): Promise<Lease | undefined> => {
    const b = await bucket();
    const owner = randomId('lock');
    const sentAt = Date.now();
    try {
      const revision = await b.create(HOLDER_KEY, owner);
      return new NatsLease(b, name, owner, revision, revision, ttlMs, sentAt, autoRenew);
    } catch (err) {
      const coded = fromJetStreamError(err, `acquire lock ${name}`, 'create');
      if (coded.code === ErrorCode.KV_KEY_EXISTS) return undefined;
      throw coded;
    }
  };
  return {
    name,
    async acquire(o: AcquireOptions = {}) {
      const waitMs = o.timeoutMs ?? 30_000;
      const deadline = Date.now() + waitMs;
      // Bounded by the deadline: each round sleeps at most until it.
      for (;;) {
        o.signal?.throwIfAborted();
        const lease = await attempt();
        if (lease) return lease;
        const left = deadline - Date.now();
        if (left <= 0) throw new PlexusError(ErrorCode.TIMEOUT, `lock ${name} was not free within ${waitMs} ms`);
        await sleep(Math.min(RETRY_MS, left), o.signal);
      }
    },
    tryAcquire: attempt,
    info() {
      return Promise.reject(
        new PlexusError(ErrorCode.NOT_SUPPORTED, 'lock info is not supported by nats: JetStream does not know the waiters of a key', { details: { backend: 'nats' } }),
      );
    },
  };
}
