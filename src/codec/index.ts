/**
 * Codecs: application values ↔ message payloads, named by the `content-type` header.
 * A layer beside src/wire: imports src/errors and src/wire only. See docs/codecs.md.
 */
export type { Codec, CodecOptions } from './types.js';
export { DEFAULT_MAX_DECODE_BYTES } from './types.js';
export { json, jsonCodec, JSON_CONTENT_TYPE } from './json.js';
export { msgpack, msgpackCodec, MSGPACK_CONTENT_TYPE } from './msgpack.js';
export { cbor, cborCodec, CBOR_CONTENT_TYPE } from './cbor.js';
export { protobufCodec, loadProto, loadProtoSync, protoFromJson, PROTOBUF_MEDIA_TYPE } from './protobuf.js';
export type { ProtoRoot } from './protobuf.js';
export {
  codecFor,
  contentTypeHeader,
  createCodecRegistry,
  decodeMessage,
  defaultCodecs,
  encodeWith,
} from './registry.js';
export type { CodecRegistry, DecodeMessageOptions, EncodedMessage } from './registry.js';
