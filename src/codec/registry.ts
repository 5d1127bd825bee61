import type { Headers } from '../wire/index.js';
import { cbor } from './cbor.js';
import { decodeFailed, checkInput, resolveMaxBytes } from './errors.js';
import { json } from './json.js';
import { msgpack } from './msgpack.js';
import type { Codec } from './types.js';

/** The message header that names a payload's codec. */
export const contentTypeHeader = 'content-type';

/** Content types to codecs. Lookups try the exact value first, then the bare media type. */
export interface CodecRegistry {
  get(contentType: string): Codec | undefined;
  /** A new registry with these codecs added (later ones win on the same content type). */
  with(...codecs: Codec[]): CodecRegistry;
  readonly codecs: readonly Codec[];
}

/** `application/JSON; charset=utf-8` → `application/json`. */
function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Build an immutable registry. */
export function createCodecRegistry(codecs: readonly Codec[]): CodecRegistry {
  const exact = new Map<string, Codec>();
  const byMedia = new Map<string, Codec>();
  for (const c of codecs) {
    exact.set(c.contentType, c);
    // A parameterised type (protobuf's messageType=…) is only found by its exact value.
    if (!c.contentType.includes(';')) byMedia.set(mediaType(c.contentType), c);
  }
  const list = Object.freeze([...codecs]);
  return Object.freeze({
    codecs: list,
    get(contentType: string): Codec | undefined {
      return exact.get(contentType) ?? exact.get(contentType.trim()) ?? byMedia.get(mediaType(contentType));
    },
    with(...more: Codec[]): CodecRegistry {
      return createCodecRegistry([...list, ...more]);
    },
  });
}

/** The built-in codecs: json, msgpack, cbor. Protobuf codecs are per message type: add them with `.with()`. */
export const defaultCodecs: CodecRegistry = createCodecRegistry([json, msgpack, cbor]);

/** The codec for a content type, or `undefined` if none is registered. */
export function codecFor(contentType: string, registry: CodecRegistry = defaultCodecs): Codec | undefined {
  return registry.get(contentType);
}

/** A payload plus the header that names its codec. */
export interface EncodedMessage {
  payload: Uint8Array;
  headers: { 'content-type': string };
}

/** Encode `value` with `codec` and return the payload with its `content-type` header. */
export function encodeWith(codec: Codec, value: unknown): EncodedMessage {
  return { payload: codec.encode(value), headers: { [contentTypeHeader]: codec.contentType } };
}

/** Options for `decodeMessage`. */
export interface DecodeMessageOptions {
  /** Where content types are looked up. Default: the built-in codecs. */
  registry?: CodecRegistry;
  /** Refuse payloads larger than this before choosing a codec (the codec applies its own limit too). */
  maxBytes?: number;
}

/**
 * Decode a message payload with the codec its `content-type` header names, or with
 * `fallback` (JSON by default) when there is no such header. An unknown content type is
 * `PLEXUS_ERR_DECODE_FAILED` with `details.reason: 'unknown-content-type'`.
 */
export function decodeMessage(
  payload: Uint8Array,
  headers: Readonly<Headers> | undefined,
  fallback: Codec = json,
  options: DecodeMessageOptions = {},
): unknown {
  if (options.maxBytes !== undefined) checkInput('codec', payload, resolveMaxBytes(options.maxBytes));
  const ct = headers !== undefined && Object.prototype.hasOwnProperty.call(headers, contentTypeHeader) ? headers[contentTypeHeader] : undefined;
  if (ct === undefined || ct === '') return fallback.decode(payload);
  const codec = (options.registry ?? defaultCodecs).get(ct);
  if (codec === undefined) {
    throw decodeFailed('codec', `no codec for content type ${JSON.stringify(ct)}`, undefined, {
      reason: 'unknown-content-type',
      contentType: ct,
    });
  }
  return codec.decode(payload);
}
