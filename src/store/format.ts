/**
 * The on-disk format of the log: records, segment headers, index files, the meta file
 * and file names. docs/store.md is the reviewable specification of every byte written
 * here; keep the two in step. All integers are big-endian (like the wire protocol);
 * 64-bit fields hold numbers below 2^53.
 */
import { copyBytes, readUtf8, utf8Length, validateHeaderBlock, writeUtf8 } from '../wire/index.js';
import { ErrorCode, plexusError } from '../errors/index.js';
import { crc32c } from './crc32c.js';

/** Bytes before a record's subject: length, crc, seq, timestamp, flags, three lengths. */
export const RECORD_HEADER_BYTES = 32;
/** Smallest value of a record's length field (the fixed fields after it). */
export const MIN_RECORD_LENGTH = RECORD_HEADER_BYTES - 4;
/** Largest subject and largest header block (16-bit lengths). */
export const MAX_FIELD_BYTES = 0xffff;

/** Segment file header size. */
export const SEGMENT_HEADER_BYTES = 24;
/** Index file header size; entries follow, then a 4-byte CRC. */
export const INDEX_HEADER_BYTES = 32;
/** One index entry: seq u64, position u32, ordinal u32, timestamp u64. */
export const INDEX_ENTRY_BYTES = 24;
/** The meta file (first-sequence marker). */
export const META_BYTES = 20;

/** On-disk format version of segments, indexes and the meta file. */
export const FORMAT_VERSION = 1;

const SEGMENT_MAGIC = 0x504c5853; // "PLXS"
const INDEX_MAGIC = 0x504c5849; // "PLXI"
const META_MAGIC = 0x504c584d; // "PLXM"
const TWO32 = 0x1_0000_0000;

/** File names inside a log directory. */
export const FileNames = {
  lock: 'LOCK',
  meta: 'log.meta',
  tmpSuffix: '.tmp',
} as const;

/** `00000000000000000042.log` for base sequence 42 (20 digits: any u64 fits). */
export function segmentFileName(baseSeq: number): string {
  return `${String(baseSeq).padStart(20, '0')}.log`;
}

/** `00000000000000000042.idx` for base sequence 42. */
export function indexFileName(baseSeq: number): string {
  return `${String(baseSeq).padStart(20, '0')}.idx`;
}

/** The base sequence in a segment file name, or undefined if it is not one. */
export function parseSegmentFileName(name: string): number | undefined {
  const m = /^(\d{20})\.log$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** Write a number below 2^53 as a big-endian u64. */
export function writeU64(buf: Uint8Array, off: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  const lo = v >>> 0;
  buf[off] = hi >>> 24;
  buf[off + 1] = hi >>> 16;
  buf[off + 2] = hi >>> 8;
  buf[off + 3] = hi;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = lo >>> 16;
  buf[off + 6] = lo >>> 8;
  buf[off + 7] = lo;
}

/** Read a big-endian u64; returns NaN when it is 2^53 or more (never valid here). */
export function readU64(buf: Uint8Array, off: number): number {
  const hi = readU32(buf, off);
  if (hi >= 0x20_0000) return NaN;
  return hi * TWO32 + readU32(buf, off + 4);
}

/** Write a big-endian u32. */
export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

/** Read a big-endian u32. */
export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v;
}

// ---------------------------------------------------------------------------------
// Records

/** What a caller appends. */
export interface AppendRecord {
  /** Subject (any string up to 65,535 UTF-8 bytes; the store does not interpret it). */
  readonly subject: string;
  /** An encoded header block (`encodeHeaders` from the wire layer), or none. */
  readonly headers?: Uint8Array | undefined;
  /** The payload. @default empty */
  readonly payload?: Uint8Array | undefined;
}

/** A record read back from the log. Its bytes are copies the caller owns. */
export interface StoredRecord {
  /** Sequence number, from 1, strictly increasing in the log. */
  readonly seq: number;
  /** Milliseconds since the epoch, assigned by the log when the record was written. */
  readonly timestamp: number;
  readonly subject: string;
  /** The encoded header block as appended (decode with `decodeHeaders`), or undefined. */
  readonly headers: Uint8Array | undefined;
  readonly payload: Uint8Array;
  /** Bytes the record takes on disk (header, subject, headers and payload). */
  readonly size: number;
}

