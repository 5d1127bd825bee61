/**
 * The durable store: an append-only segmented log with CRC32C-checked records, group
 * commit, crash recovery, retention and compaction. The stream, consumer and pattern
 * layers build on {@link Log}. The on-disk format is specified in docs/store.md.
 *
 * ```ts
 * import { openLog } from './store/index.js';
 * const log = await openLog('/var/lib/plexus/orders', { fsync: 'always' });
 * const { seq } = await log.append({ subject: 'orders.new', payload: bytes });
 * const rec = await log.read(seq);
 * for await (const r of log.tail(1, { signal })) handle(r);
 * await log.close();
 * ```
 */
export { openLog, Log, type AppendOptions, type ReadRangeOptions } from './log.js';
export { LOG_DEFAULTS, type LogOptions, type FsyncPolicy, type ResolvedLogOptions } from './options.js';
export type { AppendRecord, StoredRecord } from './format.js';
export type { AppendResult, CompactionResult, CorruptRange, LogStats, RecoveryReport, RetentionResult } from './types.js';
export type { TailOptions } from './tail.js';
export type { KeepPredicate } from './compaction.js';
export type { StoreFs } from './fs.js';
export { nodeStoreFs } from './fs.js';
export { acquireLock } from './lock.js';
export { crc32c } from './crc32c.js';
export { lastValuePredicate, compactLastValue, MAX_KEEP_PER_SUBJECT, type LastValueOptions } from './last-value.js';
