/**
 * The durable log: `openLog(dir, options)` and the {@link Log} API the stream,
 * consumer and pattern layers build on. See docs/store.md for the on-disk format,
 * the durability modes and the recovery rules.
 */
import { join, resolve } from 'node:path';
import { ErrorCode, PlexusError, plexusError } from '../errors/index.js';
import { compactSealed, type KeepPredicate } from './compaction.js';
import { encodeMeta, encodeRecord, FileNames, type AppendRecord, type StoredRecord } from './format.js';
import { writeFileAtomic } from './fs.js';
import { IndexCache } from './index-cache.js';
import { acquireLock } from './lock.js';
import { resolveLogOptions, type LogOptions, type ResolvedLogOptions } from './options.js';
import { readRecords } from './reads.js';
import { recover } from './recovery.js';
import { limitsMarker, retainedBytes, retainedRecords, type HeadCut, type RetentionState } from './retention.js';
import type { Segment, SegmentContext } from './segment.js';
import type { SegmentSet } from './segments.js';
import { tailRecords, type TailOptions, type TailSource } from './tail.js';
import type { AppendResult, CompactionResult, CorruptRange, LogStats, RecoveryReport, RetentionResult } from './types.js';
import { ioError, writeFailed } from './errors.js';
import { Writer, type WriterHost } from './writer.js';

/** Options for one append. */
export interface AppendOptions {
  /** Withdraws the append if it is still queued (not yet being written) when aborted. */
  readonly signal?: AbortSignal;
}

/** Limits for {@link Log.readRange}. */
export interface ReadRangeOptions {
  /** Most records returned. @default 1000 */
  readonly maxRecords?: number;
  /** Most bytes of records returned; the first record is returned even if larger. @default 1 MiB */
  readonly maxBytes?: number;
  /** Highest sequence returned. @default lastSeq */
  readonly toSeq?: number;
}

function seqArg(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw plexusError(ErrorCode.INVALID_ARGUMENT, `${name} must be a non-negative safe integer`, { details: { [name]: v } });
  }
  return v;
}

function countArg(name: string, v: unknown, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !(v >= 1) || (v !== Infinity && !Number.isSafeInteger(v))) {
    throw plexusError(ErrorCode.INVALID_ARGUMENT, `${name} must be a positive integer`, { details: { [name]: v } });
  }
  return v;
}

function closedError(): PlexusError {
  return plexusError(ErrorCode.STORE_CLOSED, 'the log is closed');
}

/**
 * Open (or create) the log in `dir`, recovering from whatever state a crash left: a torn
 * last record is truncated, corruption is reported in {@link Log.recovery}, missing or
 * stale index files are rebuilt. One process at a time may hold a log directory.
 */
export async function openLog(dir: string, options: LogOptions = {}): Promise<Log> {
  const opts = resolveLogOptions(options);
  const abs = resolve(dir);
  const fs = opts.fs;
  let release: () => Promise<void>;
  try {
    if (opts.create) await fs.mkdir(abs);
    release = await acquireLock(fs, abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw plexusError(ErrorCode.CONFIG, 'no log directory there (and create is false)', { cause: err });
    }
    throw ioError(err, 'opening the log');
  }
  try {
    const ctx: SegmentContext = {
      fs,
      dir: abs,
      maxRecordBytes: opts.maxRecordBytes,
      indexIntervalBytes: opts.indexIntervalBytes,
      indexCache: new IndexCache(opts.cachedIndexes),
    };
    const rec = await recover(ctx, opts.verifyOnOpen === 'all', opts.create);
    const report: RecoveryReport = Object.freeze({
      truncatedBytes: rec.truncatedBytes,
      corruptRanges: Object.freeze(rec.corruptRanges.slice()),
      indexesRebuilt: Object.freeze(rec.indexesRebuilt.slice()),
      removedTempFiles: Object.freeze(rec.removedTempFiles.slice()),
      segments: rec.segments.list.length,
      verified: opts.verifyOnOpen,
      created: rec.created,
    });
    const log = new Log(abs, opts, rec.segments, rec.marker, report, release);
    try {
      await log.start();
    } catch (err) {
      await log.close().catch(() => undefined);
      throw err;
    }
    return log;
  } catch (err) {
    await release();
    throw ioError(err, 'opening the log');
  }
}

/**
 * An append-only segmented log of records with sequence numbers from 1. Appends are
 * acknowledged per the `fsync` option; reads see exactly the acknowledged records.
 * Create one with {@link openLog}.
 */
