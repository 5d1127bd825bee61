/**
 * KV buckets served by the durable service (docs/kv.md): get / put / create / update
 * (compare-and-set on the revision) / delete, TTL per key, history, key listing and
 * `watch` as an async iterator that resumes from its last revision.
 *
 * A free function over the connection (the client layer must not import patterns), so
 * the design's `bus.kv('sessions')` is spelled `kv(bus, 'sessions')`.
 *
 * ```ts
 * const sessions = kv(bus, 'sessions', { ttlMs: 30 * 60_000 });
 * const rev = await sessions.put('user.42', JSON.stringify(session));
 * const e = await sessions.get('user.42');                 // { value, revision, createdAt, updatedAt }
 * await sessions.update('user.42', JSON.stringify(next), e!.revision);   // KV_WRONG_REVISION if someone won
 * for await (const c of sessions.watch('user.>', { signal })) console.log(c.op, c.key, c.revision);
 * ```
 */
import type { Bus, Payload } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import {
  KvOp,
  MAX_CHANGES_WAIT_MS,
  checkBucketName,
  checkFilter,
  checkKey,
  kvSubject,
  type Fence,
  type KvBucketConfig,
  type KvRecordOp,
  type WireKvEntry,
} from '../durable/kv-config.js';
import { retryable, sleep } from './lock-lease.js';
import { patternTarget } from './provider.js';

/** Options of {@link kv}: the bucket's configuration when this call creates it, and client settings. */
export interface KvOptions {
  /** Create the bucket if it does not exist. @default true */
  readonly create?: boolean;
  /** Durability of writes. @default 'always' */
  readonly fsync?: KvBucketConfig['fsync'];
  /** Revisions kept per key for `history()`. 1 – 64. @default 1 */
  readonly history?: number;
  /** Largest value. ≤ 512 KiB. @default 256 KiB */
  readonly maxValueBytes?: number;
  /** TTL of keys put without one; 0: none. @default 0 */
  readonly ttlMs?: number;
  /** How long delete tombstones are kept before compaction removes them (docs/kv.md); 0: at the next compaction. @default 3600000 */
  readonly tombstoneTtlMs?: number;
  /** Timeout of each call. @default 5000 */
  readonly timeoutMs?: number;
}

/** A key's value. */
export interface KvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** The bucket-wide revision of this write (monotonic per bucket). */
  readonly revision: number;
  /** When the key was created (its first put after being absent). */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When the key expires, if it has a TTL. */
  readonly expiresAt?: number;
  string(): string;
  json<T = unknown>(): T;
}

/** One change seen by `watch` or `history`. */
export interface KvChange extends KvEntry {
  /** `put`, `del` (deleted), `expire` (its TTL ran out) or `purge` (history dropped). `value` is empty but for `put`. */
  readonly op: KvRecordOp;
}

/** Options of writes. */
export interface KvWriteOptions {
  /** TTL of this key from now; 0: none. @default the bucket's ttlMs */
  readonly ttlMs?: number;
  /** Refuse the write (PLEXUS_ERR_FENCE_STALE) unless this lock token's lease is live (see `lock`). */
  readonly fence?: Fence;
  readonly timeoutMs?: number;
}

/** Options of `delete`. */
export interface KvDeleteOptions {
  /** Delete only if the key is at this revision (PLEXUS_ERR_KV_WRONG_REVISION otherwise). */
  readonly revision?: number;
  readonly fence?: Fence;
  readonly timeoutMs?: number;
}

/** Options of `watch`. */
export interface KvWatchOptions {
  /** Ends the iteration (without an error). */
  readonly signal?: AbortSignal;
  /** Yield the current values first (as `put` changes). @default true unless `afterRevision` is set */
  readonly includeCurrent?: boolean;
  /** Resume: yield every change after this revision (e.g. the last one a previous watcher saw). */
  readonly afterRevision?: number;
}

