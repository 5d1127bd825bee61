/**
 * Opening a log directory after a clean shutdown or a crash: remove leftover temp
 * files, load every segment, verify the last one record by record (truncating a torn
 * tail), check sealed segments against their index files (rebuilding an index that is
 * missing or inconsistent), and report corruption instead of hiding it.
 */
import { join } from 'node:path';
import { ErrorCode, plexusError } from '../errors/index.js';
import {
  decodeIndexFile,
  decodeMeta,
  encodeIndexFile,
  FileNames,
  parseSegmentFileName,
  segmentFileName,
  segmentHeaderProblem,
  SEGMENT_HEADER_BYTES,
  indexFileName,
  type SparseIndex,
} from './format.js';
import { readAt } from './fs.js';
import { scanSegment } from './scan.js';
import { Segment, type SegmentContext } from './segment.js';
import { SegmentSet } from './segments.js';
import type { CorruptRange } from './types.js';

/** What recovery hands to the log. */
export interface Recovered {
  readonly segments: SegmentSet;
  /** The persisted first-sequence marker (1 when there is none). */
  readonly marker: number;
  readonly truncatedBytes: number;
  readonly corruptRanges: CorruptRange[];
  readonly indexesRebuilt: string[];
  readonly removedTempFiles: string[];
  readonly created: boolean;
}

/** Load (or create) the log in `ctx.dir`. The caller holds the directory lock. */
export async function recover(ctx: SegmentContext, verifyAll: boolean, create: boolean): Promise<Recovered> {
  const { fs, dir } = ctx;
  const names = await fs.readdir(dir);
  const removedTempFiles: string[] = [];
  for (const n of names) {
    if (n.endsWith(FileNames.tmpSuffix)) {
      await fs.unlink(join(dir, n));
      removedTempFiles.push(n);
    }
  }
  const metaBytes = await fs.readFile(join(dir, FileNames.meta));
  let marker = 1;
  if (metaBytes !== undefined) {
    const m = decodeMeta(metaBytes);
    if (m === undefined) {
      throw plexusError(ErrorCode.STORE_CORRUPT, `log meta file ${FileNames.meta} is damaged; delete it to reopen (records before the lost first-sequence marker reappear)`, {
        details: { file: FileNames.meta },
      });
    }
    marker = m;
  }
  const bases = names
    .map(parseSegmentFileName)
    .filter((b): b is number => b !== undefined)
    .sort((a, b) => a - b);
  const segIdx = new Set(bases.map(indexFileName));
  for (const n of names) {
    // An index without its segment (the segment was deleted by retention before a crash).
    if (n.endsWith('.idx') && !segIdx.has(n)) await fs.unlink(join(dir, n)).catch(() => undefined);
  }

  const segments = new SegmentSet(ctx);
  const out = { truncatedBytes: 0, corruptRanges: [] as CorruptRange[], indexesRebuilt: [] as string[] };
  if (bases.length === 0) {
    if (!create) throw plexusError(ErrorCode.CONFIG, 'no log in this directory (and create is false)');
    const seg = await segments.create(marker);
    segments.push(seg);
    return { segments, marker, ...out, removedTempFiles, created: true };
  }
  try {
    for (let i = 0; i < bases.length; i++) {
      const seg = await loadSegment(ctx, bases[i]!, bases[i + 1] ?? Infinity, i === bases.length - 1, verifyAll, out);
      segments.push(seg);
    }
  } catch (err) {
    await segments.closeAll();
    throw err;
  }
  return { segments, marker, ...out, removedTempFiles, created: false };
}

interface RecoveryTally {
  truncatedBytes: number;
  corruptRanges: CorruptRange[];
  indexesRebuilt: string[];
}