export class Log {
  /** What opening found and repaired. */
  readonly recovery: RecoveryReport;
  private readonly writer: Writer;
  private readonly host: WriterHost;
  private marker: number;
  /** The marker as last written to the meta file. */
  private savedMarker: number;
  private headCut: HeadCut | undefined;
  private ending = false;
  private closePromise: Promise<void> | undefined;
  private reads = 0;
  private readsIdle: (() => void) | undefined;
  private readonly waiters = new Set<() => void>();
  private retentionTimer: ReturnType<typeof setInterval> | undefined;
  private retentionQueued = false;
  private compaction: Promise<unknown> = Promise.resolve();
  private readonly hasLimits: boolean;

  /** @internal Use {@link openLog}. */
  constructor(
    /** Absolute path of the log directory. */
    readonly dir: string,
    private readonly opts: ResolvedLogOptions,
    private readonly segments: SegmentSet,
    marker: number,
    recovery: RecoveryReport,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.recovery = recovery;
    this.marker = marker;
    this.savedMarker = marker;
    const active = segments.active;
    let lastTs = 0;
    for (const s of segments.list) if (s.lastTimestamp !== undefined) lastTs = Math.max(lastTs, s.lastTimestamp);
    const nextSeq = Math.max(active.lastSeq !== undefined ? active.lastSeq + 1 : active.base, marker);
    this.host = { opts, segments, nextSeq, lastTimestamp: lastTs, committed: () => this.onCommit() };
    this.writer = new Writer(this.host);
    this.hasLimits = opts.maxMessages !== Infinity || opts.maxBytes !== Infinity || opts.maxAgeMs !== Infinity;
  }

  /** @internal Apply the persisted marker and the retention limits; start the timer. */
  async start(): Promise<void> {
    await this.writer.exclusive(() => this.applyMarker(this.marker));
    if (this.hasLimits) {
      await this.enforceRetention();
      if (this.opts.retentionIntervalMs > 0) {
        this.retentionTimer = setInterval(() => this.scheduleRetention(), this.opts.retentionIntervalMs);
        this.retentionTimer.unref();
      }
    }
  }

  /** Lowest sequence that may be read (records below it were removed). `lastSeq + 1` when empty. */
  get firstSeq(): number {
    const next = this.host.nextSeq;
    let low = next;
    for (const s of this.segments.list) {
      const l = s.lowSeq;
      if (l !== undefined) {
        low = l;
        break;
      }
    }
    return Math.min(Math.max(this.marker, low), next);
  }

  /** Highest acknowledged sequence (0 before the first append). */
  get lastSeq(): number {
    return this.host.nextSeq - 1;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.ending;
  }

  /**
   * Append one record. Resolves with its sequence and timestamp once it is acknowledged:
   * written to the operating system and, with `fsync: 'always'`, fsynced. Rejects with
   * `PLEXUS_ERR_STORE_WRITE_FAILED` (nothing of it kept) if writing fails.
   */
  async append(record: AppendRecord, options: AppendOptions = {}): Promise<AppendResult> {
    const results = await this.appendBatch([record], options);
    return results[0]!;
  }

  /**
   * Append records as one unit: consecutive sequences, one write, acknowledged or
   * rejected together. (After a power failure a prefix of an unacknowledged batch may
   * survive.) The batch's encoded size may not exceed `max(maxBatchBytes, maxRecordBytes)`.
   */
  async appendBatch(records: readonly AppendRecord[], options: AppendOptions = {}): Promise<AppendResult[]> {
    if (this.ending) throw closedError();
    if (!Array.isArray(records)) throw plexusError(ErrorCode.INVALID_ARGUMENT, 'appendBatch takes an array of records');
    const signal = options.signal;
    if (signal?.aborted) throw signal.reason;
    if (records.length === 0) return [];
    const limit = Math.max(this.opts.maxBatchBytes, this.opts.maxRecordBytes);
    const bufs: Buffer[] = [];
    let bytes = 0;
    for (const r of records) {
      const b = encodeRecord(r, this.opts.maxRecordBytes);
      bytes += b.length;
      if (bytes > limit) {
        throw plexusError(ErrorCode.PAYLOAD_TOO_LARGE, `batch of more than ${limit} bytes`, { details: { limit } });
      }
      bufs.push(b);
    }
    return this.writer.append(bufs, bytes, signal);
  }

  /**
   * The record with sequence `seq`, or undefined if there is none (never written yet,
   * removed by retention or compaction). Rejects with `PLEXUS_ERR_STORE_CORRUPT` if the
   * record's bytes fail their checksum: bad data is never returned.
   */
  async read(seq: number): Promise<StoredRecord | undefined> {
    seqArg('seq', seq);
    if (this.ending) throw closedError();
    if (seq < this.firstSeq || seq > this.lastSeq) return undefined;
    const chunk = this.opts.indexIntervalBytes * 2 + 1024;
    const recs = await this.guardRead(() => readRecords(this.segments, seq, { last: seq, maxRecords: 1, maxBytes: Infinity, chunkBytes: chunk }));
    return recs[0]?.seq === seq ? recs[0] : undefined;
  }