/** A KV bucket handle. */
export interface KvBucket {
  readonly name: string;
  get(key: string, options?: { revision?: number }): Promise<KvEntry | undefined>;
  /** Write the value; resolves with the new revision once durable. */
  put(key: string, value: Payload, options?: KvWriteOptions): Promise<number>;
  /** Write only if the key is absent (PLEXUS_ERR_KV_KEY_EXISTS otherwise). */
  create(key: string, value: Payload, options?: KvWriteOptions): Promise<number>;
  /** Write only if the key is at `revision` (PLEXUS_ERR_KV_WRONG_REVISION otherwise). */
  update(key: string, value: Payload, revision: number, options?: KvWriteOptions): Promise<number>;
  /** Delete (writes a tombstone watchers see). `deleted` false when it was absent. */
  delete(key: string, options?: KvDeleteOptions): Promise<{ revision: number; deleted: boolean }>;
  /**
   * Drop every revision of `key` (history included), leaving a `purge` marker that
   * watchers see and the next compaction removes. `purged` false when the key was never written.
   */
  purge(key: string, options?: KvWriteOptions): Promise<{ revision: number; purged: boolean }>;
  /** Kept revisions of `key`, oldest first, deletes included. */
  history(key: string): Promise<KvChange[]>;
  /** Live keys matching `filter` (a key or a pattern like `user.>`), sorted. */
  keys(filter?: string): Promise<string[]>;
  /** Changes to keys matching `keyOrPattern`, as an async iterator (see {@link KvWatchOptions}). */
  watch(keyOrPattern?: string, options?: KvWatchOptions): AsyncIterable<KvChange>;
  info(): Promise<{ config: KvBucketConfig; state: { keys: number; revision: number; records: number; bytes: number } }>;
  /** Delete the bucket and all its data. */
  destroy(): Promise<void>;
}

const decoder = new TextDecoder();

