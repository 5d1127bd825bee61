/**
 * Leases for locks (one holder) and semaphores (N holders). Each holder has a TTL that
 * it renews; a holder that stops renewing (dead, paused, partitioned) loses its lease
 * when the TTL passes, and the next waiter is granted at once — waiters are woken by
 * the release or the expiry timer, never by polling.
 *
 * Every grant carries a fencing token, strictly increasing per lock or semaphore. The
 * tokens and the holders are saved (atomic JSON file) before a grant is answered, so a
 * restarted service never hands out a token twice and keeps the leases that were held
 * (renewals and releases are saved right after they are answered; see `open` for why
 * that is safe).
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { MAX_WAITERS, type WireLease } from './coord-config.js';
import { CoalescingWriter, readJson } from './files.js';
import type { Fence } from './kv-config.js';

/** `lock` tables have one permit and fence KV writes; `sem` tables have N. */
export type LeaseKind = 'lock' | 'sem';

interface Holder {
  readonly owner: string;
  readonly token: number;
  expiresAt: number;
  ttlMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Waiter {
  readonly owner: string;
  readonly ttlMs: number;
  /** undefined: the service is closing. */
  readonly grant: (lease: WireLease | undefined) => void;
}

interface Table {
  readonly kind: LeaseKind;
  readonly name: string;
  limit: number;
  lastToken: number;
  readonly holders: Map<string, Holder>;
  readonly waiters: Waiter[];
}

interface SavedTable {
  kind: LeaseKind;
  name: string;
  limit: number;
  lastToken: number;
  holders: { owner: string; token: number; expiresAt: number; ttlMs: number }[];
}

/** Options of one acquire. */
export interface AcquireRequest {
  readonly owner: string;
  readonly ttlMs: number;
  /** Permits of the semaphore (1 for locks). */
  readonly limit: number;
  readonly waitMs: number;
  readonly signal: AbortSignal;
}

/** Every lock and semaphore of a service. */
export class Leases {
  private readonly tables = new Map<string, Table>();
  private readonly writer: CoalescingWriter;
  private closed = false;

  private constructor(
    dir: string,
    private readonly onError: (err: unknown) => void,
  ) {
    this.writer = new CoalescingWriter(join(dir, 'leases.json'), () => this.snapshot());
  }

  /** Load saved tokens and leases from `<dir>/coord/leases.json`. */
  static async open(dir: string, onError: (err: unknown) => void): Promise<Leases> {
    const d = join(dir, 'coord');
    await mkdir(d, { recursive: true });
    const l = new Leases(d, onError);
    const raw = (await readJson(join(d, 'leases.json'))) as { tables?: SavedTable[] } | undefined;
    for (const t of raw?.tables ?? []) {
      const table: Table = { kind: t.kind, name: t.name, limit: t.limit, lastToken: t.lastToken, holders: new Map(), waiters: [] };
      l.tables.set(key(t.kind, t.name), table);
      // A restart never shortens a lease: renewals are answered before they are saved, so
      // the saved deadline may be older than the one the holder was promised. Every saved
      // lease therefore gets at least one full TTL from now (a dead holder costs one
      // extra TTL after a restart; a live one never loses a lease it was told it has).
      const now = Date.now();
      for (const h of t.holders) {
        const holder: Holder = { ...h, expiresAt: Math.max(h.expiresAt, now + h.ttlMs), timer: undefined };
        table.holders.set(h.owner, holder);
        l.arm(table, holder);
      }
    }
    return l;
  }

  private snapshot(): string {
    const tables: SavedTable[] = [];
    for (const t of this.tables.values()) {
      tables.push({
        kind: t.kind,
        name: t.name,
        limit: t.limit,
        lastToken: t.lastToken,
        holders: [...t.holders.values()].map((h) => ({ owner: h.owner, token: h.token, expiresAt: h.expiresAt, ttlMs: h.ttlMs })),
      });
    }
    return JSON.stringify({ tables });
  }

