/**
 * One segment file at run time: its open fd, the in-memory sparse index, counts and
 * timestamps, known corruption, and walking records from an index entry. Reads hold a
 * reference so a segment deleted by retention or replaced by compaction keeps its fd
 * open until the last reader is done (closing it earlier could let the fd number be
 * reused by another file under the reader's feet).
 */
import { join } from 'node:path';
import { ErrorCode, plexusError } from '../errors/index.js';
import {
  decodeIndexFile,
  emptyIndex,
  encodeIndexFile,
  indexFileName,
  segmentFileName,
  SEGMENT_HEADER_BYTES,
  type RecordHead,
  type SparseIndex,
} from './format.js';
import { writeFileAtomic, type StoreFs } from './fs.js';
import type { IndexCache } from './index-cache.js';
import { scanSegment } from './scan.js';
import type { CorruptRange } from './types.js';

/** Settings a segment needs. */
export interface SegmentContext {
  readonly fs: StoreFs;
  readonly dir: string;
  readonly maxRecordBytes: number;
  readonly indexIntervalBytes: number;
  /** Which sealed segments keep their index in memory. */
  readonly indexCache: IndexCache;
}

/** What {@link Segment.walk} reports. */
export type WalkEvent =
  | {
      readonly kind: 'record';
      readonly pos: number;
      readonly head: RecordHead;
      /** Valid during the callback only. */
      readonly buffer: Uint8Array;
      readonly offset: number;
      /** Valid records before this one in the segment. */
      readonly ordinal: number;
    }
  | { readonly kind: 'corrupt'; readonly range: CorruptRange };

/** Where a walk starts: a record boundary and what precedes it. */
export interface WalkStart {
  readonly pos: number;
  /** Sequence of the record before `pos` (or base - 1). */
  readonly prevSeq: number;
  /** Valid records before `pos`. */
  readonly ordinal: number;
}

/** Index entry fields usable as a search key; all grow with the position in a segment. */
export type SeekKey = 'seqs' | 'positions' | 'ordinals' | 'timestamps';

/** A located record. */
export interface Located {
  readonly seq: number;
  readonly pos: number;
  readonly ordinal: number;
  readonly timestamp: number;
}

/** A segment file and what is known about it. */
export class Segment {
  /** Records in this segment have sequences below this (the next segment's base). */
  upper = Infinity;
  /** Committed bytes (header included). Reads never go past it; appends write here. */
  size: number;
  /** Valid records. */
  count = 0;
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  firstTimestamp: number | undefined;
  lastTimestamp: number | undefined;
  /** No more appends go here. */
  sealed: boolean;
  /** The in-memory index differs from the index file. */
  indexDirty = false;
  /** A failed write left bytes past `size` that must be cut before the next write. */
  needsTruncate = false;
  /** Known corrupt ranges, by offset. */
  readonly corrupt: CorruptRange[] = [];

  private refs = 0;
  private retired = false;
  private fdClosing: Promise<void> | undefined;
  private fdClosed!: () => void;
  private readonly whenClosed = new Promise<void>((resolve) => (this.fdClosed = resolve));
  private lastEntryPos = -Infinity;
  private forceEntry = true;
  /** The sparse index, when in memory (always for the active segment). */
  private idx: SparseIndex | undefined = emptyIndex();
  private loading: Promise<void> | undefined;

  constructor(
    readonly ctx: SegmentContext,
    readonly base: number,
    readonly fd: number,
    size: number,
    sealed: boolean,
  ) {
    this.size = size;
    this.sealed = sealed;
  }

  /** File name, e.g. `00000000000000000001.log`. */
  get name(): string {
    return segmentFileName(this.base);
  }

  get path(): string {
    return join(this.ctx.dir, this.name);
  }

  get indexPath(): string {
    return join(this.ctx.dir, indexFileName(this.base));
  }

