import { asDecodeError, asEncodeError, checkInput, encodeFailed, resolveMaxBytes } from './errors.js';
import type { Codec, CodecOptions } from './types.js';

export const JSON_CONTENT_TYPE = 'application/json';

const encoder = new TextEncoder();
/**
 * Node's Buffer.from(string) is several times faster than TextEncoder for small strings
 * (it allocates from a pool); TextEncoder where there is no Buffer (browsers).
 */
const NodeBuffer = (globalThis as { Buffer?: { from(text: string, encoding: 'utf8'): Uint8Array } }).Buffer;
const encodeUtf8: (text: string) => Uint8Array =
  NodeBuffer === undefined ? (text) => encoder.encode(text) : (text) => NodeBuffer.from(text, 'utf8');
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Drop `__proto__` keys. JSON.parse itself creates them as own data properties (it never
 * sets a prototype), but an own `__proto__` key is a trap for any later merge or
 * `Object.assign`, so the decoded value never carries one.
 */
function dropProto(this: unknown, key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/**
 * UTF-8 JSON. Decoding drops every `__proto__` key; `constructor` and `prototype` keys
 * stay as ordinary own data. Objects have `Object.prototype`, arrays `Array.prototype`.
 */
export function jsonCodec(options: CodecOptions = {}): Codec {
  const maxBytes = resolveMaxBytes(options.maxBytes);
  return Object.freeze({
    name: 'json',
    contentType: JSON_CONTENT_TYPE,
    encode(value: unknown): Uint8Array {
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch (err) {
        throw asEncodeError('json', err);
      }
      if (text === undefined) throw encodeFailed('json', `a ${typeof value} has no JSON form`);
      return encodeUtf8(text);
    },
    decode(bytes: Uint8Array): unknown {
      checkInput('json', bytes, maxBytes);
      try {
        const text = decoder.decode(bytes);
        // The reviver costs a call per value, so use it only when the text could name a
        // `__proto__` key: literally, or spelled with \u escapes.
        return text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, dropProto) : JSON.parse(text);
      } catch (err) {
        throw asDecodeError('json', err);
      }
    },
  });
}

/** The default JSON codec (1 MiB decode limit). */
export const json: Codec = jsonCodec();
