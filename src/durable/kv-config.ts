/**
 * KV buckets: the `$PLX.KV.*` subjects, bucket configuration, key and value rules and
 * the JSON shapes that cross the wire. Shared by the service (src/durable/kv-*.ts) and
 * the client (src/patterns/kv.ts). See docs/kv.md.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import { subjectProblem } from '../wire/index.js';
import type { DurableFsync } from './config.js';

/** Prefix of every KV subject: `$PLX.KV.<OP>.<bucket>`. */
export const KV_PREFIX = '$PLX.KV';
/** The operations, each the third token of its subject. */
export const KvOp = {
  CREATE_BUCKET: 'CREATE',
  INFO: 'INFO',
  DELETE_BUCKET: 'DESTROY',
  LIST: 'LIST',
  GET: 'GET',
  PUT: 'PUT',
  DEL: 'DEL',
  HISTORY: 'HISTORY',
  KEYS: 'KEYS',
  SNAPSHOT: 'SNAPSHOT',
  CHANGES: 'CHANGES',
  PURGE: 'PURGE',
} as const;
export type KvOp = (typeof KvOp)[keyof typeof KvOp];

/** The subject of `op` on `bucket` (`LIST` takes no bucket). */
export function kvSubject(op: KvOp, bucket?: string): string {
  return bucket === undefined ? `${KV_PREFIX}.${op}` : `${KV_PREFIX}.${op}.${bucket}`;
}

/** Longest key, in characters. */
export const MAX_KEY_LENGTH = 256;
/** Largest value a bucket can be configured to take (fits a base64 JSON reply under the default 1 MiB payload). */
export const MAX_VALUE_BYTES = 512 * 1024;
/** Default largest value of a bucket. */
export const DEFAULT_MAX_VALUE_BYTES = 256 * 1024;
/** Most revisions of one key a bucket keeps (`history`). */
export const MAX_HISTORY = 64;
/** Longest a CHANGES request waits for a change. */
export const MAX_CHANGES_WAIT_MS = 60_000;
/** Most entries one CHANGES or SNAPSHOT reply carries (also cut by bytes). */
export const MAX_PAGE_ENTRIES = 1000;
/** Most keys one KEYS reply lists. */
export const MAX_KEYS = 100_000;
/** Longest per-key TTL (30 days). */
export const MAX_TTL_MS = 30 * 86_400_000;

/** Header names of a KV record in the log (the subject is the key, the payload the value). */
export const KV_HEADERS = { op: 'kv-op', created: 'kv-created', expires: 'kv-expires' } as const;

/**
 * What a record did to its key. `expire` is a tombstone written when a TTL ran out;
 * `purge` drops every older revision of the key and is itself dropped at the next
 * compaction.
 */
export type KvRecordOp = 'put' | 'del' | 'expire' | 'purge';

/** Default of {@link KvBucketConfig.tombstoneTtlMs}: one hour. */
export const DEFAULT_TOMBSTONE_TTL_MS = 3_600_000;

/** `$PLX.KV.CREATE.<bucket>` payload, defaults applied. */
export interface KvBucketConfig {
  readonly name: string;
  /** Durability of every write (see docs/store.md). @default 'always' */
  readonly fsync: DurableFsync;
  /** Revisions kept per key, deletes included (1 – 64). @default 1 */
  readonly history: number;
  /** Largest value in bytes (1 – 524288). @default 262144 */
  readonly maxValueBytes: number;
  /** TTL of keys put without one, in ms; 0: keys live until deleted. @default 0 */
  readonly ttlMs: number;
  /**
   * How long a delete / expire tombstone is kept (so watchers and `history` see it)
   * before compaction removes it with the key's history; 0: at the next compaction.
   * A watcher resuming from before a removed tombstone gets PLEXUS_ERR_KV_WRONG_REVISION.
   * @default 3600000
   */
  readonly tombstoneTtlMs: number;
}

/** A key's value as the wire carries it. */
export interface WireKvEntry {
  readonly key: string;
  readonly revision: number;
  readonly op: KvRecordOp;
  /** base64; absent for deletes. */
  readonly value?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly expiresAt?: number;
}

/**
 * A write that must only happen while the caller holds a lease: a lock's, or one
 * permit of a semaphore (`kind: 'semaphore'`; `lock` then names the semaphore).
 */
export interface Fence {
  readonly lock: string;
  readonly token: number;
  /** Whose token this is. @default 'lock' */
  readonly kind?: FenceKind;
}