  /** Highest sequence this segment may hold. */
  get maxSeq(): number {
    return this.upper === Infinity ? Number.MAX_SAFE_INTEGER : this.upper - 1;
  }

  /** Lowest sequence this segment has data (or corruption) for; undefined when empty. */
  get lowSeq(): number | undefined {
    const c = this.corrupt[0]?.fromSeq;
    if (this.firstSeq === undefined) return c;
    return c === undefined ? this.firstSeq : Math.min(c, this.firstSeq);
  }

  /** Bytes of record data (everything after the header). */
  get dataBytes(): number {
    return this.size - SEGMENT_HEADER_BYTES;
  }

  /** Whether the segment has been deleted or replaced. */
  get isRetired(): boolean {
    return this.retired;
  }

  /** Account for a valid record at `pos` (recovery scan, or a committed append). */
  noteRecord(pos: number, seq: number, timestamp: number): void {
    if (this.forceEntry || pos - this.lastEntryPos >= this.ctx.indexIntervalBytes) {
      this.index.seqs.push(seq);
      this.index.positions.push(pos);
      this.index.ordinals.push(this.count);
      this.index.timestamps.push(timestamp);
      this.lastEntryPos = pos;
      this.forceEntry = false;
      this.indexDirty = true;
    }
    this.count++;
    if (this.firstSeq === undefined) {
      this.firstSeq = seq;
      this.firstTimestamp = timestamp;
    }
    this.lastSeq = seq;
    this.lastTimestamp = timestamp;
  }

  /** Record a corrupt range; the next valid record gets an index entry (a resync point). */
  noteCorrupt(range: CorruptRange): void {
    let i = this.corrupt.length;
    while (i > 0 && this.corrupt[i - 1]!.fromOffset > range.fromOffset) i--;
    this.corrupt.splice(i, 0, range);
    this.forceEntry = true;
  }

  /** The in-memory index; only for segments known to have it loaded (active, being built). */
  get index(): SparseIndex {
    if (this.idx === undefined) throw new Error(`index of ${this.name} is not loaded`);
    return this.idx;
  }

  /** Adopt a loaded index file; counts come from the caller's tail walk. */
  adoptIndex(idx: SparseIndex): void {
    this.idx = idx;
    const n = idx.seqs.length;
    this.lastEntryPos = n > 0 ? idx.positions[n - 1]! : -Infinity;
    this.forceEntry = n === 0;
    this.indexDirty = false;
  }

  /** Take a reference for the duration of a read. */
  acquire(): void {
    this.refs++;
  }

  release(): void {
    this.refs--;
    if (this.refs === 0 && this.retired) void this.closeFd();
  }

  /** Deleted or replaced: close the fd once no read holds it. */
  retire(): void {
    this.retired = true;
    if (this.refs === 0) void this.closeFd();
  }

  /** Resolves when the fd is closed (after {@link retire} and the last release). */
  closed(): Promise<void> {
    return this.whenClosed;
  }

  private closeFd(): Promise<void> {
    this.fdClosing ??= this.ctx.fs
      .close(this.fd)
      .catch(() => {
        // Closing can only fail for a bad fd; nothing left to do with it.
      })
      .then(() => this.fdClosed());
    return this.fdClosing;
  }

  /** Drop the index from memory if the file has it (sealed, not dirty). Returns whether it did. */
  dropIndex(): boolean {
    if (!this.sealed || this.indexDirty || this.idx === undefined) return false;
    this.idx = undefined;
    return true;
  }

  /** Make sure the index is in memory: load the index file, or rebuild it by a scan. */
  async ensureIndex(): Promise<void> {
    if (this.idx === undefined) {
      this.loading ??= this.loadIndex().finally(() => (this.loading = undefined));
      await this.loading;
    }
    this.ctx.indexCache.touch(this);
  }

