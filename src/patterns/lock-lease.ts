/**
 * A held lease on a lock or semaphore, renewed in the background while held, and the
 * small request helpers the coordination clients share. See docs/coordination.md.
 */
import { randomBytes } from 'node:crypto';
import type { Connection } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { CoKind, coSubject, type WireLease } from '../durable/coord-config.js';
import type { Fence } from '../durable/kv-config.js';

/** A held lease. Check {@link Lease.signal} (or `lost`) before acting on what it protects. */
export interface Lease {
  /** The lock or semaphore name. */
  readonly name: string;
  /** Random id of this holder. */
  readonly owner: string;
  /** Fencing token: strictly increasing per lock / semaphore, across service restarts. */
  readonly token: number;
  /** What to pass as `fence` to a KV write that must only happen while this lease is held. */
  readonly fence: Fence;
  /** Local time (ms) by which the lease ends unless a renewal succeeds. */
  readonly expiresAt: number;
  /** Aborts (reason: PLEXUS_ERR_LEASE_LOST) when the lease is lost: expired, renewal refused. */
  readonly signal: AbortSignal;
  /** True once lost or released. */
  readonly lost: boolean;
  /** Renew now (it is also renewed automatically every third of its TTL). */
  renew(): Promise<void>;
  /** Give it back; idempotent. Stops renewal. */
  release(): Promise<void>;
}

/** Errors after which asking again (the same request) makes sense. */
const RETRYABLE = new Set<string>([
  ErrorCode.CONNECTION_LOST,
  ErrorCode.NO_RESPONDERS,
  ErrorCode.RESPONDER_GONE,
  ErrorCode.TIMEOUT,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.RECONNECT_BUFFER_FULL,
]);

/** True when `err` is a transient failure of the service or the connection. */
export function retryable(err: unknown): boolean {
  return err instanceof PlexusError && RETRYABLE.has(err.code);
}