async function loadSegment(ctx: SegmentContext, base: number, upper: number, isLast: boolean, verifyAll: boolean, tally: RecoveryTally): Promise<Segment> {
  const { fs } = ctx;
  const name = segmentFileName(base);
  const fd = await fs.open(join(ctx.dir, name), isLast ? 'r+' : 'r');
  try {
    const fileSize = await fs.fsize(fd);
    const hdr = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const n = await readAt(fs, fd, hdr, 0, SEGMENT_HEADER_BYTES, 0);
    const problem = segmentHeaderProblem(hdr.subarray(0, n), base);
    if (problem !== undefined) {
      throw plexusError(ErrorCode.STORE_CORRUPT, `segment ${name}: ${problem}`, { details: { segment: name, reason: problem } });
    }
    const seg = new Segment(ctx, base, fd, fileSize, !isLast);
    seg.upper = upper;
    const indexBytes = isLast ? undefined : await fs.readFile(seg.indexPath);
    const fileIndex = indexBytes === undefined ? undefined : decodeIndexFile(indexBytes, base, fileSize);
    if (!isLast && !verifyAll && fileIndex !== undefined && (await adoptIfConsistent(seg, fileIndex))) {
      ctx.indexCache.touch(seg);
      return seg;
    }

    // Full scan: verify every record, find corruption, rebuild the index.
    let badTail: { from: number; reason: string; prevSeq: number } | undefined;
    await scanSegment(
      fs,
      fd,
      { start: SEGMENT_HEADER_BYTES, end: fileSize, prevSeq: base - 1, maxSeq: seg.maxSeq, maxRecordBytes: ctx.maxRecordBytes, resync: true },
      (ev) => {
        if (ev.kind === 'record') seg.noteRecord(ev.pos, ev.head.seq, ev.head.timestamp);
        else if (ev.kind === 'corrupt') seg.noteCorrupt(seg.rangeOf(ev.from, ev.to, ev.prevSeq + 1, ev.nextSeq - 1, ev.reason));
        else badTail = { from: ev.from, reason: ev.reason, prevSeq: ev.prevSeq };
      },
    );
    if (badTail !== undefined) {
      if (isLast) {
        // A torn write: nothing valid follows, and nothing in it was acknowledged as durable.
        await fs.ftruncate(fd, badTail.from);
        await fs.fdatasync(fd);
        tally.truncatedBytes += fileSize - badTail.from;
        seg.size = badTail.from;
      } else {
        // Sealed segments were fsynced before the next one was created: not a torn write.
        seg.noteCorrupt(seg.rangeOf(badTail.from, fileSize, badTail.prevSeq + 1, Math.max(badTail.prevSeq + 1, seg.maxSeq), badTail.reason));
      }
    }
    tally.corruptRanges.push(...seg.corrupt);
    if (isLast) {
      seg.indexDirty = true;
    } else {
      const fresh = encodeIndexFile(base, seg.size, ctx.indexIntervalBytes, seg.index);
      if (indexBytes === undefined || !fresh.equals(indexBytes)) {
        tally.indexesRebuilt.push(name);
        await seg.writeIndex().catch(() => undefined); // Stays dirty: retried at close.
      } else {
        seg.indexDirty = false;
      }
    }
    ctx.indexCache.touch(seg);
    return seg;
  } catch (err) {
    await fs.close(fd).catch(() => undefined);
    throw err;
  }
}

/**
 * Use a sealed segment's index file if it fits the segment: its first entry is the first
 * record, and walking from its last entry verifies every record up to exactly the end of
 * the file. Returns false (the caller rescans) otherwise.
 */
async function adoptIfConsistent(seg: Segment, idx: SparseIndex): Promise<boolean> {
  const n = idx.seqs.length;
  if (n === 0) return seg.size === SEGMENT_HEADER_BYTES;
  if (idx.positions[0] !== SEGMENT_HEADER_BYTES) return false;
  const ctx = seg.ctx;
  let firstOk = false;
  await scanSegment(
    ctx.fs,
    seg.fd,
    { start: SEGMENT_HEADER_BYTES, end: seg.size, prevSeq: seg.base - 1, maxSeq: seg.maxSeq, maxRecordBytes: ctx.maxRecordBytes, chunkBytes: 64 * 1024, resync: false },
    (ev) => {
      firstOk = ev.kind === 'record' && ev.head.seq === idx.seqs[0] && ev.head.timestamp === idx.timestamps[0];
      return false;
    },
  );
  if (!firstOk) return false;
  const lastPos = idx.positions[n - 1]!;
  let count = idx.ordinals[n - 1]!;
  let lastSeq = -1;
  let lastTs = 0;
  let ok = true;
  const end = await scanSegment(
    ctx.fs,
    seg.fd,
    { start: lastPos, end: seg.size, prevSeq: idx.seqs[n - 1]! - 1, maxSeq: seg.maxSeq, maxRecordBytes: ctx.maxRecordBytes, resync: false },
    (ev) => {
      if (ev.kind !== 'record') {
        ok = false;
        return false;
      }
      if (lastSeq < 0 && (ev.head.seq !== idx.seqs[n - 1] || ev.head.timestamp !== idx.timestamps[n - 1])) {
        ok = false;
        return false;
      }
      count++;
      lastSeq = ev.head.seq;
      lastTs = ev.head.timestamp;
      return true;
    },
  );
  if (!ok || end !== seg.size || lastSeq < 0) return false;
  seg.adoptIndex(idx);
  seg.count = count;
  seg.firstSeq = idx.seqs[0];
  seg.firstTimestamp = idx.timestamps[0];
  seg.lastSeq = lastSeq;
  seg.lastTimestamp = lastTs;
  return true;
}