  private async loadIndex(): Promise<void> {
    const bytes = await this.ctx.fs.readFile(this.indexPath);
    const idx = bytes === undefined ? undefined : decodeIndexFile(bytes, this.base, this.size);
    this.idx = idx ?? (await this.rebuildIndex());
  }

  /** Scan the segment to rebuild its index (the file went missing or bad since open). */
  private async rebuildIndex(): Promise<SparseIndex> {
    const idx = emptyIndex();
    let ordinal = 0;
    let lastPos = -Infinity;
    let force = true;
    const interval = this.ctx.indexIntervalBytes;
    await scanSegment(
      this.ctx.fs,
      this.fd,
      { start: SEGMENT_HEADER_BYTES, end: this.size, prevSeq: this.base - 1, maxSeq: this.maxSeq, maxRecordBytes: this.ctx.maxRecordBytes, resync: true },
      (ev) => {
        if (ev.kind === 'record') {
          if (force || ev.pos - lastPos >= interval) {
            idx.seqs.push(ev.head.seq);
            idx.positions.push(ev.pos);
            idx.ordinals.push(ordinal);
            idx.timestamps.push(ev.head.timestamp);
            lastPos = ev.pos;
            force = false;
          }
          ordinal++;
          return;
        }
        force = true;
        const known = this.corrupt.some((c) => c.fromOffset === ev.from);
        if (!known) {
          const to = ev.kind === 'corrupt' ? ev.to : this.size;
          const toSeq = ev.kind === 'corrupt' ? ev.nextSeq - 1 : this.maxSeq;
          this.noteCorrupt(this.rangeOf(ev.from, to, ev.prevSeq + 1, toSeq, ev.reason));
        }
      },
    );
    this.idx = idx;
    await this.writeIndex().catch(() => undefined);
    return idx;
  }

  /** Write the index file (atomically; not fsynced: a lost or stale index is rebuilt). */
  async writeIndex(): Promise<void> {
    await writeFileAtomic(this.ctx.fs, this.ctx.dir, this.indexPath, encodeIndexFile(this.base, this.size, this.ctx.indexIntervalBytes, this.index), false);
    this.indexDirty = false;
  }

  /** Index of the last entry whose `key` is at most (`strict`: below) `value`, or -1. */
  floorEntry(key: SeekKey, value: number, strict = false): number {
    const a = this.index[key];
    let lo = 0;
    let hi = a.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < value || (!strict && a[mid] === value)) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Where to start walking to find records with `key` ≥ `value` (`strict`: start before
   * every record whose key equals `value`, for timestamps, which can repeat).
   */
  async startFor(key: SeekKey, value: number, strict = false): Promise<WalkStart> {
    await this.ensureIndex();
    const i = this.floorEntry(key, value, strict);
    if (i < 0) return { pos: SEGMENT_HEADER_BYTES, prevSeq: this.base - 1, ordinal: 0 };
    // The previous sequence is only known to be below the entry's; anything in between
    // is a gap or inside a known corrupt range.
    return { pos: this.index.positions[i]!, prevSeq: this.index.seqs[i]! - 1, ordinal: this.index.ordinals[i]! };
  }

