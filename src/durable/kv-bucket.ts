/**
 * One KV bucket: a log (src/store) where every record is a revision of a key — the
 * subject is the key, the payload the value, headers say put/delete/expire, when the
 * key was created and when it expires — plus an in-memory index of every key's newest
 * revisions, rebuilt from the log on open. The log's sequence is the revision, so
 * revisions are per-bucket monotonic and a watcher resumes by sequence.
 *
 * Writes are serialised per bucket (a compare-and-set must see the previous write),
 * and each resolves only once its record is durable per the bucket's fsync. Superseded
 * revisions are reclaimed by last-value compaction (store.md) driven by the index.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { openLog, type Log, type StoredRecord } from '../store/index.js';
import { KvEntryCache } from './kv-cache.js';
import { decodeHeaders, subjectMatches } from '../wire/index.js';
import { writeFileAtomic } from './files.js';
import { KV_HEADERS, MAX_KEYS, type Fence, type KvBucketConfig, type KvRecordOp, type WireKvEntry } from './kv-config.js';
import { PURGE_COMPACT_DELAY_MS, PurgedMark, TOMBSTONE_CHECK_MAX_MS, forgetAt } from './kv-tombstones.js';
import { KvWriteQueue, type KeyView, type KvWrite, type KvWriteResult } from './kv-writes.js';

/** Checks a write's fence; throws PLEXUS_ERR_FENCE_STALE when it is not the lock's live lease. */
export type FenceCheck = (fence: Fence) => void;

/** What the index knows of a key. */
interface KeyState {
  revision: number;
  op: KvRecordOp;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | undefined;
  /** Revisions kept (deletes included), oldest first, at most `history`. */
  revisions: number[];
}


/** Segment size of bucket logs: small, so superseded revisions are reclaimed soon. */
const SEGMENT_BYTES = 4 * 1024 * 1024;
/** Compact once the log holds this many more records than the index keeps. */
const COMPACT_DEAD_RECORDS = 1000;
/** Upper bound between TTL sweeps. */
const SWEEP_MAX_MS = 1000;

export class KvBucket {
  private readonly keys = new Map<string, KeyState>();
  private readonly cache = new KvEntryCache();
  private readonly writes: KvWriteQueue;
  private readonly waiters = new Set<() => void>();
  private liveRevisions = 0;
  private compacting = false;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private tombstoneTimer: ReturnType<typeof setTimeout> | undefined;
  private tombstoneAt = Infinity;
  private closed = false;

  private constructor(
    readonly config: KvBucketConfig,
    readonly dir: string,
    readonly log: Log,
    private readonly purged: PurgedMark,
    fenceCheck: FenceCheck,
    private readonly onError: (err: unknown) => void,
  ) {
    this.writes = new KvWriteQueue({
      log,
      defaultTtlMs: config.ttlMs,
      view: (key, now) => this.view(key, now),
      fenceCheck: (fence) => fenceCheck(fence),
      committed: (records) => this.committed(records),
    });
  }

  /** Create the bucket's directory and config file (if new), open its log and rebuild the index. */
  static async open(config: KvBucketConfig, dir: string, fenceCheck: FenceCheck, onError: (err: unknown) => void, create: boolean): Promise<KvBucket> {
    if (create) {
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(join(dir, 'bucket.json'), JSON.stringify(config));
    }
    const log = await openLog(join(dir, 'log'), { fsync: config.fsync, segmentBytes: SEGMENT_BYTES, maxRecordBytes: config.maxValueBytes + 64 * 1024 });
    let b: KvBucket;
    try {
      b = new KvBucket(config, dir, log, await PurgedMark.load(dir), fenceCheck, onError);
      await b.rebuild();
    } catch (err) {
      await log.close().catch(() => undefined);
      throw err;
    }
    b.scheduleSweep(0);
    b.scheduleTombstones();
    return b;
  }

  private async rebuild(): Promise<void> {
    const last = this.log.lastSeq;
    for (let from = this.log.firstSeq; from <= last; ) {
      let recs: StoredRecord[];
      try {
        recs = await this.log.readRange(from, { toSeq: last, maxRecords: 4096, maxBytes: 8 << 20 });
      } catch (err) {
        // A corrupt range is never served; the keys it held keep their older revisions.
        const toSeq = corruptUpTo(err);
        if (toSeq === undefined) throw err;
        this.onError(err);
        from = Math.max(from + 1, toSeq + 1);
        continue;
      }
      if (recs.length === 0) break;
      for (const r of recs) this.apply(r);
      from = recs[recs.length - 1]!.seq + 1;
    }
  }

