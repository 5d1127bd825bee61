/**
 * Reading records out of a segment file: a chunked positional reader and a scanner that
 * validates every record (length, fields, sequence order, CRC32C) and, past a bad one,
 * resynchronises on the next valid record so corruption is reported as a byte range
 * instead of hiding everything after it.
 *
 * Nothing is allocated from a length field before it is checked against
 * `maxRecordBytes` and against the bytes actually left in the file.
 */
import { readAt, type StoreFs } from './fs.js';
import { crcMatches, headProblem, parseRecordHead, readU32, RECORD_HEADER_BYTES, MIN_RECORD_LENGTH, type RecordHead } from './format.js';

/** Reads a file through one reusable buffer of at least `chunkBytes`. */
export class ChunkReader {
  private buf: Buffer;
  private start = 0;
  private len = 0;

  constructor(
    private readonly sfs: StoreFs,
    private readonly fd: number,
    /** Never read at or past this offset. */
    readonly end: number,
    private readonly chunkBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(end, 0)) || 1);
  }

  /** The current buffer; valid until the next {@link fill}. */
  get buffer(): Buffer {
    return this.buf;
  }

  /** Offset in {@link buffer} of file position `pos`, if `[pos, pos + n)` is loaded; else -1. */
  at(pos: number, n: number): number {
    return pos >= this.start && pos + n <= this.start + this.len ? pos - this.start : -1;
  }

  /**
   * Load `[pos, pos + n)` (and more, up to a chunk) and return its offset in
   * {@link buffer}; -1 when the range goes past `end` or the file is shorter.
   */
  async fill(pos: number, n: number): Promise<number> {
    const have = this.at(pos, n);
    if (have >= 0) return have;
    if (pos + n > this.end) return -1;
    const size = Math.min(Math.max(this.chunkBytes, n), this.end - pos);
    if (this.buf.length < size) this.buf = Buffer.allocUnsafe(size);
    const got = await readAt(this.sfs, this.fd, this.buf, 0, size, pos);
    this.start = pos;
    this.len = got;
    return got >= n ? 0 : -1;
  }
}

/** Where and how to scan. */
export interface ScanRange {
  /** First byte to scan (a record boundary). */
  readonly start: number;
  /** Stop before this offset (the segment's size, or its committed end). */
  readonly end: number;
  /** Records must have a sequence above this (the last valid one before `start`). */
  readonly prevSeq: number;
  /** ... and at most this (the next segment's base minus one). */
  readonly maxSeq: number;
  readonly maxRecordBytes: number;
  /** Read size. @default 1 MiB */
  readonly chunkBytes?: number;
  /** Look for a valid record after a bad one (recovery); otherwise stop at the first bad one. */
  readonly resync: boolean;
}

/** What a scan reports, in file order. */
export type ScanEvent =
  | {
      readonly kind: 'record';
      readonly pos: number;
      readonly head: RecordHead;
      /** The whole record is at `buffer[offset, offset + 4 + head.length)`, valid during the callback only. */
      readonly buffer: Uint8Array;
      readonly offset: number;
    }
  | {
      /** Bytes `[from, to)` are not valid records; a valid record starts at `to`. */
      readonly kind: 'corrupt';
      readonly from: number;
      readonly to: number;
      readonly reason: string;
      /** Sequence of the last valid record before `from` (or the segment's base minus one). */
      readonly prevSeq: number;
      /** Sequence of the valid record at `to`. */
      readonly nextSeq: number;
    }
  | {
      /** Bytes `[from, end)` hold no valid record (with `resync: false`: the first bad record). */
      readonly kind: 'bad-tail';
      readonly from: number;
      readonly reason: string;
      readonly prevSeq: number;
    };

/** Return `false` to stop the scan. */
export type ScanVisitor = (ev: ScanEvent) => boolean | void;

/**
 * Validate the record at `pos`; returns its head, or a reason it is not a valid record.
 * Afterwards the whole record (when valid) is loaded in `r`.
 */
async function checkAt(r: ChunkReader, pos: number, range: ScanRange, prevSeq: number): Promise<RecordHead | string> {
  if (pos + 4 > range.end) return 'truncated length field';
  if (pos + RECORD_HEADER_BYTES > range.end) return 'truncated record header';
  let o = r.at(pos, RECORD_HEADER_BYTES);
  if (o < 0) o = await r.fill(pos, RECORD_HEADER_BYTES);
  if (o < 0) return 'truncated record header';
  const head = parseRecordHead(r.buffer, o);
  const problem = headProblem(head, range.maxRecordBytes);
  if (problem !== undefined) return problem;
  if (pos + 4 + head.length > range.end) return 'truncated record';
  if (head.seq <= prevSeq) return 'sequence out of order';
  if (head.seq > range.maxSeq) return 'sequence beyond its segment';
  o = r.at(pos, 4 + head.length);
  if (o < 0) o = await r.fill(pos, 4 + head.length);
  if (o < 0) return 'truncated record';
  if (!crcMatches(r.buffer, o, head)) return 'checksum mismatch';
  return head;
}

/**
 * Find the next offset after `from` where a valid record starts. Cheap checks on the
 * length and fixed fields come first so the CRC runs only on plausible candidates.
 */
async function resync(r: ChunkReader, from: number, range: ScanRange, prevSeq: number): Promise<number> {
  for (let q = from + 1; q + RECORD_HEADER_BYTES <= range.end; q++) {
    let o = r.at(q, RECORD_HEADER_BYTES);
    if (o < 0) o = await r.fill(q, RECORD_HEADER_BYTES);
    if (o < 0) return -1;
    const len = readU32(r.buffer, o);
    if (len < MIN_RECORD_LENGTH || len + 4 > range.maxRecordBytes || q + 4 + len > range.end) continue;
    const head = await checkAt(r, q, range, prevSeq);
    if (typeof head !== 'string') return q;
  }
  return -1;
}

/**
 * Scan records in `range`, calling `visit` for each valid record and each bad region.
 * Returns the offset where the scan stopped (`range.end` after a complete scan, the
 * start of the bad region for a bad tail, or the position the visitor stopped at).
 */
export async function scanSegment(sfs: StoreFs, fd: number, range: ScanRange, visit: ScanVisitor): Promise<number> {
  const r = new ChunkReader(sfs, fd, range.end, range.chunkBytes ?? 1 << 20);
  let pos = range.start;
  let prevSeq = range.prevSeq;
  while (pos < range.end) {
    const head = await checkAt(r, pos, range, prevSeq);
    if (typeof head === 'string') {
      const next = range.resync ? await resync(r, pos, range, prevSeq) : -1;
      if (next < 0) {
        visit({ kind: 'bad-tail', from: pos, reason: head, prevSeq });
        return pos;
      }
      // The record at `next` is loaded and valid (resync checked it).
      const nextHead = await checkAt(r, next, range, prevSeq);
      if (typeof nextHead === 'string') throw new Error('scan: resync target vanished');
      if (visit({ kind: 'corrupt', from: pos, to: next, reason: head, prevSeq, nextSeq: nextHead.seq }) === false) return pos;
      pos = next;
      continue;
    }
    const offset = r.at(pos, 4 + head.length);
    if (visit({ kind: 'record', pos, head, buffer: r.buffer, offset }) === false) return pos;
    prevSeq = head.seq;
    pos += 4 + head.length;
  }
  return pos;
}
