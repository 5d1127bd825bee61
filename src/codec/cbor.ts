import { Decoder, Encoder } from 'cbor-x';
import { asDecodeError, asEncodeError, checkInput, resolveMaxBytes } from './errors.js';
import type { Codec, CodecOptions } from './types.js';

export const CBOR_CONTENT_TYPE = 'application/cbor';

/**
 * CBOR (RFC 8949) via cbor-x, in plain-CBOR mode: no record extension, maps decode to
 * plain objects, byte strings untagged. cbor-x renames a decoded `__proto__` key to
 * `__proto_` (it never sets a prototype); `constructor` and `prototype` keys stay
 * ordinary own data. Binary values are copied out of the payload (`copyBuffers`).
 */
export function cborCodec(options: CodecOptions = {}): Codec {
  const maxBytes = resolveMaxBytes(options.maxBytes);
  const encoder = new Encoder({ useRecords: false, tagUint8Array: false, structuredClone: false, pack: false });
  const decoder = new Decoder({ useRecords: false, mapsAsObjects: true, structuredClone: false, copyBuffers: true });
  return Object.freeze({
    name: 'cbor',
    contentType: CBOR_CONTENT_TYPE,
    encode(value: unknown): Uint8Array {
      try {
        return encoder.encode(value);
      } catch (err) {
        throw asEncodeError('cbor', err);
      }
    },
    decode(bytes: Uint8Array): unknown {
      checkInput('cbor', bytes, maxBytes);
      if (bytes.byteLength === 0) throw asDecodeError('cbor', new Error('empty payload'));
      try {
        return decoder.decode(bytes);
      } catch (err) {
        throw asDecodeError('cbor', err);
      }
    },
  });
}

/** The default CBOR codec (1 MiB decode limit). */
export const cbor: Codec = cborCodec();