function toBase64(v: Payload): string {
  return typeof v === 'string' ? Buffer.from(v, 'utf8').toString('base64') : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function toChange(w: WireKvEntry): KvChange {
  const value = w.value !== undefined ? new Uint8Array(Buffer.from(w.value, 'base64')) : new Uint8Array(0);
  return {
    key: w.key,
    op: w.op,
    value,
    revision: w.revision,
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
    ...(w.expiresAt !== undefined ? { expiresAt: w.expiresAt } : {}),
    string: () => decoder.decode(value),
    json: <T>() => JSON.parse(decoder.decode(value)) as T,
  };
}

/** How long a watch asks the service to hold each CHANGES request. */
const WATCH_HOLD_MS = 25_000;

/** The bucket `name` through `bus` (a durable service must be running on the broker). */
export function kv(on: Bus, name: string, options: KvOptions = {}): KvBucket {
  checkBucketName(name);
  const target = patternTarget(on, 'kv');
  if (target.kind === 'backend') return target.impl(name, options);
  const bus = target.conn;
  const timeout = options.timeoutMs ?? 5000;
  const requested: Record<string, unknown> = {};
  for (const k of ['fsync', 'history', 'maxValueBytes', 'ttlMs', 'tombstoneTtlMs'] as const) if (options[k] !== undefined) requested[k] = options[k];
  let ready: Promise<void> | undefined;
  const ensure = (): Promise<void> => {
    if (options.create === false) return Promise.resolve();
    ready ??= raw(KvOp.CREATE_BUCKET, requested, timeout).then(
      () => undefined,
      (err: unknown) => {
        ready = undefined; // try again on the next call
        throw err;
      },
    );
    return ready;
  };
  async function raw<T>(op: KvOp, body: unknown, ms: number, signal?: AbortSignal): Promise<T> {
    const reply = await bus.request(kvSubject(op, name), JSON.stringify(body), { timeout: ms, ...(signal ? { signal } : {}) });
    return reply.json<T>();
  }
  async function call<T>(op: KvOp, body: unknown, ms = timeout, signal?: AbortSignal): Promise<T> {
    await ensure();
    return raw<T>(op, body, ms, signal);
  }
  const write = async (key: string, value: Payload, mode: 'put' | 'create' | 'update', revision: number | undefined, o: KvWriteOptions): Promise<number> => {
    checkKey(key);
    const body = { key, value: toBase64(value), mode, revision, ttlMs: o.ttlMs, fence: o.fence };
    return (await call<{ revision: number }>(KvOp.PUT, body, o.timeoutMs ?? timeout)).revision;
  };

  async function* watch(filter: string, o: KvWatchOptions): AsyncGenerator<KvChange, void, undefined> {
    const signal = o.signal;
    /** Revisions already yielded per key by the snapshot: older changes are skipped. */
    const seen = new Map<string, number>();
    let after: number;
    if (o.afterRevision !== undefined) after = o.afterRevision;
    else if (o.includeCurrent === false) after = (await call<{ state: { revision: number } }>(KvOp.INFO, {})).state.revision;
    else {
      let afterKey = '';
      let first: number | undefined;
      // Bounded: each page moves afterKey forward; `more` ends when the keys run out.
      for (;;) {
        if (signal?.aborted) return;
        const page = await call<{ revision: number; entries: WireKvEntry[]; more: boolean }>(KvOp.SNAPSHOT, { filter, afterKey });
        first ??= page.revision;
        for (const e of page.entries) {
          seen.set(e.key, e.revision);
          yield toChange(e);
          afterKey = e.key;
        }
        if (!page.more || page.entries.length === 0) break;
      }
      after = first;
    }
    let attempt = 0;
    while (!signal?.aborted) {
      let r: { entries: WireKvEntry[]; scanned: number };
      try {
        r = await call(KvOp.CHANGES, { filter, after, waitMs: Math.min(WATCH_HOLD_MS, MAX_CHANGES_WAIT_MS) }, WATCH_HOLD_MS + timeout, signal);
        attempt = 0;
      } catch (err) {
        if (signal?.aborted) return;
        if (!retryable(err)) throw err;
        // The service restarted or the connection dropped: resume from `after`.
        try {
          await sleep(Math.min(50 * 2 ** Math.min(attempt++, 6), 2000), signal);
        } catch {
          return;
        }
        continue;
      }
      for (const e of r.entries) {
        after = e.revision;
        const s = seen.get(e.key);
        if (s !== undefined && e.revision <= s) continue;
        yield toChange(e);
      }
      after = Math.max(after, r.scanned);
    }
  }

  return {
    name,
    async get(key, o = {}) {
      checkKey(key);
      const r = await call<{ entry: WireKvEntry | null }>(KvOp.GET, { key, revision: o.revision });
      return r.entry && r.entry.op === 'put' ? toChange(r.entry) : undefined;
    },
    put: (key, value, o = {}) => write(key, value, 'put', undefined, o),
    create: (key, value, o = {}) => write(key, value, 'create', undefined, o),
    update(key, value, revision, o = {}) {
      if (!Number.isSafeInteger(revision) || revision < 0) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'revision must be a non-negative integer');
      return write(key, value, 'update', revision, o);
    },
    async delete(key, o = {}) {
      checkKey(key);
      const r = await call<{ revision: number; deleted?: boolean }>(KvOp.DEL, { key, revision: o.revision, fence: o.fence }, o.timeoutMs ?? timeout);
      return { revision: r.revision, deleted: r.deleted !== false };
    },
    async purge(key, o = {}) {
      checkKey(key);
      const r = await call<{ revision: number; deleted?: boolean }>(KvOp.PURGE, { key, fence: o.fence }, o.timeoutMs ?? timeout);
      return { revision: r.revision, purged: r.deleted !== false };
    },
    async history(key) {
      checkKey(key);
      return (await call<{ entries: WireKvEntry[] }>(KvOp.HISTORY, { key })).entries.map(toChange);
    },
    async keys(filter) {
      return (await call<{ keys: string[] }>(KvOp.KEYS, { filter: checkFilter(filter) })).keys;
    },
    watch(keyOrPattern, o = {}) {
      return watch(checkFilter(keyOrPattern), o);
    },
    info: () => call(KvOp.INFO, {}),
    async destroy() {
      await raw(KvOp.DELETE_BUCKET, {}, timeout);
      ready = undefined;
    },
  };
}
