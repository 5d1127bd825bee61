/**
 * The binary message batch of fetch and stream-read replies (`binary: true` in the
 * request): payloads as they are, so a message of nearly the broker's maximum payload
 * can be fetched (the JSON reply, with base64 payloads, holds only about three quarters).
 *
 * Layout (big-endian): the 4 bytes `PXB1`, then per message
 * `u32 metaLength, meta (UTF-8 JSON), u32 dataLength, data`, to the end of the payload.
 * `meta` is a {@link WireDurableMessage} without `data`.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import { copyBytes } from '../wire/index.js';
import type { WireDurableMessage } from './config.js';

const MAGIC = [0x50, 0x58, 0x42, 0x31]; // "PXB1"
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One message of a batch: its metadata and its payload. */
export interface BatchEntry {
  readonly meta: Omit<WireDurableMessage, 'data'>;
  readonly data: Uint8Array;
}

/** Encode a batch. */
export function encodeBatch(entries: readonly BatchEntry[]): Uint8Array {
  const metas = entries.map((e) => encoder.encode(JSON.stringify(e.meta)));
  let size = 4;
  for (let i = 0; i < entries.length; i++) size += 8 + metas[i]!.length + entries[i]!.data.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  let at = 4;
  for (let i = 0; i < entries.length; i++) {
    const meta = metas[i]!;
    const data = entries[i]!.data;
    view.setUint32(at, meta.length);
    out.set(meta, at + 4);
    at += 4 + meta.length;
    view.setUint32(at, data.length);
    out.set(data, at + 4);
    at += 4 + data.length;
  }
  return out;
}

function malformed(why: string): PlexusError {
  return new PlexusError(ErrorCode.DECODE_FAILED, `malformed message batch: ${why}`);
}

/** Decode a batch; a malformed one is `PLEXUS_ERR_DECODE_FAILED`. The payloads are copies. */
export function decodeBatch(bytes: Uint8Array): BatchEntry[] {
  if (bytes.length < 4 || MAGIC.some((b, i) => bytes[i] !== b)) throw malformed('no PXB1 header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: BatchEntry[] = [];
  let at = 4;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw malformed('truncated meta length');
    const metaLen = view.getUint32(at);
    if (at + 4 + metaLen + 4 > bytes.length) throw malformed('truncated meta');
    let meta: BatchEntry['meta'];
    try {
      meta = JSON.parse(decoder.decode(bytes.subarray(at + 4, at + 4 + metaLen))) as BatchEntry['meta'];
    } catch {
      throw malformed('meta is not JSON');
    }
    at += 4 + metaLen;
    const dataLen = view.getUint32(at);
    if (at + 4 + dataLen > bytes.length) throw malformed('truncated data');
    out.push({ meta, data: copyBytes(bytes, at + 4, at + 4 + dataLen) });
    at += 4 + dataLen;
  }
  return out;
}