/** A random owner / party id. */
export function randomId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('base64url')}`;
}

/** Sleep `ms`, or until `signal` aborts (then reject with its reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** JSON request to a coordination subject. */
export async function coCall<T>(bus: Connection, kind: CoKind, op: string, name: string, body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  const reply = await bus.request(coSubject(kind, op as never, name), JSON.stringify(body), { timeout: timeoutMs, ...(signal ? { signal } : {}) });
  return reply.json<T>();
}

/** A timeout error for a wait that ran out. */
export function waitTimeout(what: string, ms: number): PlexusError {
  return new PlexusError(ErrorCode.TIMEOUT, `${what} timed out after ${ms} ms`, { details: { timeoutMs: ms } });
}

/** Leases of one kind renewed in the background. */
export class HeldLease implements Lease {
  readonly fence: Fence;
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private done = false;
  private deadline: number;

  constructor(
    private readonly bus: Connection,
    private readonly kind: CoKind,
    wire: WireLease,
    private readonly ttlMs: number,
    private readonly callTimeoutMs: number,
    sentAt: number,
    autoRenew: boolean,
  ) {
    this.name = wire.name;
    this.owner = wire.owner;
    this.token = wire.token;
    // A permit's token is checked against the semaphore's holders, not a lock's.
    this.fence = kind === CoKind.SEMAPHORE ? { lock: wire.name, token: wire.token, kind: 'semaphore' } : { lock: wire.name, token: wire.token };
    // Counted from when the request was sent: the service's TTL started no earlier.
    this.deadline = sentAt + ttlMs;
    if (autoRenew) this.schedule();
    this.armExpiry();
  }

  readonly name: string;
  readonly owner: string;
  readonly token: number;

  get expiresAt(): number {
    return this.deadline;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.done;
  }

  private expiryTimer: ReturnType<typeof setTimeout> | undefined;

  /** Lost locally once the deadline passes without a successful renewal. */
  private armExpiry(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      if (Date.now() >= this.deadline) this.lose('the lease expired before a renewal succeeded');
      else this.armExpiry();
    }, Math.max(0, this.deadline - Date.now()));
    this.expiryTimer.unref();
  }

  private schedule(): void {
    if (this.done) return;
    this.timer = setTimeout(() => {
      this.renew().catch(() => undefined); // lose() already reported what matters
    }, Math.max(10, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  async renew(): Promise<void> {
    if (this.done) throw this.lostError('the lease is no longer held');
    if (this.timer !== undefined) clearTimeout(this.timer);
    const sentAt = Date.now();
    try {
      await coCall<WireLease>(this.bus, this.kind, 'RENEW', this.name, { owner: this.owner, token: this.token, ttlMs: this.ttlMs }, Math.min(this.callTimeoutMs, this.ttlMs));
      if (this.done) return;
      this.deadline = sentAt + this.ttlMs;
      this.armExpiry();
    } catch (err) {
      if (err instanceof PlexusError && err.code === ErrorCode.LEASE_LOST) {
        this.lose(err.message);
        throw err;
      }
      // Transient: try again soon; the local deadline decides when it is lost.
      if (!retryable(err)) throw err;
    } finally {
      this.schedule();
    }
  }

  async release(): Promise<void> {
    if (this.done) return;
    this.stop();
    this.controller.abort(new PlexusError(ErrorCode.LEASE_LOST, `the lease on ${this.name} was released`, { details: { name: this.name, token: this.token } }));
    await coCall(this.bus, this.kind, 'RELEASE', this.name, { owner: this.owner, token: this.token }, this.callTimeoutMs);
  }

  /** Stop renewing without telling the service (condition-variable waits hand the lease over). */
  stop(): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
  }

  private lose(why: string): void {
    if (this.done) return;
    this.stop();
    this.controller.abort(this.lostError(why));
  }

  private lostError(why: string): PlexusError {
    return new PlexusError(ErrorCode.LEASE_LOST, `lease on ${this.name} (token ${this.token}) lost: ${why}`, { details: { name: this.name, token: this.token } });
  }
}

/** Options of `acquire`. */
export interface AcquireOptions {
  /** Give up after this long with PLEXUS_ERR_TIMEOUT; 0 tries once without waiting. @default 30000 */
  readonly timeoutMs?: number;
  /** Stop waiting (rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/**
 * Wait for a lease: ask the service to hold the request until a permit is free (it
 * answers on release or expiry — no polling), asking again in chunks of at most
 * `maxWaitMs` until `timeoutMs`. On giving up, a lease granted in the meantime is
 * released. Returns the wire lease and when its request was sent.
 */
export async function acquireLease(
  bus: Connection,
  kind: CoKind,
  name: string,
  body: Record<string, unknown>,
  o: AcquireOptions,
  callTimeoutMs: number,
  maxWaitMs: number,
): Promise<{ wire: WireLease; sentAt: number }> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'timeoutMs must be a non-negative integer');
  const signal = o.signal;
  if (signal?.aborted) throw signal.reason;
  const owner = body.owner as string;
  const until = Date.now() + timeoutMs;
  let attempt = 0;
  try {
    // Bounded by `until`: every pass waits in the service or sleeps, then checks the time.
    for (;;) {
      const waitMs = Math.max(0, Math.min(maxWaitMs, until - Date.now()));
      const sentAt = Date.now();
      try {
        const r = await coCall<{ acquired: boolean } & WireLease>(bus, kind, 'ACQUIRE', name, { ...body, waitMs }, waitMs + callTimeoutMs, signal);
        if (r.acquired) return { wire: r, sentAt };
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!retryable(err)) throw err;
        await sleep(Math.min(50 * 2 ** Math.min(attempt++, 5), Math.max(0, until - Date.now())), signal);
      }
      if (Date.now() >= until) throw waitTimeout(`acquiring ${name}`, timeoutMs);
    }
  } catch (err) {
    // A grant may have raced our giving up: hand it back (best effort, bounded).
    coCall(bus, kind, 'RELEASE', name, { owner }, callTimeoutMs).catch(() => undefined);
    throw err;
  }
}
