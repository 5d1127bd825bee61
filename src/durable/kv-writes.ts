/**
 * Group commit for KV writes. Writes to a bucket queue up while the previous batch is
 * being written and fsynced; the next batch is checked in order — create / update /
 * compare-and-delete / fence — against the index *plus the writes accepted earlier in
 * the same batch*, then appended with one `appendBatch` (one write, one fsync) that is
 * acknowledged or rejected as a whole. So compare-and-set stays exact (every write is
 * checked against everything ordered before it) while concurrent writers share fsyncs.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { AppendRecord, Log, StoredRecord } from '../store/index.js';
import { encodeHeaders } from '../wire/index.js';
import { KV_HEADERS, type Fence } from './kv-config.js';

/** A write request after validation. */
export interface KvWrite {
  readonly key: string;
  /** undefined: a delete. */
  readonly value: Uint8Array | undefined;
  /**
   * put: any; create: only if absent; update: only if at `revision`; del (with
   * `revision`: compare-and-delete); expire: the TTL sweep's tombstone, only if the key
   * is still expired; purge: drop the key's history (a no-op for a key never written).
   */
  readonly mode: 'put' | 'create' | 'update' | 'del' | 'expire' | 'purge';
  readonly revision?: number;
  readonly ttlMs?: number;
  readonly fence?: Fence;
}

/** What a write resolves with. */
export interface KvWriteResult {
  readonly revision: number;
  readonly deleted?: boolean;
}

/** A key as the checks see it. */
export interface KeyView {
  readonly revision: number;
  /** Present (put, not expired) at the time of the check. */
  readonly live: boolean;
  readonly createdAt: number;
  /** The TTL deadline of a live key. */
  readonly expiresAt: number | undefined;
}

/** What the queue needs from its bucket. */
export interface KvWriteHost {
  readonly log: Log;
  /** The indexed state of `key` (undefined: never written). */
  view(key: string, now: number): KeyView | undefined;
  /** Throws PLEXUS_ERR_FENCE_STALE unless the fence's lease is live. */
  fenceCheck(fence: Fence): void;
  /** Bucket default TTL (0: none). */
  readonly defaultTtlMs: number;
  /** The batch is durable: fold these records into the index, in order. */
  committed(records: readonly StoredRecord[]): void;
}

interface Queued {
  readonly w: KvWrite;
  readonly resolve: (r: KvWriteResult) => void;
  readonly reject: (err: unknown) => void;
}

/** Most writes in one batch. */
const MAX_BATCH_WRITES = 512;
/** Most value bytes in one batch (a single larger value still goes alone). */
const MAX_BATCH_BYTES = 2 * 1024 * 1024;

export class KvWriteQueue {
  private readonly queue: Queued[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly host: KvWriteHost) {}

  /** Queue a write; resolves once it is durable (or rejects with why it was refused). */
  write(w: KvWrite): Promise<KvWriteResult> {
    return new Promise<KvWriteResult>((resolve, reject) => {
      this.queue.push({ w, resolve, reject });
      this.running ??= this.drain().finally(() => (this.running = undefined));
    });
  }