/** The fixed fields of a record, parsed but not yet checked against its CRC. */
export interface RecordHead {
  /** Value of the length field: bytes after it. The record takes `4 + length` bytes. */
  readonly length: number;
  readonly crc: number;
  readonly seq: number;
  readonly timestamp: number;
  readonly flags: number;
  readonly subjectLength: number;
  readonly headersLength: number;
  readonly reserved: number;
}

/**
 * Encode a record with zero seq, timestamp and CRC (filled by {@link stampRecord} when
 * the writer assigns its place). Validates everything first, so nothing is allocated
 * for a record that would be refused.
 */
export function encodeRecord(rec: AppendRecord, maxRecordBytes: number): Buffer {
  if (rec === null || typeof rec !== 'object') throw plexusError(ErrorCode.INVALID_ARGUMENT, 'a record must be an object');
  if (typeof rec.subject !== 'string') throw plexusError(ErrorCode.INVALID_ARGUMENT, 'record subject must be a string');
  const payload = rec.payload ?? EMPTY;
  if (!(payload instanceof Uint8Array)) throw plexusError(ErrorCode.INVALID_ARGUMENT, 'record payload must be a Uint8Array');
  const headers = rec.headers;
  if (headers !== undefined && !(headers instanceof Uint8Array)) {
    throw plexusError(ErrorCode.INVALID_HEADERS, 'record headers must be an encoded header block (Uint8Array)');
  }
  const sLen = utf8Length(rec.subject);
  if (sLen > MAX_FIELD_BYTES) throw plexusError(ErrorCode.INVALID_ARGUMENT, `record subject of ${sLen} bytes exceeds ${MAX_FIELD_BYTES}`);
  const hLen = headers?.length ?? 0;
  if (hLen > MAX_FIELD_BYTES) throw plexusError(ErrorCode.INVALID_HEADERS, `header block of ${hLen} bytes exceeds ${MAX_FIELD_BYTES}`);
  if (headers !== undefined && !validateHeaderBlock(headers)) {
    throw plexusError(ErrorCode.INVALID_HEADERS, 'record headers are not a well-formed header block');
  }
  const size = RECORD_HEADER_BYTES + sLen + hLen + payload.length;
  if (size > maxRecordBytes) {
    throw plexusError(ErrorCode.PAYLOAD_TOO_LARGE, `record of ${size} bytes exceeds maxRecordBytes (${maxRecordBytes})`, {
      details: { size, maxRecordBytes },
    });
  }
  const buf = Buffer.allocUnsafe(size);
  writeU32(buf, 0, size - 4);
  buf.fill(0, 4, 24); // crc, seq, timestamp: stamped later
  writeU16(buf, 24, 0); // flags
  writeU16(buf, 26, sLen);
  writeU16(buf, 28, hLen);
  writeU16(buf, 30, 0); // reserved
  let o = writeUtf8(buf, RECORD_HEADER_BYTES, rec.subject);
  if (headers !== undefined) {
    buf.set(headers, o);
    o += hLen;
  }
  buf.set(payload, o);
  return buf;
}

const EMPTY = new Uint8Array(0);

/** Fill in seq and timestamp and compute the CRC over everything after the CRC field. */
export function stampRecord(buf: Uint8Array, seq: number, timestamp: number): void {
  writeU64(buf, 8, seq);
  writeU64(buf, 16, timestamp);
  writeU32(buf, 4, crc32c(buf, 8, buf.length));
}

/** Parse the fixed fields at `off` (the caller ensured 32 bytes are there). */
export function parseRecordHead(buf: Uint8Array, off: number): RecordHead {
  return {
    length: readU32(buf, off),
    crc: readU32(buf, off + 4),
    seq: readU64(buf, off + 8),
    timestamp: readU64(buf, off + 16),
    flags: readU16(buf, off + 24),
    subjectLength: readU16(buf, off + 26),
    headersLength: readU16(buf, off + 28),
    reserved: readU16(buf, off + 30),
  };
}