  /**
   * Records from `fromSeq` on (from `firstSeq` if it is lower), in order, up to the
   * limits. Empty when there are none. A corrupt range met after some records ends the
   * batch; met first, it rejects with `PLEXUS_ERR_STORE_CORRUPT` (whose `details.toSeq`
   * tells where to resume).
   */
  async readRange(fromSeq: number, options: ReadRangeOptions = {}): Promise<StoredRecord[]> {
    seqArg('fromSeq', fromSeq);
    const maxRecords = countArg('maxRecords', options.maxRecords, 1000);
    const maxBytes = countArg('maxBytes', options.maxBytes, 1 << 20);
    const toSeq = options.toSeq === undefined ? Infinity : seqArg('toSeq', options.toSeq);
    if (this.ending) throw closedError();
    const from = Math.max(fromSeq, this.firstSeq);
    const last = Math.min(toSeq, this.lastSeq);
    if (from > last) return [];
    return this.guardRead(() => readRecords(this.segments, from, { last, maxRecords, maxBytes, chunkBytes: 256 * 1024 }));
  }

  /**
   * Iterate records from `fromSeq` on and then wait for new ones, until the log closes
   * or `options.signal` aborts (both end the iteration without an error). Holds at most
   * one bounded batch in memory.
   */
  tail(fromSeq: number, options: TailOptions = {}): AsyncGenerator<StoredRecord, void, undefined> {
    seqArg('fromSeq', fromSeq);
    countArg('batchRecords', options.batchRecords, 1);
    countArg('batchBytes', options.batchBytes, 1);
    const src: TailSource = {
      firstSeq: () => this.firstSeq,
      lastSeq: () => this.lastSeq,
      ending: () => this.ending,
      readRange: (from, to, maxRecords, maxBytes) => this.readRange(from, { toSeq: to, maxRecords, maxBytes }),
      waitPast: (seq, signal) => this.waitPast(seq, signal),
    };
    return tailRecords(src, fromSeq, options);
  }

  /** Make every acknowledged record durable now (interval mode); no-op work in `always` mode. */
  async sync(): Promise<void> {
    if (this.ending) throw closedError();
    await this.writer.exclusive(() => this.writer.flush());
  }

  /**
   * Remove every record below `seq` (clamped to `lastSeq + 1`): the new first sequence is
   * written durably before it resolves, and whole segments below it are deleted. Used by
   * work-queue retention (the layer above calls it with its ack floor).
   *
   * With `durable: false` the new first sequence is not written (no fsync, appends are
   * held only for the segment deletes): like retention limits, it is saved by `close()`
   * or the next durable call, and a crash moves it back to the last saved one. For a
   * caller that can redo the cut after a restart (work-queue acks are in the consumer
   * state, and the service trims again when it starts).
   */
  async truncateBefore(seq: number, options: { readonly durable?: boolean } = {}): Promise<RetentionResult> {
    seqArg('seq', seq);
    if (this.ending) throw closedError();
    const durable = options.durable ?? true;
    return this.writer.exclusive(async () => {
      const target = Math.min(seq, this.host.nextSeq);
      if (durable && target > this.savedMarker) {
        await writeFileAtomic(this.opts.fs, this.dir, join(this.dir, FileNames.meta), encodeMeta(target), true).catch((err: unknown) => {
          throw writeFailed(err, undefined, 'writing the first-sequence marker');
        });
        this.savedMarker = target;
      }
      return this.applyMarker(target);
    });
  }

  /**
   * Apply `maxMessages`, `maxBytes` and `maxAgeMs` now: move the first sequence up
   * (record-exact) and delete whole segments below it. Also runs on a timer and after
   * appends that exceed a count or size limit.
   */
  async enforceRetention(): Promise<RetentionResult> {
    if (this.ending) throw closedError();
    return this.writer
      .exclusive(async () => {
        const target = await limitsMarker(this.retentionState(), this.opts, Date.now());
        return this.applyMarker(target);
      })
      .catch((err: unknown) => {
        throw ioError(err, 'enforcing retention');
      });
  }

  /**
   * Rewrite sealed segments keeping only records for which `keep` returns true (and
   * that are at or above `firstSeq`). Appends continue meanwhile; each rewritten segment
   * replaces the old one atomically. Segments with corruption are left untouched.
   * Compactions run one at a time.
   */
  async compact(keep: KeepPredicate): Promise<CompactionResult> {
    if (typeof keep !== 'function') throw plexusError(ErrorCode.INVALID_ARGUMENT, 'compact takes a predicate function');
    if (this.ending) throw closedError();
    const run = this.compaction.then(() =>
      compactSealed(
        {
          segments: this.segments,
          writer: this.writer,
          marker: () => this.marker,
          closing: () => this.ending,
          swapped: (old) => this.swapped(old),
        },
        keep,
      ).catch((err: unknown) => {
        throw ioError(err, 'compaction');
      }),
    );
    this.compaction = run.catch(() => undefined);
    return run;
  }

