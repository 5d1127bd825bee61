/**
 * Log options, their defaults, and resolving them once (with range checks) into
 * {@link ResolvedLogOptions}.
 */
import { ErrorCode, plexusError } from '../errors/index.js';
import { nodeStoreFs, type StoreFs } from './fs.js';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './format.js';

/** Durability of acknowledged appends. */
export type FsyncPolicy = 'always' | { readonly intervalMs: number };

/** Options for `openLog`. */
export interface LogOptions {
  /**
   * Roll to a new segment file when the next record would take the active one past this
   * size. A record larger than this gets a segment of its own. 256 B – 1 GiB.
   * @default 67108864 (64 MiB)
   */
  readonly segmentBytes?: number;
  /**
   * `'always'`: an append resolves only after its bytes are fsynced; appends that arrive
   * while an fsync runs are written together and acknowledged by the next single fsync
   * (group commit). `{ intervalMs }`: an append resolves once its bytes are written to the
   * operating system and data is fsynced every `intervalMs`, so a power failure (not a
   * process crash) can lose up to that window of acknowledged records.
   * @default 'always'
   */
  readonly fsync?: FsyncPolicy;
  /**
   * Largest record on disk (32-byte header + subject + headers + payload), checked on
   * append before anything is allocated and on every read before a length field is
   * trusted. Reopening a log with a smaller limit than it was written with makes the
   * larger records read as corrupt. 64 B – 1 GiB.
   * @default 8388608 (8 MiB)
   */
  readonly maxRecordBytes?: number;
  /** Bytes between sparse index entries. 64 B – 16 MiB. @default 4096 */
  readonly indexIntervalBytes?: number;
  /**
   * Most bytes one write batch (one write, one fsync) gathers from queued appends. A
   * single record or `appendBatch` larger than this is still written, alone.
   * @default 4194304 (4 MiB)
   */
  readonly maxBatchBytes?: number;
  /**
   * What open verifies with checksums: `'last'` scans the last segment (where a crash
   * can tear a write) and checks sealed segments against their index files, finding
   * corruption inside them when it is read; `'all'` scans every segment.
   * @default 'last'
   */
  readonly verifyOnOpen?: 'last' | 'all';
  /** Retention: keep at most this many records (oldest go first). @default unlimited */
  readonly maxMessages?: number;
  /** Retention: keep at most this many bytes of records. @default unlimited */
  readonly maxBytes?: number;
  /** Retention: drop records older than this. @default unlimited */
  readonly maxAgeMs?: number;
  /**
   * How often retention limits are enforced by a timer (they are also enforced after
   * appends that exceed `maxMessages` or `maxBytes`). 0 disables the timer.
   * @default 1000
   */
  readonly retentionIntervalMs?: number;
  /**
   * Sealed segments whose sparse index is kept in memory (least recently read ones are
   * reloaded from their index files when needed). 1 – 65536.
   * @default 32
   */
  readonly cachedIndexes?: number;
  /** Create the directory and an empty log if there is none. @default true */
  readonly create?: boolean;
  /**
   * File-system layer. Only for tests that inject faults (a full disk, failing fsync);
   * leave unset in production.
   * @default the real file system
   */
  readonly fs?: StoreFs;
}

/** {@link LogOptions} with every default applied and every value checked. */
export interface ResolvedLogOptions {
  readonly segmentBytes: number;
  readonly fsync: FsyncPolicy;
  readonly maxRecordBytes: number;
  readonly indexIntervalBytes: number;
  readonly maxBatchBytes: number;
  readonly verifyOnOpen: 'last' | 'all';
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly retentionIntervalMs: number;
  readonly cachedIndexes: number;
  readonly create: boolean;
  readonly fs: StoreFs;
}

/** Defaults, in one place. */
export const LOG_DEFAULTS = {
  segmentBytes: 64 * 1024 * 1024,
  maxRecordBytes: 8 * 1024 * 1024,
  indexIntervalBytes: 4096,
  maxBatchBytes: 4 * 1024 * 1024,
  retentionIntervalMs: 1000,
  cachedIndexes: 32,
} as const;

const GiB = 1024 * 1024 * 1024;

function int(name: string, v: unknown, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw plexusError(ErrorCode.CONFIG, `log option ${name} must be an integer from ${min} to ${max}`, { details: { option: name, value: v } });
  }
  return v;
}

/** Apply defaults and check ranges; throws `PLEXUS_ERR_CONFIG`. */
export function resolveLogOptions(o: LogOptions = {}): ResolvedLogOptions {
  if (o === null || typeof o !== 'object') throw plexusError(ErrorCode.CONFIG, 'log options must be an object');
  let fsync: FsyncPolicy = 'always';
  if (o.fsync !== undefined && o.fsync !== 'always') {
    const ms = (o.fsync as { intervalMs?: unknown } | null)?.intervalMs;
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 1 || ms > 3_600_000) {
      throw plexusError(ErrorCode.CONFIG, "log option fsync must be 'always' or { intervalMs } with 1 ≤ intervalMs ≤ 3600000");
    }
    fsync = Object.freeze({ intervalMs: ms });
  }
  const verify = o.verifyOnOpen ?? 'last';
  if (verify !== 'last' && verify !== 'all') throw plexusError(ErrorCode.CONFIG, "log option verifyOnOpen must be 'last' or 'all'");
  const minRecord = RECORD_HEADER_BYTES + 32;
  return Object.freeze({
    segmentBytes: int('segmentBytes', o.segmentBytes, LOG_DEFAULTS.segmentBytes, SEGMENT_HEADER_BYTES + 232, GiB),
    fsync,
    maxRecordBytes: int('maxRecordBytes', o.maxRecordBytes, LOG_DEFAULTS.maxRecordBytes, minRecord, GiB),
    indexIntervalBytes: int('indexIntervalBytes', o.indexIntervalBytes, LOG_DEFAULTS.indexIntervalBytes, 64, 16 * 1024 * 1024),
    maxBatchBytes: int('maxBatchBytes', o.maxBatchBytes, LOG_DEFAULTS.maxBatchBytes, 1, GiB),
    verifyOnOpen: verify,
    maxMessages: int('maxMessages', o.maxMessages, Infinity, 1, Number.MAX_SAFE_INTEGER),
    maxBytes: int('maxBytes', o.maxBytes, Infinity, 1, Number.MAX_SAFE_INTEGER),
    maxAgeMs: int('maxAgeMs', o.maxAgeMs, Infinity, 1, Number.MAX_SAFE_INTEGER),
    retentionIntervalMs: int('retentionIntervalMs', o.retentionIntervalMs, LOG_DEFAULTS.retentionIntervalMs, 0, 86_400_000),
    cachedIndexes: int('cachedIndexes', o.cachedIndexes, LOG_DEFAULTS.cachedIndexes, 1, 65536),
    create: o.create ?? true,
    fs: o.fs ?? nodeStoreFs,
  });
}