/**
 * Why a record's fixed fields cannot belong to a valid record (before the CRC is
 * checked), or undefined if they can. `maxRecordBytes` bounds the whole record.
 */
export function headProblem(h: RecordHead, maxRecordBytes: number): string | undefined {
  if (h.length < MIN_RECORD_LENGTH) return 'length field too small';
  if (h.length + 4 > maxRecordBytes) return 'length field exceeds maxRecordBytes';
  if (h.flags !== 0 || h.reserved !== 0) return 'unknown flags';
  if (MIN_RECORD_LENGTH + h.subjectLength + h.headersLength > h.length) return 'field lengths exceed the record';
  if (h.headersLength === 1) return 'header block too short';
  if (!Number.isSafeInteger(h.seq) || h.seq < 1) return 'bad sequence';
  if (!Number.isSafeInteger(h.timestamp)) return 'bad timestamp';
  return undefined;
}

/** True when the CRC stored in the record at `off` (whole record in `buf`) matches. */
export function crcMatches(buf: Uint8Array, off: number, h: RecordHead): boolean {
  return crc32c(buf, off + 8, off + 4 + h.length) === h.crc;
}

/**
 * Decode a verified record at `off` into a {@link StoredRecord} with copied bytes.
 * Returns undefined when the subject is not valid UTF-8 or the header block is
 * malformed (never written by this code: treat as corruption).
 */
export function decodeRecord(buf: Uint8Array, off: number, h: RecordHead): StoredRecord | undefined {
  const sStart = off + RECORD_HEADER_BYTES;
  const hStart = sStart + h.subjectLength;
  const pStart = hStart + h.headersLength;
  const end = off + 4 + h.length;
  const subject = readUtf8(buf, sStart, hStart);
  if (subject === undefined) return undefined;
  let headers: Uint8Array | undefined;
  if (h.headersLength > 0) {
    headers = copyBytes(buf, hStart, pStart);
    if (!validateHeaderBlock(headers)) return undefined;
  }
  return { seq: h.seq, timestamp: h.timestamp, subject, headers, payload: copyBytes(buf, pStart, end), size: 4 + h.length };
}

// ---------------------------------------------------------------------------------
// Segment header

/** The 24-byte header every segment file starts with. */
export function encodeSegmentHeader(baseSeq: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  writeU32(b, 0, SEGMENT_MAGIC);
  writeU16(b, 4, FORMAT_VERSION);
  writeU64(b, 8, baseSeq);
  writeU32(b, 16, crc32c(b, 0, 16));
  return b;
}

/** Why a segment header is not valid for `baseSeq`, or undefined if it is. */
export function segmentHeaderProblem(b: Uint8Array, baseSeq: number): string | undefined {
  if (b.length < SEGMENT_HEADER_BYTES) return 'segment file shorter than its header';
  if (readU32(b, 0) !== SEGMENT_MAGIC) return 'not a segment file (bad magic)';
  if (crc32c(b, 0, 16) !== readU32(b, 16)) return 'segment header checksum mismatch';
  if (readU16(b, 4) !== FORMAT_VERSION) return `unsupported segment format version ${readU16(b, 4)}`;
  if (readU64(b, 8) !== baseSeq) return 'segment header base sequence does not match the file name';
  return undefined;
}

// ---------------------------------------------------------------------------------
// Index files

/** A sparse index of one segment, as parallel arrays (positions are file offsets). */
export interface SparseIndex {
  readonly seqs: number[];
  readonly positions: number[];
  /** Number of valid records before the entry's record in the segment. */
  readonly ordinals: number[];
  readonly timestamps: number[];
}

/** An empty {@link SparseIndex}. */
export function emptyIndex(): SparseIndex {
  return { seqs: [], positions: [], ordinals: [], timestamps: [] };
}