  /** Fold one record into the index. */
  private apply(r: StoredRecord): KeyState {
    const h = decodeHeaders(r.headers) ?? {};
    const op = (h[KV_HEADERS.op] ?? 'put') as KvRecordOp;
    const expires = h[KV_HEADERS.expires] !== undefined ? Number(h[KV_HEADERS.expires]) : undefined;
    const created = h[KV_HEADERS.created] !== undefined ? Number(h[KV_HEADERS.created]) : r.timestamp;
    let st = this.keys.get(r.subject);
    if (!st) {
      st = { revision: 0, op, createdAt: created, updatedAt: r.timestamp, expiresAt: undefined, revisions: [] };
      this.keys.set(r.subject, st);
    }
    if (op === 'purge') {
      // Every older revision goes; only this marker stays, until the next compaction.
      this.liveRevisions -= st.revisions.length;
      st.revisions = [];
    }
    st.revision = r.seq;
    st.op = op;
    st.createdAt = created;
    st.updatedAt = r.timestamp;
    st.expiresAt = op === 'put' ? expires : undefined;
    st.revisions.push(r.seq);
    this.liveRevisions++;
    if (st.revisions.length > this.config.history) {
      st.revisions.shift();
      this.liveRevisions--;
    }
    return st;
  }

  /** The key's live state: undefined when absent, deleted or expired. */
  private live(key: string, now = Date.now()): KeyState | undefined {
    const st = this.keys.get(key);
    if (!st || st.op !== 'put') return undefined;
    if (st.expiresAt !== undefined && st.expiresAt <= now) return undefined;
    return st;
  }

  /** The current value of `key` (or the one at `revision`), or undefined. */
  async get(key: string, revision?: number): Promise<WireKvEntry | undefined> {
    if (revision !== undefined) {
      const st = this.keys.get(key);
      if (!st?.revisions.includes(revision)) return undefined;
      const e = await this.readEntry(revision);
      return e?.key === key ? e : undefined;
    }
    const st = this.live(key);
    if (!st) return undefined;
    const e = await this.readEntry(st.revision);
    // Expired or replaced while reading: the index is the truth.
    return e && this.live(key) ? e : undefined;
  }

  /** Apply a write (group-committed with concurrent ones); resolves once durable. */
  write(w: KvWrite): Promise<KvWriteResult> {
    if (this.closed) return Promise.reject(new PlexusError(ErrorCode.SHUTTING_DOWN, 'the KV bucket is closing'));
    return this.writes.write(w);
  }

  /** The index's view of `key` for the write checks. */
  private view(key: string, now: number): KeyView | undefined {
    const st = this.keys.get(key);
    if (!st) return undefined;
    const live = st.op === 'put' && (st.expiresAt === undefined || st.expiresAt > now);
    return { revision: st.revision, live, createdAt: st.createdAt, expiresAt: st.op === 'put' ? st.expiresAt : undefined };
  }

  /** A batch is durable: index it, wake watchers, arm the TTL sweep, maybe compact. */
  private committed(records: readonly StoredRecord[]): void {
    let soonest = Infinity;
    let forget = Infinity;
    for (const r of records) {
      const st = this.apply(r);
      if (st.expiresAt !== undefined) soonest = Math.min(soonest, st.expiresAt);
      const at = forgetAt(st, this.config.tombstoneTtlMs);
      if (at !== undefined) forget = Math.min(forget, st.op === 'purge' ? at + PURGE_COMPACT_DELAY_MS : at);
    }
    if (soonest !== Infinity) this.scheduleSweep(soonest - Date.now());
    if (forget !== Infinity) this.scheduleTombstones(forget);
    this.wake();
    this.maybeCompact();
  }

  /** Every kept revision of `key`, oldest first (deletes included). */
  async history(key: string): Promise<WireKvEntry[]> {
    const st = this.keys.get(key);
    if (!st) return [];
    const out: WireKvEntry[] = [];
    for (const rev of [...st.revisions]) {
      const e = await this.readEntry(rev);
      if (e) out.push(e);
    }
    return out;
  }

  /** Live keys matching `filter`, sorted; `truncated` past {@link MAX_KEYS}. */
  listKeys(filter: string): { keys: string[]; truncated: boolean } {
    const now = Date.now();
    const out: string[] = [];
    for (const key of this.keys.keys()) {
      if (this.live(key, now) && subjectMatches(filter, key)) out.push(key);
    }
    out.sort();
    return out.length > MAX_KEYS ? { keys: out.slice(0, MAX_KEYS), truncated: true } : { keys: out, truncated: false };
  }