  /** Resolves when every queued write has been committed or refused. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    // Bounded: every pass takes at least one write off the queue.
    while (this.queue.length > 0) {
      let bytes = 0;
      let n = 0;
      while (n < this.queue.length && n < MAX_BATCH_WRITES) {
        const size = this.queue[n]!.w.value?.length ?? 0;
        if (n > 0 && bytes + size > MAX_BATCH_BYTES) break;
        bytes += size;
        n++;
      }
      await this.commit(this.queue.splice(0, n));
    }
  }

  private async commit(batch: Queued[]): Promise<void> {
    const now = Date.now();
    const overlay = new Map<string, KeyView>();
    const view = (key: string): KeyView | undefined => overlay.get(key) ?? this.host.view(key, now);
    const accepted: Queued[] = [];
    const records: AppendRecord[] = [];
    const nextSeq = this.host.log.lastSeq + 1;
    for (const q of batch) {
      try {
        const rec = this.check(q.w, view(q.w.key), now);
        if (rec === undefined) {
          q.resolve({ revision: view(q.w.key)?.revision ?? 0, deleted: false });
          continue;
        }
        const revision = nextSeq + records.length; // appendBatch numbers consecutively
        records.push(rec.record);
        accepted.push(q);
        overlay.set(q.w.key, { revision, live: rec.live, createdAt: rec.createdAt, expiresAt: rec.expiresAt });
      } catch (err) {
        q.reject(err);
      }
    }
    if (records.length === 0) return;
    let results;
    try {
      results = await this.host.log.appendBatch(records);
    } catch (err) {
      for (const q of accepted) q.reject(err);
      return;
    }
    this.host.committed(
      results.map((r, i): StoredRecord => {
        const rec = records[i]!;
        return { seq: r.seq, timestamp: r.timestamp, subject: rec.subject, headers: rec.headers, payload: rec.payload ?? new Uint8Array(0), size: 0 };
      }),
    );
    for (let i = 0; i < accepted.length; i++) {
      const mode = accepted[i]!.w.mode;
      const del = mode === 'del' || mode === 'expire' || mode === 'purge';
      accepted[i]!.resolve(del ? { revision: results[i]!.seq, deleted: true } : { revision: results[i]!.seq });
    }
  }

  /**
   * Check one write against the key's state (index plus this batch). Returns the record
   * to append, undefined for a no-op (deleting an absent key), or throws the refusal.
   */
  private check(
    w: KvWrite,
    cur: KeyView | undefined,
    now: number,
  ): { record: AppendRecord; live: boolean; createdAt: number; expiresAt: number | undefined } | undefined {
    const live = cur?.live === true;
    const actual = live ? cur.revision : 0;
    if (w.mode === 'expire') {
      // Only if it is still the same expired put (not rewritten meanwhile).
      if (!cur || cur.live || cur.expiresAt === undefined || cur.expiresAt > now) return undefined;
      return { record: tombstone(w.key, 'expire'), live: false, createdAt: cur.createdAt, expiresAt: undefined };
    }
    if (w.mode === 'create' && live) {
      throw new PlexusError(ErrorCode.KV_KEY_EXISTS, `key ${w.key} exists`, { details: { key: w.key, revision: actual } });
    }
    if ((w.mode === 'update' || (w.mode === 'del' && w.revision !== undefined)) && actual !== w.revision) {
      throw new PlexusError(ErrorCode.KV_WRONG_REVISION, `key ${w.key} is at revision ${actual}, not ${w.revision}`, {
        details: { key: w.key, expected: w.revision, actual },
      });
    }
    if (w.mode === 'del' && !live) return undefined;
    if (w.mode === 'purge' && !cur) return undefined;
    // Checked last and synchronously with the append order: no grant can come between.
    if (w.fence) this.host.fenceCheck(w.fence);
    if (w.mode === 'purge') return { record: tombstone(w.key, 'purge'), live: false, createdAt: cur?.createdAt ?? now, expiresAt: undefined };
    if (w.mode === 'del') return { record: tombstone(w.key, 'del'), live: false, createdAt: cur?.createdAt ?? now, expiresAt: undefined };
    const createdAt = live ? cur.createdAt : now;
    const headers: Record<string, string> = { [KV_HEADERS.op]: 'put', [KV_HEADERS.created]: String(createdAt) };
    const ttl = w.ttlMs ?? this.host.defaultTtlMs;
    const expiresAt = ttl > 0 ? now + ttl : undefined;
    if (expiresAt !== undefined) headers[KV_HEADERS.expires] = String(expiresAt);
    return { record: { subject: w.key, headers: encodeHeaders(headers), payload: w.value ?? new Uint8Array(0) }, live: true, createdAt, expiresAt };
  }
}

function tombstone(key: string, op: 'del' | 'expire' | 'purge'): AppendRecord {
  return { subject: key, headers: encodeHeaders({ [KV_HEADERS.op]: op }), payload: new Uint8Array(0) };
}