/** Encode an index file for a segment of `segmentSize` bytes. */
export function encodeIndexFile(baseSeq: number, segmentSize: number, intervalBytes: number, idx: SparseIndex): Buffer {
  const n = idx.seqs.length;
  const b = Buffer.alloc(INDEX_HEADER_BYTES + n * INDEX_ENTRY_BYTES + 4);
  writeU32(b, 0, INDEX_MAGIC);
  writeU16(b, 4, FORMAT_VERSION);
  writeU64(b, 8, baseSeq);
  writeU64(b, 16, segmentSize);
  writeU32(b, 24, n);
  writeU32(b, 28, intervalBytes);
  let o = INDEX_HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    writeU64(b, o, idx.seqs[i]!);
    writeU32(b, o + 8, idx.positions[i]!);
    writeU32(b, o + 12, idx.ordinals[i]!);
    writeU64(b, o + 16, idx.timestamps[i]!);
    o += INDEX_ENTRY_BYTES;
  }
  writeU32(b, o, crc32c(b, 0, o));
  return b;
}

/**
 * Decode an index file and check it is internally consistent and describes a segment
 * of exactly `segmentSize` bytes with base `baseSeq`. Returns undefined otherwise (the
 * caller rebuilds the index by scanning the segment).
 */
export function decodeIndexFile(b: Uint8Array, baseSeq: number, segmentSize: number): SparseIndex | undefined {
  if (b.length < INDEX_HEADER_BYTES + 4) return undefined;
  if (readU32(b, 0) !== INDEX_MAGIC || readU16(b, 4) !== FORMAT_VERSION) return undefined;
  const n = readU32(b, 24);
  if (b.length !== INDEX_HEADER_BYTES + n * INDEX_ENTRY_BYTES + 4) return undefined;
  if (crc32c(b, 0, b.length - 4) !== readU32(b, b.length - 4)) return undefined;
  if (readU64(b, 8) !== baseSeq || readU64(b, 16) !== segmentSize) return undefined;
  const idx = emptyIndex();
  let o = INDEX_HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    const seq = readU64(b, o);
    const pos = readU32(b, o + 8);
    const ord = readU32(b, o + 12);
    const ts = readU64(b, o + 16);
    o += INDEX_ENTRY_BYTES;
    const prev = i - 1;
    if (!Number.isSafeInteger(seq) || seq < baseSeq || !Number.isSafeInteger(ts)) return undefined;
    if (pos < SEGMENT_HEADER_BYTES || pos + RECORD_HEADER_BYTES > segmentSize) return undefined;
    if (i === 0 && (pos !== SEGMENT_HEADER_BYTES || ord !== 0)) return undefined;
    if (prev >= 0 && (seq <= idx.seqs[prev]! || pos <= idx.positions[prev]! || ord <= idx.ordinals[prev]! || ts < idx.timestamps[prev]!)) {
      return undefined;
    }
    idx.seqs.push(seq);
    idx.positions.push(pos);
    idx.ordinals.push(ord);
    idx.timestamps.push(ts);
  }
  if (n === 0 && segmentSize !== SEGMENT_HEADER_BYTES) return undefined;
  return idx;
}

// ---------------------------------------------------------------------------------
// Meta file (logical first-sequence marker)

/** Encode the meta file holding the first-sequence marker. */
export function encodeMeta(firstSeq: number): Buffer {
  const b = Buffer.alloc(META_BYTES);
  writeU32(b, 0, META_MAGIC);
  writeU16(b, 4, FORMAT_VERSION);
  writeU64(b, 8, firstSeq);
  writeU32(b, 16, crc32c(b, 0, 16));
  return b;
}

/** The marker in a meta file, or undefined if the file is damaged. */
export function decodeMeta(b: Uint8Array): number | undefined {
  if (b.length !== META_BYTES || readU32(b, 0) !== META_MAGIC || readU16(b, 4) !== FORMAT_VERSION) return undefined;
  if (crc32c(b, 0, 16) !== readU32(b, 16)) return undefined;
  const v = readU64(b, 8);
  return Number.isSafeInteger(v) && v >= 1 ? v : undefined;
}
