import protobuf from 'protobufjs';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { asDecodeError, asEncodeError, checkInput, encodeFailed, resolveMaxBytes } from './errors.js';
import type { Codec, CodecOptions } from './types.js';

export const PROTOBUF_MEDIA_TYPE = 'application/x-protobuf';

/** A protobufjs `Root` (from a .proto file or a JSON descriptor). */
export type ProtoRoot = protobuf.Root;

function badSchema(what: string, err: unknown): PlexusError {
  const reason = err instanceof Error ? err.message : String(err);
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, `protobuf: cannot load ${what}: ${reason}`, { cause: err });
}

/** Load `.proto` file(s) at run time. A missing or invalid file is `PLEXUS_ERR_INVALID_ARGUMENT`. */
export async function loadProto(files: string | string[]): Promise<ProtoRoot> {
  try {
    return await protobuf.load(files);
  } catch (err) {
    throw badSchema(String(files), err);
  }
}

/** Load `.proto` file(s) at run time, synchronously. A missing or invalid file is `PLEXUS_ERR_INVALID_ARGUMENT`. */
export function loadProtoSync(files: string | string[]): ProtoRoot {
  try {
    return protobuf.loadSync(files);
  } catch (err) {
    throw badSchema(String(files), err);
  }
}

/**
 * Build a root from a JSON descriptor (the shape `root.toJSON()` and `pbjs -t json`
 * produce). An invalid descriptor is `PLEXUS_ERR_INVALID_ARGUMENT`.
 */
export function protoFromJson(descriptor: protobuf.INamespace): ProtoRoot {
  try {
    return protobuf.Root.fromJSON(descriptor);
  } catch (err) {
    throw badSchema('JSON descriptor', err);
  }
}

/** True if `type` or any message type reachable from it has a map field (the only place data names keys). */
function hasMapField(type: protobuf.Type, seen: Set<protobuf.Type>): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  for (const field of type.fieldsArray) {
    if (field.map) return true;
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type && hasMapField(field.resolvedType, seen)) return true;
  }
  return false;
}

/**
 * Delete own `__proto__` keys (protobufjs decodes a map key `__proto__` as own data, which
 * a later merge or `Object.assign` would turn into a prototype change).
 */
function dropProtoKeys(value: unknown): void {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return;
  if (Array.isArray(value)) {
    for (const v of value) dropProtoKeys(v);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(obj, '__proto__')) delete obj['__proto__'];
  for (const k of Object.keys(obj)) dropProtoKeys(obj[k]);
}

/** Conversion used on decode: enums as names, 64-bit integers as decimal strings, defaults filled in. */
const toObjectOptions: protobuf.IConversionOptions = { enums: String, longs: String, defaults: true, arrays: true, objects: true };

/**
 * A codec for one message type: `protobufCodec(root, 'calc.AddRequest')`. Its content
 * type is `application/x-protobuf; messageType=calc.AddRequest`, so the receiver can tell
 * message types apart. Encoding checks the value against the schema first; decoding gives
 * a plain object (field names as in the .proto, camelCase unless the root was loaded with
 * `keepCase`). A map entry whose key is `__proto__` is dropped on decode.
 */
export function protobufCodec(root: ProtoRoot, typeName: string, options: CodecOptions = {}): Codec {
  const maxBytes = resolveMaxBytes(options.maxBytes);
  let type: protobuf.Type;
  try {
    type = root.lookupType(typeName);
  } catch (err) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `protobuf: no message type ${JSON.stringify(typeName)} in the root`, { cause: err });
  }
  const fullName = type.fullName.replace(/^\./, '');
  let sanitize: boolean;
  try {
    sanitize = hasMapField(type, new Set());
  } catch (err) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `protobuf: ${fullName} refers to an unresolvable type`, { cause: err });
  }
  return Object.freeze({
    name: 'protobuf',
    contentType: `${PROTOBUF_MEDIA_TYPE}; messageType=${fullName}`,
    encode(value: unknown): Uint8Array {
      if (typeof value !== 'object' || value === null) throw encodeFailed('protobuf', `${fullName} needs an object`);
      const problem = type.verify(value as Record<string, unknown>);
      if (problem !== null) throw encodeFailed('protobuf', `${fullName}: ${problem}`);
      try {
        return type.encode(type.fromObject(value as Record<string, unknown>)).finish();
      } catch (err) {
        throw asEncodeError('protobuf', err);
      }
    },
    decode(bytes: Uint8Array): unknown {
      checkInput('protobuf', bytes, maxBytes);
      try {
        const value = type.toObject(type.decode(bytes), toObjectOptions);
        if (sanitize) dropProtoKeys(value);
        return value;
      } catch (err) {
        throw asDecodeError('protobuf', err);
      }
    },
  });
}
