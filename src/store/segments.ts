/**
 * The ordered set of a log's segments: lookup by sequence, creating a segment file
 * atomically, rolling, removing and replacing segments.
 */
import { join } from 'node:path';
import { encodeSegmentHeader, FileNames, SEGMENT_HEADER_BYTES, segmentFileName } from './format.js';
import { writeFully } from './fs.js';
import { Segment, type SegmentContext } from './segment.js';

/** Segments in base-sequence order; the last one is the active (appended) segment. */
export class SegmentSet {
  readonly list: Segment[] = [];

  constructor(readonly ctx: SegmentContext) {}

  /** The segment appends go to. */
  get active(): Segment {
    const s = this.list[this.list.length - 1];
    if (s === undefined) throw new Error('log has no segment');
    return s;
  }

  /** The segment whose sequence range holds `seq` (the last with base ≤ seq). */
  find(seq: number): Segment | undefined {
    return this.list[this.findIndex(seq)];
  }

  /** Index of the segment holding `seq`, or -1 when `seq` is below every base. */
  findIndex(seq: number): number {
    let lo = 0;
    let hi = this.list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.list[mid]!.base <= seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Append a loaded or new segment after the others. */
  push(seg: Segment): void {
    const prev = this.list[this.list.length - 1];
    if (prev !== undefined) prev.upper = seg.base;
    this.list.push(seg);
  }

  /**
   * Create an empty segment file for `base`: header into a temp file, fdatasync, rename,
   * then fsync the directory so the new file survives a power failure before any
   * record acknowledged in it does.
   */
  async create(base: number): Promise<Segment> {
    const { fs, dir } = this.ctx;
    const path = join(dir, segmentFileName(base));
    const tmp = path + FileNames.tmpSuffix;
    const fd = await fs.open(tmp, 'w+');
    try {
      await writeFully(fs, fd, [encodeSegmentHeader(base)], 0);
      await fs.fdatasync(fd);
      await fs.rename(tmp, path);
      await fs.syncDir(dir);
    } catch (err) {
      await fs.close(fd).catch(() => undefined);
      await fs.unlink(tmp).catch(() => undefined);
      throw err;
    }
    const seg = new Segment(this.ctx, base, fd, SEGMENT_HEADER_BYTES, false);
    seg.indexDirty = true;
    this.ctx.indexCache.touch(seg);
    return seg;
  }

  /**
   * Seal the active segment and start a new one at `base`. The caller has made the
   * active segment's data durable. On failure nothing changes (the active segment stays).
   */
  async roll(base: number): Promise<Segment> {
    const old = this.active;
    const seg = await this.create(base);
    old.sealed = true;
    this.push(seg);
    // A lost or stale index file is rebuilt on open, so this need not be durable.
    await old.writeIndex().catch(() => undefined);
    return seg;
  }

  /** Remove a segment from the set and delete its files (its fd closes after the last read). */
  async remove(seg: Segment): Promise<void> {
    const i = this.list.indexOf(seg);
    if (i < 0) return;
    this.list.splice(i, 1);
    const prev = this.list[i - 1];
    if (prev !== undefined) prev.upper = seg.upper;
    seg.retire();
    this.ctx.indexCache.forget(seg);
    await this.ctx.fs.unlink(seg.path).catch(() => undefined);
    await this.ctx.fs.unlink(seg.indexPath).catch(() => undefined);
  }

  /** Put `next` in place of `old` (compaction); `old` closes after its last read. */
  replace(old: Segment, next: Segment): void {
    const i = this.list.indexOf(old);
    if (i < 0) throw new Error('replace: segment not in set');
    next.upper = old.upper;
    this.list[i] = next;
    old.retire();
    this.ctx.indexCache.forget(old);
    this.ctx.indexCache.touch(next);
  }

  /** Retire every segment and wait until their fds are closed. */
  async closeAll(): Promise<void> {
    const all = this.list.splice(0);
    for (const s of all) s.retire();
    await Promise.all(all.map((s) => s.closed()));
  }
}
