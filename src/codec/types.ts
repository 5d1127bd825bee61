/**
 * A codec turns application values into message payloads and back. The codec's
 * `contentType` travels in the `content-type` message header so the receiver can pick
 * the matching codec (see docs/codecs.md).
 */
export interface Codec {
  /** Short name: `json`, `msgpack`, `cbor`, `protobuf`. */
  readonly name: string;
  /** The value carried in the `content-type` header. */
  readonly contentType: string;
  /** Encode a value; throws `PLEXUS_ERR_ENCODE_FAILED` when the value cannot be represented. */
  encode(value: unknown): Uint8Array;
  /**
   * Decode a payload; throws `PLEXUS_ERR_DECODE_FAILED` for malformed input or input over
   * the codec's size limit. Never modifies `Object.prototype` and never returns objects
   * whose prototype was set from the input.
   */
  decode(bytes: Uint8Array): unknown;
}

/** Options shared by the built-in codec factories. */
export interface CodecOptions {
  /** Largest payload `decode` accepts, checked before parsing. Default 1 MiB. */
  maxBytes?: number;
}

/** Default decode size limit: 1 MiB. */
export const DEFAULT_MAX_DECODE_BYTES = 1024 * 1024;
