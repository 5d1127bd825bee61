/**
 * Reading records by sequence: find the segment, start at the nearest index entry at or
 * below the sequence, walk forward verifying every record's CRC. A sequence inside a
 * corrupt range fails with `PLEXUS_ERR_STORE_CORRUPT`; it never yields bad bytes.
 */
import { corruptError } from './errors.js';
import { decodeRecord, type StoredRecord } from './format.js';
import type { Segment } from './segment.js';
import type { SegmentSet } from './segments.js';

/** Limits of one read. */
export interface ReadLimits {
  /** Highest sequence to return. */
  readonly last: number;
  readonly maxRecords: number;
  /** Stop before a record that would go past this; the first record is always returned. */
  readonly maxBytes: number;
  /** Read size. */
  readonly chunkBytes: number;
}

/**
 * Records with sequence ≥ `from` (and ≤ `limits.last`), in order, skipping gaps. When
 * a corrupt range comes first the read fails; when it comes after some records, those
 * are returned and the next read starting inside the range fails.
 */
export async function readRecords(set: SegmentSet, from: number, limits: ReadLimits): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  let bytes = 0;
  let cursor = from;
  // Look the segment up by sequence each time: retention or compaction may change the
  // list while this read waits for the disk.
  for (let seg = segmentFor(set, cursor); seg !== undefined && cursor <= limits.last; seg = segmentFor(set, cursor)) {
    if (seg.count === 0 && seg.corrupt.length === 0) {
      cursor = Math.max(cursor, seg.upper);
      continue;
    }
    let done = false;
    seg.acquire();
    try {
      await seg.walk(await seg.startFor('seqs', cursor), limits.chunkBytes, (ev) => {
        if (ev.kind === 'corrupt') {
          const r = ev.range;
          if (r.toSeq < cursor) return true;
          if (r.fromSeq > limits.last || out.length > 0) {
            done = true;
            return false;
          }
          throw corruptError(r);
        }
        const h = ev.head;
        if (h.seq < cursor) return true;
        if (h.seq > limits.last) {
          done = true;
          return false;
        }
        const size = 4 + h.length;
        if (out.length > 0 && bytes + size > limits.maxBytes) {
          done = true;
          return false;
        }
        const rec = decodeRecord(ev.buffer, ev.offset, h);
        if (rec === undefined) {
          // The CRC matched but the fields are not what this code writes.
          if (out.length > 0) {
            done = true;
            return false;
          }
          throw corruptError(seg.rangeOf(ev.pos, ev.pos + size, h.seq, h.seq, 'malformed subject or header block'));
        }
        out.push(rec);
        bytes += size;
        if (out.length >= limits.maxRecords) {
          done = true;
          return false;
        }
        return true;
      });
    } finally {
      seg.release();
    }
    if (done) break;
    cursor = Math.max(cursor, seg.upper);
  }
  return out;
}

/** The segment holding `seq`, or the first one when `seq` is below them all. */
function segmentFor(set: SegmentSet, seq: number): Segment | undefined {
  if (seq === Infinity) return undefined;
  return set.find(seq) ?? set.list[0];
}
