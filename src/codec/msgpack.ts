import { Packr, Unpackr } from 'msgpackr';
import { asDecodeError, asEncodeError, checkInput, resolveMaxBytes } from './errors.js';
import type { Codec, CodecOptions } from './types.js';

export const MSGPACK_CONTENT_TYPE = 'application/msgpack';

/**
 * MessagePack via msgpackr, in plain-MessagePack mode: no record extension (other
 * decoders can read what we write), maps decode to plain objects, no structured-clone
 * references. msgpackr renames a decoded `__proto__` key to `__proto_` (it never sets a
 * prototype); `constructor` and `prototype` keys stay ordinary own data. Binary values are
 * copied out of the payload (`copyBuffers`), so the payload buffer may be reused.
 */
export function msgpackCodec(options: CodecOptions = {}): Codec {
  const maxBytes = resolveMaxBytes(options.maxBytes);
  const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false, moreTypes: false, copyBuffers: true });
  return Object.freeze({
    name: 'msgpack',
    contentType: MSGPACK_CONTENT_TYPE,
    encode(value: unknown): Uint8Array {
      try {
        return packr.pack(value);
      } catch (err) {
        throw asEncodeError('msgpack', err);
      }
    },
    decode(bytes: Uint8Array): unknown {
      checkInput('msgpack', bytes, maxBytes);
      if (bytes.byteLength === 0) throw asDecodeError('msgpack', new Error('empty payload'));
      try {
        return unpackr.unpack(bytes);
      } catch (err) {
        throw asDecodeError('msgpack', err);
      }
    },
  });
}

/** The default MessagePack codec (1 MiB decode limit). */
export const msgpack: Codec = msgpackCodec();
