/**
 * A `.proto` service as the bridge needs it: its methods with their message types, a
 * grpc-js service definition (serializers made with protobufjs, so @grpc/proto-loader is
 * not needed), a Plexus contract whose schemas are the message types, and the protobuf
 * codecs that carry the same messages over the bus.
 */
import protobuf from 'protobufjs';
import type { ServiceDefinition as GrpcServiceDefinition, MethodDefinition as GrpcMethodDefinition } from '@grpc/grpc-js';
import type { Codec } from '../codec/index.js';
import { PROTOBUF_MEDIA_TYPE, loadProto, type ProtoRoot } from '../codec/index.js';
import { defineService } from '../contract/define.js';
import type { StandardSchemaV1 } from '../contract/standard-schema.js';
import type { MethodDefinition, ServiceContract, StreamKind } from '../contract/types.js';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** How a gRPC method streams. */
export type GrpcStreamKind = 'unary' | 'server' | 'client' | 'bidi';

/** One rpc of a `.proto` service. */
export interface ProtoMethod {
  /** As written in the .proto (`Add`). */
  readonly name: string;
  /** The gRPC path: `/calc.Calculator/Add`. */
  readonly path: string;
  readonly kind: GrpcStreamKind;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  /** Request messages ↔ bytes. */
  readonly request: MessageCodec;
  /** Response messages ↔ bytes. */
  readonly response: MessageCodec;
}

/** A `.proto` service, resolved. */
export interface ProtoService {
  readonly root: ProtoRoot;
  /** Fully qualified: `calc.Calculator`. */
  readonly fullName: string;
  readonly methods: readonly ProtoMethod[];
}

/** Bytes ↔ plain objects for one message type, with a size limit on decode. */
export interface MessageCodec {
  readonly typeName: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): Record<string, unknown>;
}

/** Largest message the bridge decodes unless told otherwise: gRPC's own default, 4 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Decoded form: enums as names, 64-bit integers as decimal strings (no precision loss),
 * bytes as Uint8Array, defaults filled in — the same as src/codec's protobuf codec.
 */
const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, defaults: true, arrays: true, objects: true };