  /**
   * A page of the live values matching `filter` with keys after `afterKey`, at most
   * `max` entries and about `maxBytes`, with the revision the bucket was at.
   */
  async snapshot(filter: string, afterKey: string, max: number, maxBytes: number): Promise<{ revision: number; entries: WireKvEntry[]; more: boolean }> {
    const revision = this.log.lastSeq;
    const keys = this.listKeys(filter).keys.filter((k) => k > afterKey);
    const entries: WireKvEntry[] = [];
    let bytes = 0;
    let i = 0;
    for (; i < keys.length && entries.length < max; i++) {
      const e = await this.get(keys[i]!);
      if (!e) continue;
      const size = (e.value?.length ?? 0) + e.key.length + 128;
      if (entries.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      entries.push(e);
    }
    return { revision, entries, more: i < keys.length };
  }

  /**
   * Changes to keys matching `filter` after revision `after`, in revision order: at most
   * `max` entries / about `maxBytes`; waits up to `waitMs` for the first. `scanned` is
   * the highest revision looked at (resume from there even when nothing matched).
   */
  async changes(filter: string, after: number, max: number, maxBytes: number, waitMs: number, signal: AbortSignal): Promise<{ entries: WireKvEntry[]; scanned: number }> {
    // A tombstone this watcher has not seen may be gone: say so rather than skip the delete.
    this.purged.check(after);
    const until = Date.now() + waitMs;
    let from = after + 1;
    // Bounded by `until`: every pass either returns or waits for an append / the deadline.
    for (;;) {
      const last = this.log.lastSeq;
      const entries: WireKvEntry[] = [];
      let bytes = 0;
      let scanned = Math.max(after, from - 1);
      while (from <= last && entries.length < max && bytes < maxBytes) {
        let recs: StoredRecord[];
        try {
          recs = await this.log.readRange(from, { toSeq: last, maxRecords: max, maxBytes });
        } catch (err) {
          // Never served, never a reason to stall every watcher: report it and go past.
          const toSeq = corruptUpTo(err);
          if (toSeq === undefined) throw err;
          this.onError(err);
          scanned = Math.max(scanned, from, Math.min(toSeq, last));
          from = scanned + 1;
          continue;
        }
        if (recs.length === 0) {
          scanned = last;
          break;
        }
        for (const r of recs) {
          scanned = r.seq;
          if (!subjectMatches(filter, r.subject)) continue;
          const e = toEntry(r);
          entries.push(e);
          bytes += (e.value?.length ?? 0) + 128;
          if (entries.length >= max || bytes >= maxBytes) break;
        }
        from = scanned + 1;
      }
      if (from > last) scanned = Math.max(scanned, last);
      if (entries.length > 0 || this.closed || signal.aborted || Date.now() >= until) return { entries, scanned };
      from = scanned + 1;
      await this.waitForAppend(last, until - Date.now(), signal);
    }
  }

  private waitForAppend(seen: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.log.lastSeq > seen || ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private async readEntry(revision: number): Promise<WireKvEntry | undefined> {
    const cached = this.cache.get(revision);
    if (cached) return cached;
    const r = await this.log.read(revision);
    if (!r) return undefined;
    const e = toEntry(r);
    this.cache.set(e);
    return e;
  }

  /** Counts for `INFO`. */
  info(): { config: KvBucketConfig; state: { keys: number; revision: number; records: number; bytes: number } } {
    const now = Date.now();
    let keys = 0;
    for (const k of this.keys.keys()) if (this.live(k, now)) keys++;
    const s = this.log.stats();
    return { config: this.config, state: { keys, revision: s.lastSeq, records: s.records, bytes: s.storedBytes } };
  }

  // ---- TTL and compaction ------------------------------------------------------------

  private scheduleSweep(inMs: number): void {
    if (this.closed) return;
    const ms = Math.max(0, Math.min(inMs, SWEEP_MAX_MS));
    if (this.sweepTimer !== undefined) return; // the running timer fires within SWEEP_MAX_MS anyway
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep().catch((err: unknown) => {
        // A tombstone could not be written (disk full?): expired keys still read as
        // absent; try again later.
        this.onError(err);
        this.scheduleSweep(SWEEP_MAX_MS);
      });
    }, ms);
    this.sweepTimer.unref();
  }

