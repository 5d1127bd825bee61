/**
 * UTF-8 helpers written without TextEncoder/TextDecoder so the wire layer stays free
 * of host APIs. Subjects and header entries are short, and the ASCII fast path below
 * beats the host codecs for them.
 */

/** Number of bytes `s` takes in UTF-8 (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Write `s` as UTF-8 at `offset`; returns the offset after it. The caller sized the buffer. */
export function writeUtf8(buf: Uint8Array, offset: number, s: string): number {
  let o = offset;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[o++] = c;
    } else if (c < 0x800) {
      buf[o++] = 0xc0 | (c >> 6);
      buf[o++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && (next & 0xfc00) === 0xdc00) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          buf[o++] = 0xf0 | (cp >> 18);
          buf[o++] = 0x80 | ((cp >> 12) & 0x3f);
          buf[o++] = 0x80 | ((cp >> 6) & 0x3f);
          buf[o++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
        c = 0xfffd; // lone surrogate
      }
      buf[o++] = 0xe0 | (c >> 12);
      buf[o++] = 0x80 | ((c >> 6) & 0x3f);
      buf[o++] = 0x80 | (c & 0x3f);
    }
  }
  return o;
}

/** Encode a string to a fresh UTF-8 byte array. */
export function encodeUtf8(s: string): Uint8Array {
  const out = new Uint8Array(utf8Length(s));
  writeUtf8(out, 0, s);
  return out;
}

/**
 * Decode strict UTF-8 from `buf[start, end)`. Returns `undefined` for invalid input
 * (overlong forms, surrogates, truncated sequences) so callers can refuse the frame.
 */
export function readUtf8(buf: Uint8Array, start: number, end: number): string | undefined {
  // ASCII fast path: most subjects and header keys. fromCharCode.apply over a view is
  // about twice as fast as concatenating one character at a time.
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    let s = '';
    for (let i = start; i < end; i += 4096) {
      const stop = Math.min(end, i + 4096);
      s += String.fromCharCode.apply(null, buf.subarray(i, stop) as unknown as number[]);
    }
    return s;
  }
  const units: number[] = [];
  if (!scanUtf8(buf, start, end, units)) return undefined;
  let s = '';
  for (let k = 0; k < units.length; k += 4096) s += String.fromCharCode.apply(null, units.slice(k, k + 4096));
  return s;
}

/**
 * True if `buf[start, end)` is strict UTF-8 (same rules as `readUtf8`), without building
 * a string: used to validate header blocks that are forwarded, not read.
 */
export function isValidUtf8(buf: Uint8Array, start: number, end: number): boolean {
  return scanUtf8(buf, start, end, undefined);
}

/**
 * The one strict UTF-8 scanner: rejects overlong forms, surrogates, code points past
 * U+10FFFF and truncated sequences; pushes UTF-16 code units to `units` when given.
 */
function scanUtf8(buf: Uint8Array, start: number, end: number, units: number[] | undefined): boolean {
  let i = start;
  while (i < end) {
    const b0 = buf[i]!;
    if (b0 < 0x80) {
      units?.push(b0);
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      min = 0x80;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      min = 0x800;
      cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      min = 0x10000;
      cp = b0 & 0x07;
    } else return false;
    if (i + need >= end) return false; // truncated sequence
    for (let k = 1; k <= need; k++) {
      const b = buf[i + k]!;
      if ((b & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (units) {
      if (cp >= 0x10000) {
        const v = cp - 0x10000;
        units.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      } else units.push(cp);
    }
    i += need + 1;
  }
  return true;
}
