import { MAX_FIELD_BYTES } from './constants.js';
import { isValidUtf8, readUtf8, utf8Length, writeUtf8 } from './utf8.js';

/**
 * Message headers: string keys to string values. A null-prototype object so keys such
 * as `__proto__` or `constructor` are plain data (no prototype pollution).
 */
export type Headers = Record<string, string>;

/**
 * Header keys starting with ':' are reserved for the broker (for example `:from`, the
 * sender identity it stamps). Clients cannot send them.
 */
export const RESERVED_PREFIX = ':';

/** The header the broker stamps with the sender's authenticated identity. */
export const FROM_HEADER = ':from';

/** The header the broker stamps with the sender's connection id (for replies and audits). */
export const CONN_HEADER = ':conn';

/**
 * The header the broker stamps with the sender's kernel-verified process credentials,
 * `uid=<n> gid=<n> pid=<n>`, on messages from connections that have them (Unix sockets
 * on Linux with the native addon). Absent otherwise.
 */
export const PEER_HEADER = ':peer';

/**
 * Encode headers into a block: u16 count, then per entry u16 key length, key bytes,
 * u16 value length, value bytes (UTF-8, big-endian lengths). Returns `undefined` for an
 * empty set. Throws RangeError if the block exceeds 65,535 bytes or a key is empty.
 */
export function encodeHeaders(headers: Readonly<Record<string, string>> | undefined): Uint8Array | undefined {
  if (headers === undefined) return undefined;
  const keys = Object.keys(headers);
  if (keys.length === 0) return undefined;
  let size = 2;
  const lens: number[] = [];
  for (const k of keys) {
    const v = headers[k];
    if (typeof v !== 'string') throw new TypeError(`header ${JSON.stringify(k)} must be a string`);
    const kl = utf8Length(k);
    const vl = utf8Length(v);
    if (kl === 0) throw new RangeError('header keys must not be empty');
    if (kl > MAX_FIELD_BYTES || vl > MAX_FIELD_BYTES) throw new RangeError('header entry too large');
    lens.push(kl, vl);
    size += 4 + kl + vl;
  }
  if (size > MAX_FIELD_BYTES) throw new RangeError(`header block of ${size} bytes exceeds ${MAX_FIELD_BYTES}`);
  if (keys.length > 0xffff) throw new RangeError('too many headers');
  const out = new Uint8Array(size);
  out[0] = keys.length >> 8;
  out[1] = keys.length & 0xff;
  let o = 2;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const kl = lens[2 * i]!;
    const vl = lens[2 * i + 1]!;
    out[o] = kl >> 8;
    out[o + 1] = kl & 0xff;
    o = writeUtf8(out, o + 2, k);
    out[o] = vl >> 8;
    out[o + 1] = vl & 0xff;
    o = writeUtf8(out, o + 2, headers[k]!);
  }
  return out;
}

/**
 * Check a header block's structure without allocating strings. Returns false when
 * lengths do not add up exactly, a key is empty, or text is not valid UTF-8.
 */
export function validateHeaderBlock(block: Uint8Array): boolean {
  return walkHeaders(block, undefined);
}

/** Decode a header block; returns `undefined` if it is malformed. Later duplicates win. */
export function decodeHeaders(block: Uint8Array | undefined): Headers | undefined {
  const out: Headers = Object.create(null) as Headers;
  if (block === undefined) return out;
  const ok = walkHeaders(block, (k, v) => {
    out[k] = v;
    return true;
  });
  return ok ? out : undefined;
}

/** True if any key in the (valid) block starts with the reserved ':' prefix. */
export function hasReservedHeader(block: Uint8Array): boolean {
  let found = false;
  walkHeaders(block, (k) => {
    if (k.startsWith(RESERVED_PREFIX)) found = true;
    return !found;
  });
  return found;
}

/**
 * Append encoded entries (`entries` of them) to an encoded block (or start a block). Used by the broker to stamp
 * `:from` without re-encoding the sender's headers. Returns undefined if it would
 * exceed the 65,535-byte block limit.
 */
export function appendHeader(block: Uint8Array | undefined, entry: Uint8Array, entries = 1): Uint8Array | undefined {
  const base = block ?? new Uint8Array([0, 0]);
  const count = (base[0]! << 8) | base[1]!;
  if (count + entries > 0xffff || base.length + entry.length > MAX_FIELD_BYTES) return undefined;
  const out = new Uint8Array(base.length + entry.length);
  out.set(base, 0);
  out.set(entry, base.length);
  out[0] = (count + entries) >> 8;
  out[1] = (count + entries) & 0xff;
  return out;
}

/** Encode one header entry (without the count prefix), for `appendHeader`. */
export function encodeHeaderEntry(key: string, value: string): Uint8Array {
  const block = encodeHeaders({ [key]: value })!;
  return block.subarray(2);
}

/**
 * Walk a header block, checking structure and UTF-8. With `visit`, each entry is decoded
 * and passed to it (return false to stop early); without, nothing is allocated.
 */
function walkHeaders(block: Uint8Array, visit: ((key: string, value: string) => boolean) | undefined): boolean {
  if (block.length < 2) return false;
  const count = (block[0]! << 8) | block[1]!;
  let o = 2;
  for (let i = 0; i < count; i++) {
    if (o + 2 > block.length) return false;
    const kl = (block[o]! << 8) | block[o + 1]!;
    o += 2;
    if (kl === 0 || o + kl + 2 > block.length) return false;
    const ks = o;
    o += kl;
    const vl = (block[o]! << 8) | block[o + 1]!;
    o += 2;
    if (o + vl > block.length) return false;
    const vs = o;
    o += vl;
    if (!visit) {
      if (!isValidUtf8(block, ks, ks + kl) || !isValidUtf8(block, vs, vs + vl)) return false;
      continue;
    }
    const key = readUtf8(block, ks, ks + kl);
    const value = readUtf8(block, vs, vs + vl);
    if (key === undefined || value === undefined) return false;
    if (!visit(key, value)) return true;
  }
  return o === block.length;
}