  private table(kind: LeaseKind, name: string, limit: number): Table {
    let t = this.tables.get(key(kind, name));
    if (!t) {
      t = { kind, name, limit, lastToken: 0, holders: new Map(), waiters: [] };
      this.tables.set(key(kind, name), t);
    } else if (t.limit !== limit) {
      if (t.holders.size > 0 || t.waiters.length > 0) {
        throw new PlexusError(ErrorCode.DURABLE_EXISTS, `${kind} ${name} is in use with ${t.limit} permits, not ${limit}`, {
          details: { name, permits: t.limit },
        });
      }
      t.limit = limit;
    }
    return t;
  }

  /**
   * Take a lease, waiting up to `waitMs` (woken by a release or an expiry). Resolves
   * with the lease once it is saved, or undefined when the wait ran out. An owner that
   * already holds a lease gets it back renewed (a retried acquire whose reply was lost).
   */
  async acquire(kind: LeaseKind, name: string, r: AcquireRequest): Promise<WireLease | undefined> {
    this.assertOpen();
    const t = this.table(kind, name, r.limit);
    const held = t.holders.get(r.owner);
    if (held) return this.renew(kind, name, r.owner, held.token, r.ttlMs);
    let lease: WireLease | undefined;
    if (t.holders.size < t.limit && t.waiters.length === 0) lease = this.grant(t, r.owner, r.ttlMs);
    else if (r.waitMs > 0 && !r.signal.aborted) {
      if (t.waiters.length >= MAX_WAITERS) {
        throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `more than ${MAX_WAITERS} waiters on ${kind} ${name}`, { details: { name, max: MAX_WAITERS } });
      }
      lease = await new Promise<WireLease | undefined>((resolve) => {
        const done = (l: WireLease | undefined): void => {
          clearTimeout(timer);
          r.signal.removeEventListener('abort', gone);
          resolve(l);
        };
        const waiter: Waiter = { owner: r.owner, ttlMs: r.ttlMs, grant: done };
        // Leaving the queue is synchronous with the timeout or the caller going away,
        // so a waiter is never granted after it stopped waiting.
        const gone = (): void => {
          const i = t.waiters.indexOf(waiter);
          if (i >= 0) t.waiters.splice(i, 1);
          done(undefined);
        };
        const timer = setTimeout(gone, r.waitMs);
        r.signal.addEventListener('abort', gone, { once: true });
        t.waiters.push(waiter);
      });
    }
    if (lease) await this.writer.save();
    return lease;
  }

  private grant(t: Table, owner: string, ttlMs: number): WireLease {
    const token = ++t.lastToken;
    const h: Holder = { owner, token, ttlMs, expiresAt: Date.now() + ttlMs, timer: undefined };
    t.holders.set(owner, h);
    this.arm(t, h);
    return lease(t, h);
  }

  /** Start (or restart) the expiry timer of `h`. */
  private arm(t: Table, h: Holder): void {
    if (h.timer !== undefined) clearTimeout(h.timer);
    h.timer = setTimeout(() => this.expire(t, h), Math.max(0, h.expiresAt - Date.now()));
    h.timer.unref();
  }

  private expire(t: Table, h: Holder): void {
    if (this.closed || t.holders.get(h.owner) !== h) return;
    if (h.expiresAt > Date.now()) return this.arm(t, h); // renewed meanwhile
    t.holders.delete(h.owner);
    this.grantWaiters(t);
    this.writer.save().catch((err: unknown) => this.onError(err));
  }

  /** Grant free permits to waiters, oldest first (their handlers save before replying). */
  private grantWaiters(t: Table): void {
    while (t.holders.size < t.limit && t.waiters.length > 0) {
      const w = t.waiters.shift()!;
      w.grant(this.grant(t, w.owner, w.ttlMs));
    }
  }

  /** Extend `owner`'s lease by `ttlMs` from now; LEASE_LOST if it no longer holds `token`. */
  renew(kind: LeaseKind, name: string, owner: string, token: number, ttlMs: number): WireLease {
    this.assertOpen();
    const t = this.tables.get(key(kind, name));
    const h = t?.holders.get(owner);
    if (!t || !h || h.token !== token || h.expiresAt <= Date.now()) {
      throw new PlexusError(ErrorCode.LEASE_LOST, `the lease on ${kind} ${name} (token ${token}) is no longer held`, {
        details: { name, token, current: t?.lastToken ?? 0 },
      });
    }
    h.ttlMs = ttlMs;
    h.expiresAt = Date.now() + ttlMs;
    this.arm(t, h);
    // Not awaited: a restart extends every saved lease by a full TTL (see open), so a
    // renewal lost in a crash cannot shorten the lease; waiting for an fsync here would
    // only make renewals late under I/O load.
    this.writer.save().catch((err: unknown) => this.onError(err));
    return lease(t, h);
  }