  /** Every corrupt range known now: found on open, or met by a read since. */
  corruptRanges(): CorruptRange[] {
    return this.segments.list.flatMap((s) => s.corrupt);
  }

  /** Counters since open and the log's current shape. */
  stats(): LogStats {
    const st = this.retentionState();
    return {
      ...this.writer.counters,
      records: retainedRecords(st),
      storedBytes: retainedBytes(st),
      segments: this.segments.list.length,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
    };
  }

  /**
   * Close the log: appends already accepted are written and acknowledged, pending
   * fsyncs complete, tails end, index files and the first-sequence marker are saved,
   * and the directory lock is released. Later calls reject with `PLEXUS_ERR_STORE_CLOSED`.
   * Rejects with `PLEXUS_ERR_STORE_WRITE_FAILED` if a final or earlier interval fsync failed.
   */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.ending = true;
    if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer);
    this.wake();
    let failure: unknown;
    try {
      await this.compaction;
      await this.writer.exclusive(async () => {
        try {
          await this.writer.flush();
        } catch (err) {
          failure = err;
        }
        const active = this.segments.active;
        for (const s of this.segments.list) if (s.indexDirty || s === active) await s.writeIndex().catch(() => undefined);
        if (this.marker > this.savedMarker) {
          await writeFileAtomic(this.opts.fs, this.dir, join(this.dir, FileNames.meta), encodeMeta(this.marker), true).catch(() => undefined);
        }
      });
    } finally {
      this.writer.stop();
      this.wake();
      if (this.reads > 0) await new Promise<void>((r) => (this.readsIdle = r));
      await this.segments.closeAll();
      await this.releaseLock();
    }
    if (failure !== undefined) throw failure;
  }

  private async guardRead<T>(fn: () => Promise<T>): Promise<T> {
    this.reads++;
    try {
      return await fn();
    } catch (err) {
      throw ioError(err, 'read');
    } finally {
      this.reads--;
      if (this.reads === 0 && this.readsIdle !== undefined) {
        this.readsIdle();
        this.readsIdle = undefined;
      }
    }
  }

  private waitPast(seq: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.lastSeq > seq || this.ending || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private onCommit(): void {
    this.wake();
    if (!this.hasLimits || this.retentionQueued) return;
    const st = this.retentionState();
    if (retainedRecords(st) > this.opts.maxMessages || retainedBytes(st) > this.opts.maxBytes) this.scheduleRetention();
  }

  private scheduleRetention(): void {
    if (this.retentionQueued || this.ending) return;
    this.retentionQueued = true;
    this.enforceRetention()
      .catch(() => undefined) // Retried on the next timer tick or append.
      .finally(() => (this.retentionQueued = false));
  }

  private retentionState(): RetentionState {
    return { segments: this.segments.list, marker: this.marker, nextSeq: this.host.nextSeq, headCut: this.headCut };
  }

  /** Inside the writer: raise the marker to `target` and delete segments wholly below it. */
  private async applyMarker(target: number): Promise<RetentionResult> {
    if (target > this.marker) this.marker = Math.min(target, this.host.nextSeq);
    const set = this.segments;
    let removed = 0;
    const active = set.active;
    // Start a new segment early only when the dead active one is worth reclaiming.
    if (active.count > 0 && active.lastSeq! < this.marker && active.dataBytes >= this.opts.segmentBytes / 4) {
      await this.writer.rollNow().catch(() => undefined);
    }
    while (set.list.length > 1 && set.list[0]!.upper <= this.marker) {
      await set.remove(set.list[0]!);
      removed++;
    }
    await this.updateHeadCut();
    return { firstSeq: this.firstSeq, removedSegments: removed };
  }

  private async updateHeadCut(): Promise<void> {
    const first = this.segments.list[0]!;
    if (first.firstSeq === undefined || this.marker <= first.firstSeq) {
      this.headCut = undefined;
      return;
    }
    first.acquire();
    try {
      const loc = await first.seekFirst('seqs', this.marker);
      this.headCut = { seg: first, ordinal: loc?.ordinal ?? first.count, pos: loc?.pos ?? first.size };
    } finally {
      first.release();
    }
  }

  /** Inside the writer, after compaction replaced or deleted `old`. */
  private async swapped(old: Segment): Promise<void> {
    // The copy left out records below the marker as it was when copying began; the
    // marker may have moved since.
    if (this.headCut?.seg === old || this.segments.list[0] !== this.headCut?.seg) await this.updateHeadCut();
  }
}