  /** Write an `expire` tombstone for every key whose TTL ran out (watchers see it). */
  private async sweep(): Promise<void> {
    const now = Date.now();
    const due: string[] = [];
    let next = Infinity;
    for (const [key, st] of this.keys) {
      if (st.op !== 'put' || st.expiresAt === undefined) continue;
      if (st.expiresAt <= now) due.push(key);
      else next = Math.min(next, st.expiresAt);
    }
    // One batch: the queue re-checks each key (a write may have renewed it meanwhile).
    if (due.length > 0 && !this.closed) await Promise.all(due.map((key) => this.writes.write({ key, value: undefined, mode: 'expire' })));
    if (next !== Infinity) this.scheduleSweep(next - Date.now());
  }

  private maybeCompact(): void {
    if (this.compacting || this.closed) return;
    const records = this.log.stats().records;
    if (records - this.liveRevisions < Math.max(COMPACT_DEAD_RECORDS, this.liveRevisions)) return;
    this.compact();
  }

  /**
   * Arm the tombstone timer for `at` (epoch ms; by default: find the earliest due
   * tombstone). When it fires, due tombstones are forgotten and the log compacted.
   */
  private scheduleTombstones(at?: number): void {
    if (this.closed) return;
    if (at === undefined) {
      at = Infinity;
      for (const st of this.keys.values()) at = Math.min(at, forgetAt(st, this.config.tombstoneTtlMs) ?? Infinity);
      if (at === Infinity) return;
    }
    if (at >= this.tombstoneAt) return;
    if (this.tombstoneTimer !== undefined) clearTimeout(this.tombstoneTimer);
    this.tombstoneAt = at;
    this.tombstoneTimer = setTimeout(() => {
      this.tombstoneTimer = undefined;
      this.tombstoneAt = Infinity;
      if (this.compacting) this.scheduleTombstones(Date.now() + PURGE_COMPACT_DELAY_MS);
      else if (this.tombstonesDue(Date.now())) this.compact();
      else this.scheduleTombstones(); // rewritten meanwhile: nothing to forget yet
    }, Math.max(0, Math.min(at - Date.now(), TOMBSTONE_CHECK_MAX_MS)));
    this.tombstoneTimer.unref();
  }

  private tombstonesDue(now: number): boolean {
    for (const st of this.keys.values()) if ((forgetAt(st, this.config.tombstoneTtlMs) ?? Infinity) <= now) return true;
    return false;
  }

  /**
   * Forget due tombstones (purge markers, and deletes older than `tombstoneTtlMs`) with
   * their keys' history, then compact: keep exactly what the index keeps — the newest
   * `history` revisions of every other key — and anything appended after this point.
   */
  private compact(): void {
    if (this.compacting || this.closed) return;
    this.compacting = true;
    const now = Date.now();
    let through = 0;
    for (const [key, st] of this.keys) {
      const at = forgetAt(st, this.config.tombstoneTtlMs);
      if (at === undefined || at > now) continue;
      this.keys.delete(key);
      this.liveRevisions -= st.revisions.length;
      through = Math.max(through, st.revision);
    }
    const last = this.log.lastSeq;
    const kept = new Set<number>();
    for (const st of this.keys.values()) for (const r of st.revisions) kept.add(r);
    this.purged
      .raise(through)
      .then(() => this.log.compact((r) => r.seq > last || kept.has(r.seq)))
      .catch((err: unknown) => {
        if (!this.closed) this.onError(err);
      })
      .finally(() => {
        this.compacting = false;
        this.scheduleTombstones();
      });
  }

  /** Stop timers, wake waiters, wait for writes, close the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
    if (this.tombstoneTimer !== undefined) clearTimeout(this.tombstoneTimer);
    this.wake();
    await this.writes.idle();
    await this.log.close();
  }
}

/** The last sequence of the corrupt range `err` reports (PLEXUS_ERR_STORE_CORRUPT), if it is one. */
function corruptUpTo(err: unknown): number | undefined {
  if (!(err instanceof PlexusError) || err.code !== ErrorCode.STORE_CORRUPT) return undefined;
  const toSeq = (err.details as { toSeq?: unknown } | undefined)?.toSeq;
  return typeof toSeq === 'number' ? toSeq : undefined;
}

/** The wire form of a stored record. */
export function toEntry(r: StoredRecord): WireKvEntry {
  const h = decodeHeaders(r.headers) ?? {};
  const op = (h[KV_HEADERS.op] ?? 'put') as KvRecordOp;
  const created = Number(h[KV_HEADERS.created] ?? r.timestamp);
  const base = { key: r.subject, revision: r.seq, op, createdAt: created, updatedAt: r.timestamp };
  if (op !== 'put') return base;
  const value = Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).toString('base64');
  const exp = h[KV_HEADERS.expires];
  return exp !== undefined ? { ...base, value, expiresAt: Number(exp) } : { ...base, value };
}
