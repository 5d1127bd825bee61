/**
 * Compaction: rewrite sealed segments keeping only the records a predicate keeps (for
 * example the last value per subject), without blocking appends. Each segment is copied
 * into a temp file while appends go on to the active segment; the copy is fsynced and
 * then, inside the writer (between batches), renamed over the original. Readers that
 * still hold the old file keep reading it until they finish.
 *
 * Records are copied byte for byte (same sequence, timestamp and CRC). A segment that
 * holds corruption is left alone: rewriting it would turn "corrupt" into "absent".
 */
import { decodeRecord, encodeSegmentHeader, FileNames, SEGMENT_HEADER_BYTES, type StoredRecord } from './format.js';
import { writeFully } from './fs.js';
import { Segment } from './segment.js';
import type { SegmentSet } from './segments.js';
import type { CompactionResult } from './types.js';
import type { Writer } from './writer.js';

/** Decides whether a record survives compaction. */
export type KeepPredicate = (record: StoredRecord) => boolean;

/** What compaction needs from the log. */
export interface CompactionHost {
  readonly segments: SegmentSet;
  readonly writer: Writer;
  /** The current first-sequence marker (records below it are dropped too). */
  marker(): number;
  /** True once the log is closing: stop between segments. */
  closing(): boolean;
  /** Inside the writer: `old` was replaced by a compacted copy, or deleted. */
  swapped(old: Segment): Promise<void>;
}

const FLUSH_BYTES = 1 << 20;

interface Copy {
  readonly seg: Segment | undefined;
  readonly tmp: string;
  readonly corrupt: boolean;
  readonly before: number;
  readonly kept: number;
}

/** Compact every sealed segment that exists when it starts. */
export async function compactSealed(host: CompactionHost, keep: KeepPredicate): Promise<CompactionResult> {
  const candidates = host.segments.list.filter((s) => s.sealed);
  let rewritten = 0;
  let skippedCorrupt = 0;
  let recordsBefore = 0;
  let recordsAfter = 0;
  let bytesBefore = 0;
  let bytesAfter = 0;
  for (const seg of candidates) {
    if (host.closing()) break;
    if (seg.isRetired) continue;
    recordsBefore += seg.count;
    bytesBefore += seg.dataBytes;
    if (seg.corrupt.length > 0) {
      skippedCorrupt++;
      recordsAfter += seg.count;
      bytesAfter += seg.dataBytes;
      continue;
    }
    const copy = await copySegment(host, seg, keep);
    if (copy.corrupt || copy.kept === copy.before) {
      // Found corruption while copying, or nothing to drop: keep the original.
      if (copy.corrupt) skippedCorrupt++;
      await discard(copy);
      recordsAfter += seg.count;
      bytesAfter += seg.dataBytes;
      continue;
    }
    const next = copy.seg!;
    let outcome: SwapOutcome;
    try {
      outcome = await host.writer.exclusive(() => swapIn(host, seg, copy));
    } catch (err) {
      await discard(copy);
      throw err;
    }
    if (outcome !== 'replaced') await discard(copy);
    if (outcome === 'gone') {
      recordsBefore -= seg.count;
      bytesBefore -= seg.dataBytes;
      continue;
    }
    rewritten++;
    recordsAfter += copy.kept;
    bytesAfter += outcome === 'replaced' ? next.dataBytes : 0;
  }
  return { segments: candidates.length, rewritten, skippedCorrupt, recordsBefore, recordsAfter, bytesBefore, bytesAfter };
}

type SwapOutcome = 'gone' | 'deleted' | 'replaced';

/** Inside the writer: put the compacted copy in place of `seg` (or delete `seg` if nothing was kept). */
async function swapIn(host: CompactionHost, seg: Segment, copy: Copy): Promise<SwapOutcome> {
  if (seg.isRetired) return 'gone'; // Retention deleted it meanwhile.
  if (copy.kept === 0) {
    await host.segments.remove(seg);
    // Durable, so removed records cannot come back after a power failure.
    await seg.ctx.fs.syncDir(seg.ctx.dir);
    await host.swapped(seg);
    return 'deleted';
  }
  const next = copy.seg!;
  const { fs } = seg.ctx;
  await fs.rename(copy.tmp, seg.path);
  await fs.syncDir(seg.ctx.dir);
  host.segments.replace(seg, next);
  await host.swapped(seg);
  await next.writeIndex().catch(() => undefined);
  return 'replaced';
}

async function discard(copy: Copy): Promise<void> {
  if (copy.seg === undefined) return;
  const { fs } = copy.seg.ctx;
  copy.seg.retire();
  await copy.seg.closed();
  await fs.unlink(copy.tmp).catch(() => undefined);
}

/** Copy the kept records of `seg` into a temp segment file. */
async function copySegment(host: CompactionHost, seg: Segment, keep: KeepPredicate): Promise<Copy> {
  const { fs } = seg.ctx;
  const tmp = `${seg.path}.compact${FileNames.tmpSuffix}`;
  const fd = await fs.open(tmp, 'w+');
  const next = new Segment(seg.ctx, seg.base, fd, SEGMENT_HEADER_BYTES, true);
  let written = SEGMENT_HEADER_BYTES;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let corrupt = false;
  let before = 0;
  let kept = 0;
  const marker = host.marker();
  seg.acquire();
  try {
    await writeFully(fs, fd, [encodeSegmentHeader(seg.base)], 0);
    let start = { pos: SEGMENT_HEADER_BYTES, prevSeq: seg.base - 1, ordinal: 0 };
    for (;;) {
      let paused = false;
      await seg.walk(start, FLUSH_BYTES, (ev) => {
        if (ev.kind === 'corrupt') {
          corrupt = true;
          return false;
        }
        const h = ev.head;
        const size = 4 + h.length;
        before++;
        start = { pos: ev.pos + size, prevSeq: h.seq, ordinal: ev.ordinal + 1 };
        if (h.seq >= marker) {
          const rec = decodeRecord(ev.buffer, ev.offset, h);
          if (rec === undefined) {
            corrupt = true;
            return false;
          }
          if (keep(rec)) {
            next.noteRecord(next.size, h.seq, h.timestamp);
            next.size += size;
            pending.push(Buffer.from(ev.buffer.subarray(ev.offset, ev.offset + size)));
            pendingBytes += size;
            kept++;
          }
        }
        if (pendingBytes >= FLUSH_BYTES) {
          paused = true;
          return false;
        }
        return true;
      });
      if (pendingBytes > 0 && !corrupt) {
        await writeFully(fs, fd, pending, written);
        written += pendingBytes;
        pending = [];
        pendingBytes = 0;
      }
      if (!paused || corrupt) break;
    }
    if (!corrupt && kept < before) await fs.fdatasync(fd);
  } catch (err) {
    next.retire();
    await next.closed();
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    seg.release();
  }
  return { seg: next, tmp, corrupt, before, kept };
}