  /**
   * Walk records from `start` to the committed end, skipping known corrupt ranges and
   * discovering (and remembering) unknown ones. The visitor returns false to stop.
   */
  async walk(start: WalkStart, chunkBytes: number, visit: (ev: WalkEvent) => boolean | void): Promise<void> {
    let { pos, prevSeq, ordinal } = start;
    let retried = false;
    while (pos < this.size) {
      const known = this.corrupt.find((c) => c.fromOffset <= pos && pos < c.toOffset);
      if (known !== undefined) {
        if (visit({ kind: 'corrupt', range: known }) === false) return;
        pos = known.toOffset;
        prevSeq = Math.max(prevSeq, known.toSeq);
        continue;
      }
      const nextKnown = this.corrupt.find((c) => c.fromOffset > pos);
      const stop = nextKnown?.fromOffset ?? this.size;
      let stopped = false;
      let bad: { from: number; reason: string; prevSeq: number } | undefined;
      const end = await scanSegment(
        this.ctx.fs,
        this.fd,
        { start: pos, end: stop, prevSeq, maxSeq: this.maxSeq, maxRecordBytes: this.ctx.maxRecordBytes, chunkBytes, resync: false },
        (ev) => {
          if (ev.kind === 'record') {
            if (visit({ kind: 'record', pos: ev.pos, head: ev.head, buffer: ev.buffer, offset: ev.offset, ordinal }) === false) {
              stopped = true;
              return false;
            }
            ordinal++;
            prevSeq = ev.head.seq;
            return true;
          }
          if (ev.kind === 'bad-tail') bad = { from: ev.from, reason: ev.reason, prevSeq: ev.prevSeq };
          return false;
        },
      );
      if (stopped) return;
      if (bad === undefined) {
        pos = end;
        continue;
      }
      const range = await this.discoverCorruption(bad.from, bad.prevSeq, bad.reason, stop, nextKnown);
      if (range === undefined) {
        // The bytes read back fine this time; one retry, then it is a read failure.
        if (retried) throw plexusError(ErrorCode.STORE_READ_FAILED, `unstable reads in ${this.name} at offset ${bad.from}`);
        retried = true;
        continue;
      }
      if (visit({ kind: 'corrupt', range }) === false) return;
      pos = range.toOffset;
      prevSeq = Math.max(prevSeq, range.toSeq);
    }
  }

  /** Find where the bad bytes at `from` end (the next valid record) and remember the range. */
  private async discoverCorruption(
    from: number,
    prevSeq: number,
    reason: string,
    stop: number,
    nextKnown: CorruptRange | undefined,
  ): Promise<CorruptRange | undefined> {
    let range: CorruptRange | undefined;
    let readable = false;
    await scanSegment(
      this.ctx.fs,
      this.fd,
      { start: from, end: stop, prevSeq, maxSeq: this.maxSeq, maxRecordBytes: this.ctx.maxRecordBytes, resync: true },
      (ev) => {
        if (ev.kind === 'record') readable = true;
        else if (ev.kind === 'corrupt') range = this.rangeOf(ev.from, ev.to, ev.prevSeq + 1, ev.nextSeq - 1, reason);
        else {
          const toSeq = nextKnown !== undefined ? nextKnown.fromSeq - 1 : this.sealed ? this.maxSeq : (this.lastSeq ?? prevSeq + 1);
          range = this.rangeOf(ev.from, stop, ev.prevSeq + 1, Math.max(ev.prevSeq + 1, toSeq), reason);
        }
        return false;
      },
    );
    if (readable || range === undefined) return undefined;
    this.noteCorrupt(range);
    return range;
  }

  /** A {@link CorruptRange} in this segment. */
  rangeOf(fromOffset: number, toOffset: number, fromSeq: number, toSeq: number, reason: string): CorruptRange {
    return { segment: this.name, fromOffset, toOffset, fromSeq, toSeq: Math.max(fromSeq, toSeq), reason };
  }

  /**
   * The first record whose `key` field is at least `value`, or undefined if none in the
   * committed part. Corrupt ranges are stepped over (retention searches).
   */
  async seekFirst(key: SeekKey, value: number): Promise<Located | undefined> {
    let found: Located | undefined;
    await this.walk(await this.startFor(key, value, true), 64 * 1024, (ev) => {
      if (ev.kind !== 'record') return true;
      const k = key === 'seqs' ? ev.head.seq : key === 'positions' ? ev.pos : key === 'ordinals' ? ev.ordinal : ev.head.timestamp;
      if (k < value) return true;
      found = { seq: ev.head.seq, pos: ev.pos, ordinal: ev.ordinal, timestamp: ev.head.timestamp };
      return false;
    });
    return found;
  }
}