function messageCodec(type: protobuf.Type, maxBytes: number): MessageCodec {
  const typeName = type.fullName.replace(/^\./, '');
  return {
    typeName,
    encode(value) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new PlexusError(ErrorCode.ENCODE_FAILED, `protobuf: ${typeName} needs an object`);
      }
      try {
        // fromObject accepts what decode gives back (enum names, 64-bit strings).
        return type.encode(type.fromObject(value as Record<string, unknown>)).finish();
      } catch (err) {
        throw new PlexusError(ErrorCode.ENCODE_FAILED, `protobuf: cannot encode ${typeName}: ${(err as Error).message}`, { cause: err });
      }
    },
    decode(bytes) {
      if (bytes.length > maxBytes) {
        throw new PlexusError(ErrorCode.DECODE_FAILED, `protobuf: ${typeName} of ${bytes.length} bytes is over the ${maxBytes}-byte limit`);
      }
      try {
        const obj = type.toObject(type.decode(bytes), TO_OBJECT);
        dropProtoKeys(obj);
        return obj;
      } catch (err) {
        throw new PlexusError(ErrorCode.DECODE_FAILED, `protobuf: malformed ${typeName}: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

/** Map keys named `__proto__` become own data in protobufjs; drop them before anyone merges the object. */
function dropProtoKeys(value: unknown): void {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return;
  if (Array.isArray(value)) {
    for (const v of value) dropProtoKeys(v);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (Object.hasOwn(obj, '__proto__')) delete obj['__proto__'];
  for (const k of Object.keys(obj)) dropProtoKeys(obj[k]);
}

/** Options for {@link loadProtoService}. */
export interface ProtoServiceOptions {
  /** Largest message decoded. @default 4 MiB */
  readonly maxMessageBytes?: number;
}

/**
 * Resolve `serviceName` (`calc.Calculator`) in a root, or load it from `.proto` file(s).
 * @throws PLEXUS_ERR_INVALID_ARGUMENT for a missing file, a broken schema or no such service.
 */
export async function loadProtoService(
  proto: ProtoRoot | string | string[],
  serviceName: string,
  options: ProtoServiceOptions = {},
): Promise<ProtoService> {
  const root = typeof proto === 'string' || Array.isArray(proto) ? await loadProto(proto) : proto;
  return protoService(root, serviceName, options);
}

/** Resolve a service in an already loaded root (see {@link loadProtoService}). */
export function protoService(root: ProtoRoot, serviceName: string, options: ProtoServiceOptions = {}): ProtoService {
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `maxMessageBytes must be a positive integer, got ${String(maxBytes)}`);
  }
  let service: protobuf.Service;
  try {
    service = root.lookupService(serviceName);
    service.resolveAll();
  } catch (err) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `protobuf: no service ${JSON.stringify(serviceName)} (${(err as Error).message})`, { cause: err });
  }
  const fullName = service.fullName.replace(/^\./, '');
  const methods = service.methodsArray.map((m): ProtoMethod => {
    const requestType = m.resolvedRequestType!;
    const responseType = m.resolvedResponseType!;
    const kind: GrpcStreamKind = m.requestStream ? (m.responseStream ? 'bidi' : 'client') : m.responseStream ? 'server' : 'unary';
    return {
      name: m.name,
      path: `/${fullName}/${m.name}`,
      kind,
      requestType,
      responseType,
      request: messageCodec(requestType, maxBytes),
      response: messageCodec(responseType, maxBytes),
    };
  });
  return { root, fullName, methods };
}

/** The grpc-js service definition of a proto service (for `Server.addService` and clients). */
export function grpcDefinition(svc: ProtoService): GrpcServiceDefinition {
  const def: Record<string, GrpcMethodDefinition<unknown, unknown>> = {};
  for (const m of svc.methods) {
    def[m.name] = {
      path: m.path,
      requestStream: m.kind === 'client' || m.kind === 'bidi',
      responseStream: m.kind === 'server' || m.kind === 'bidi',
      requestSerialize: (v: unknown) => Buffer.from(m.request.encode(v)),
      requestDeserialize: (b: Buffer) => m.request.decode(b),
      responseSerialize: (v: unknown) => Buffer.from(m.response.encode(v)),
      responseDeserialize: (b: Buffer) => m.response.decode(b),
      originalName: m.name,
    };
  }
  return def;
}

/**
 * A Standard Schema for a message type, by protobufjs's own rules: the value must be an
 * object that `fromObject` accepts and whose message `verify` passes. protobufjs converts
 * leniently (a numeric string for a number field is taken); use your own schemas (zod,
 * valibot) in {@link protoContract}'s `schemas` for stricter checks.
 */
export function messageSchema(type: protobuf.Type): StandardSchemaV1<Record<string, unknown>> {
  const typeName = type.fullName.replace(/^\./, '');
  return {
    '~standard': {
      version: 1,
      vendor: 'plexus-protobuf',
      validate(value: unknown) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          return { issues: [{ message: `expected a ${typeName} object` }] };
        }
        try {
          const problem = type.verify(type.fromObject(value as Record<string, unknown>));
          if (problem !== null) return { issues: [{ message: `${typeName}: ${problem}` }] };
        } catch (err) {
          return { issues: [{ message: `${typeName}: ${(err as Error).message}` }] };
        }
        return { value: value as Record<string, unknown> };
      },
    },
  };
}

/** Options for {@link protoContract}. */
export interface ProtoContractOptions {
  /** Semver of the contract. */
  readonly version: string;
  /** Contract (service) name on the bus. @default the service's simple name (`Calculator`) */
  readonly name?: string;
  /** Only the unary rpcs (what `serveService` serves on the bus today). @default false */
  readonly unaryOnly?: boolean;
  /** Per method: stricter schemas, deadlines, idempotency. */
  readonly methods?: Readonly<Record<string, Partial<Omit<MethodDefinition, 'stream'>>>>;
}

/**
 * A Plexus contract for a `.proto` service: one method per rpc, named as in the .proto,
 * with the message types as schemas. Bidirectional-streaming rpcs are left out (the
 * contract model has no such kind); {@link serveGrpc} serves them from the proto alone.
 */
export function protoContract(svc: ProtoService, options: ProtoContractOptions): ServiceContract {
  const methods: Record<string, MethodDefinition> = {};
  for (const m of svc.methods) {
    if (m.kind === 'bidi' || (options.unaryOnly && m.kind !== 'unary')) continue;
    const extra = options.methods?.[m.name] ?? {};
    const stream: StreamKind | undefined = m.kind === 'unary' ? undefined : m.kind;
    methods[m.name] = {
      input: messageSchema(m.requestType),
      output: messageSchema(m.responseType),
      ...extra,
      ...(stream ? { stream } : {}),
    };
  }
  const name = options.name ?? svc.fullName.slice(svc.fullName.lastIndexOf('.') + 1);
  return defineService(name, { version: options.version, methods });
}

/** Codecs that carry one rpc's messages over the bus in binary protobuf. */
export interface ProtoBusCodecs {
  /** For `serveService(..., { codecs: server })`: decodes requests, encodes responses. */
  readonly server: readonly Codec[];
  /** Per method, for calls (`callMethod(..., { codec: client.Add })`): encodes requests, decodes responses. */
  readonly client: Readonly<Record<string, Codec>>;
}

/**
 * Binary protobuf on the bus. A Plexus codec encodes a request and its reply with one
 * codec, but an rpc has two message types, so each method gets a pair that share one
 * content type (`application/x-protobuf; messageType=<request type>; rpc=<path>`): the
 * caller's encodes the request and decodes the reply, the server's the other way round.
 */
export function protoBusCodecs(svc: ProtoService): ProtoBusCodecs {
  const server: Codec[] = [];
  const client: Record<string, Codec> = {};
  for (const m of svc.methods) {
    const contentType = `${PROTOBUF_MEDIA_TYPE}; messageType=${m.request.typeName}; rpc=${m.path}`;
    server.push(Object.freeze({ name: 'protobuf', contentType, encode: (v: unknown) => m.response.encode(v), decode: (b: Uint8Array) => m.request.decode(b) }));
    client[m.name] = Object.freeze({ name: 'protobuf', contentType, encode: (v: unknown) => m.request.encode(v), decode: (b: Uint8Array) => m.response.decode(b) });
  }
  return { server: Object.freeze(server), client: Object.freeze(client) };
}
