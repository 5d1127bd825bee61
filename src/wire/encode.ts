import { HEADER_BYTES, KNOWN_FLAGS, MAX_FIELD_BYTES } from './constants.js';
import { EMPTY, payloadLength, type FrameInit } from './frame.js';
import { writeUtf8 } from './utf8.js';

/**
 * An upper bound on the encoded size of `init`, cheap to compute (strings counted at
 * 3 bytes per UTF-16 unit). Use it to reserve space before `writeFrame`.
 */
export function maxEncodedLength(init: FrameInit): number {
  return (
    HEADER_BYTES +
    3 * ((init.subject?.length ?? 0) + (init.reply?.length ?? 0)) +
    (init.headers?.length ?? 0) +
    (init.payloadFrom ? payloadLength(init.payloadFrom) : (init.payload?.length ?? 0))
  );
}

/**
 * Write `init` as one frame at `offset` of `buf` (which must have `maxEncodedLength`
 * bytes free) and return the offset after it. Throws RangeError for fields that do
 * not fit their 16-bit lengths — callers validate user input before this point.
 */
export function writeFrame(buf: Uint8Array, offset: number, init: FrameInit, omitPayload = false): number {
  const flags = init.flags ?? 0;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new RangeError(`unknown flag bits 0x${flags.toString(16)}`);
  const id = init.id ?? 0;
  const aux = init.aux ?? 0;
  const headers = init.headers;
  // A source frame that was not decoded from a buffer (built in memory) has only `payload`.
  const source = init.payloadFrom;
  const payload = init.payload ?? (source !== undefined && source.raw === undefined ? source.payload : EMPTY);
  const hl = headers?.length ?? 0;
  if (hl > MAX_FIELD_BYTES) throw new RangeError('header block too large');

  let o = offset + HEADER_BYTES;
  let sl: number;
  let rl: number;
  const names = init.namesFrom;
  if (names !== undefined && names.raw !== undefined) {
    sl = names.rawSubjectBytes!;
    rl = names.rawReplyBytes!;
    const src = names.raw;
    const from = names.rawNamesStart!;
    for (let i = 0, n = sl + rl; i < n; i++) buf[o + i] = src[from + i]!;
    o += sl + rl;
  } else {
    const subjectEnd = init.subject ? writeUtf8(buf, o, init.subject) : o;
    sl = subjectEnd - o;
    o = subjectEnd;
    const replyEnd = init.reply ? writeUtf8(buf, o, init.reply) : o;
    rl = replyEnd - o;
    o = replyEnd;
  }
  if (sl > MAX_FIELD_BYTES || rl > MAX_FIELD_BYTES) throw new RangeError('subject too long');
  if (headers !== undefined && hl > 0) o = copyBytes(buf, o, headers);
  const from = init.payloadFrom;
  if (omitPayload) {
    // The caller sends the payload itself, right after these bytes; the length counts it.
    o += from !== undefined && from.raw !== undefined ? payloadLength(from) : payload.length;
  } else if (from !== undefined && from.raw !== undefined) {
    const start = from.rawStart!;
    const n = from.rawEnd! - start;
    const src = from.raw;
    if (n > 64) buf.set(src.subarray(start, start + n), o);
    else for (let i = 0; i < n; i++) buf[o + i] = src[start + i]!;
    o += n;
  } else if (payload.length > 0) o = copyBytes(buf, o, payload);
  const body = o - offset - 4;
  if (omitPayload) o -= from !== undefined && from.raw !== undefined ? payloadLength(from) : payload.length;
  buf[offset] = body >>> 24;
  buf[offset + 1] = (body >>> 16) & 0xff;
  buf[offset + 2] = (body >>> 8) & 0xff;
  buf[offset + 3] = body & 0xff;
  buf[offset + 4] = init.type;
  buf[offset + 5] = flags;
  buf[offset + 6] = id >>> 24;
  buf[offset + 7] = (id >>> 16) & 0xff;
  buf[offset + 8] = (id >>> 8) & 0xff;
  buf[offset + 9] = id & 0xff;
  buf[offset + 10] = aux >>> 24;
  buf[offset + 11] = (aux >>> 16) & 0xff;
  buf[offset + 12] = (aux >>> 8) & 0xff;
  buf[offset + 13] = aux & 0xff;
  buf[offset + 14] = sl >>> 8;
  buf[offset + 15] = sl & 0xff;
  buf[offset + 16] = rl >>> 8;
  buf[offset + 17] = rl & 0xff;
  buf[offset + 18] = hl >>> 8;
  buf[offset + 19] = hl & 0xff;
  return o;
}

/** Encode one frame into a new, exactly sized array. */
export function encodeFrame(init: FrameInit): Uint8Array {
  const tmp = new Uint8Array(maxEncodedLength(init));
  const end = writeFrame(tmp, 0, init);
  return end === tmp.length ? tmp : tmp.slice(0, end);
}

/** Copy `src` into `dst` at `o`; a plain loop beats `set()`'s call overhead for small arrays. */
function copyBytes(dst: Uint8Array, o: number, src: Uint8Array): number {
  const n = src.length;
  if (n > 64) {
    dst.set(src, o);
    return o + n;
  }
  for (let i = 0; i < n; i++) dst[o + i] = src[i]!;
  return o + n;
}