  /**
   * Give `owner`'s lease back (any token when `token` is undefined: an acquire that
   * gave up may have been granted); `released` false when nothing was held. Answered
   * without waiting for the save: if the service dies before it, the lease comes back
   * after a restart only until its TTL ends (safe, just later), while not waiting
   * halves the cost of handing a contended lock over (the next grant's save covers it).
   */
  release(kind: LeaseKind, name: string, owner: string, token: number | undefined): { released: boolean } {
    this.assertOpen();
    const released = this.drop(kind, name, owner, token);
    if (released) this.writer.save().catch((err: unknown) => this.onError(err));
    return { released };
  }

  /** Synchronously drop a lease and grant the next waiter; true if one was held. */
  drop(kind: LeaseKind, name: string, owner: string, token: number | undefined): boolean {
    const t = this.tables.get(key(kind, name));
    const h = t?.holders.get(owner);
    if (!t || !h || (token !== undefined && h.token !== token)) return false;
    if (h.timer !== undefined) clearTimeout(h.timer);
    t.holders.delete(owner);
    this.grantWaiters(t);
    return true;
  }

  /** True when `owner` holds a live lease with `token`. */
  holds(kind: LeaseKind, name: string, owner: string, token: number): boolean {
    const h = this.tables.get(key(kind, name))?.holders.get(owner);
    return h !== undefined && h.token === token && h.expiresAt > Date.now();
  }

  /** Save now (after {@link drop}). */
  save(): Promise<void> {
    return this.writer.save();
  }

  /**
   * Accept a write fenced by a lock's (or a semaphore permit's) token only while that
   * token's lease is live: a newer token exists, or the lease expired or was released,
   * means FENCE_STALE. A semaphore has several live tokens at once; each is checked alone.
   */
  checkFence(fence: Fence): void {
    const kind: LeaseKind = fence.kind === 'semaphore' ? 'sem' : 'lock';
    const what = kind === 'lock' ? 'lock' : 'semaphore';
    const t = this.tables.get(key(kind, fence.lock));
    let live = false;
    for (const h of t?.holders.values() ?? []) if (h.token === fence.token && h.expiresAt > Date.now()) live = true;
    if (!live) {
      const current = t?.lastToken ?? 0;
      const why = kind === 'lock' && fence.token < current ? `a newer lease (token ${current}) exists` : 'its lease expired or was released';
      throw new PlexusError(ErrorCode.FENCE_STALE, `fencing token ${fence.token} of ${what} ${fence.lock} is stale: ${why}`, {
        details: { [what]: fence.lock, token: fence.token, current },
      });
    }
  }

  /** Holders, waiters and the last token of one lock or semaphore. */
  info(kind: LeaseKind, name: string): { name: string; permits: number; lastToken: number; holders: WireLease[]; waiting: number } {
    const t = this.tables.get(key(kind, name));
    if (!t) return { name, permits: kind === 'lock' ? 1 : 0, lastToken: 0, holders: [], waiting: 0 };
    const now = Date.now();
    const holders = [...t.holders.values()].filter((h) => h.expiresAt > now).map((h) => lease(t, h));
    return { name, permits: t.limit, lastToken: t.lastToken, holders, waiting: t.waiters.length };
  }

  private assertOpen(): void {
    if (this.closed) throw new PlexusError(ErrorCode.SHUTTING_DOWN, 'the coordination service is closing');
  }

  /** Stop timers, end waits (their callers retry against the next service), flush the state. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.tables.values()) {
      for (const h of t.holders.values()) if (h.timer !== undefined) clearTimeout(h.timer);
      for (const w of t.waiters.splice(0)) w.grant(undefined);
    }
    await this.writer.idle();
  }
}

function key(kind: LeaseKind, name: string): string {
  return `${kind}:${name}`;
}

function lease(t: Table, h: Holder): WireLease {
  return { name: t.name, owner: h.owner, token: h.token, expiresAt: h.expiresAt, ttlMs: h.ttlMs };
}