/** What issued a fencing token. */
export type FenceKind = 'lock' | 'semaphore';

function bad(message: string, details?: unknown): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message, details === undefined ? undefined : { details });
}

const BUCKET_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** A key token: letters, digits and `_ - = / : @ +`. */
const TOKEN_RE = /^[A-Za-z0-9_\-=/:@+]+$/;

/** Bucket names: 1–64 of `[A-Za-z0-9_-]`. */
export function checkBucketName(v: unknown): string {
  if (typeof v !== 'string' || !BUCKET_RE.test(v)) throw bad('bucket name must be 1-64 of [A-Za-z0-9_-]', { bucket: v });
  return v;
}

/** Why `key` is not a valid key, or undefined. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'key must be a string';
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) return `key must be 1-${MAX_KEY_LENGTH} characters`;
  for (const t of key.split('.')) if (!TOKEN_RE.test(t)) return 'key must be dot-separated tokens of [A-Za-z0-9_-=/:@+]';
  return undefined;
}

/** A valid key (subject-safe tokens, no wildcards), or INVALID_ARGUMENT. */
export function checkKey(key: unknown): string {
  const p = keyProblem(key);
  if (p) throw bad(p, { key });
  return key as string;
}

/** A key filter: a key, or a pattern with `*` / `>` tokens (`sessions.>`); `>` alone is every key. */
export function checkFilter(filter: unknown): string {
  if (filter === undefined || filter === null || filter === '') return '>';
  if (typeof filter !== 'string' || filter.length > MAX_KEY_LENGTH) throw bad(`filter must be a key or pattern of at most ${MAX_KEY_LENGTH} characters`);
  const p = subjectProblem(filter, true);
  if (p) throw bad(`filter: ${p}`, { filter });
  for (const t of filter.split('.')) if (t !== '*' && t !== '>' && !TOKEN_RE.test(t)) throw bad('filter tokens must be key tokens, * or >', { filter });
  return filter;
}

function int(o: Record<string, unknown>, key: string, min: number, max: number, def: number): number {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${key} must be an integer from ${min} to ${max}`, { [key]: v });
  return v;
}

/** Validate and default a bucket config. */
export function parseBucketConfig(v: unknown): KvBucketConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('bucket config must be a JSON object');
  const o = v as Record<string, unknown>;
  let fsync: DurableFsync = 'always';
  if (o.fsync !== undefined && o.fsync !== 'always') {
    const f = o.fsync as Record<string, unknown> | null;
    if (typeof f !== 'object' || f === null) throw bad("fsync must be 'always' or { intervalMs }");
    fsync = { intervalMs: int(f, 'intervalMs', 1, 3_600_000, 0) };
    if (fsync.intervalMs === 0) throw bad("fsync must be 'always' or { intervalMs }");
  }
  return {
    name: checkBucketName(o.name),
    fsync,
    history: int(o, 'history', 1, MAX_HISTORY, 1),
    maxValueBytes: int(o, 'maxValueBytes', 1, MAX_VALUE_BYTES, DEFAULT_MAX_VALUE_BYTES),
    ttlMs: int(o, 'ttlMs', 0, MAX_TTL_MS, 0),
    tombstoneTtlMs: int(o, 'tombstoneTtlMs', 0, MAX_TTL_MS, DEFAULT_TOMBSTONE_TTL_MS),
  };
}

/**
 * Does `existing` satisfy what a create asked for? Only the fields the request named
 * are compared, so `kv(bus, 'sessions')` with no options opens any existing bucket.
 */
export function bucketSatisfies(existing: KvBucketConfig, requested: Record<string, unknown>): boolean {
  const want = parseBucketConfig({ ...existing, ...requested });
  return JSON.stringify(want) === JSON.stringify(existing);
}

/** Optional fence `{ lock, token, kind? }` of a write request. */
export function parseFence(v: unknown): Fence | undefined {
  if (v === undefined || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof v !== 'object' || typeof o.lock !== 'string' || typeof o.token !== 'number' || !Number.isSafeInteger(o.token) || o.token < 1) {
    throw bad('fence must be { lock: string, token: positive integer }');
  }
  if (o.kind !== undefined && o.kind !== 'lock' && o.kind !== 'semaphore') throw bad("fence kind must be 'lock' or 'semaphore'");
  return o.kind === 'semaphore' ? { lock: o.lock, token: o.token, kind: 'semaphore' } : { lock: o.lock, token: o.token };
}
