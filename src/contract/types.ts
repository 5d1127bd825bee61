/**
 * The shapes of a service contract and the types inferred from its schemas. Types only
 * (plus nothing at run time), so every other contract file can import it.
 */
import type { Codec } from '../codec/index.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** Any Standard Schema. */
export type AnySchema = StandardSchemaV1;

/** The codecs a contract or a call can name; a `Codec` object may be passed instead. */
export type CodecName = 'json' | 'msgpack' | 'cbor';

/** How a method streams: not at all (unary), server → client, or client → server. */
export type StreamKind = 'server' | 'client';

/** One method of a service. */
export interface MethodDefinition {
  /** Schema of the request. */
  readonly input: AnySchema;
  /** Schema of the reply (each item, for a server-streaming method). */
  readonly output: AnySchema;
  /** Streaming shape; absent for unary methods. */
  readonly stream?: StreamKind;
  /**
   * Safe to run more than once: enables retries (on no responders, responder gone,
   * connection lost) and re-sending across a reconnect. @default false
   */
  readonly idempotent?: boolean;
  /** Has no side effects: an HTTP gateway may expose it as GET. @default false */
  readonly safe?: boolean;
  /** Default deadline of a call, in ms (a call or client option may override it). */
  readonly timeoutMs?: number;
  /** Free text for discovery and generated docs. */
  readonly description?: string;
  /**
   * Codecs of this method's input and output (protobuf: one codec per message type, from
   * `protobufCodec(root, 'pkg.Msg')`). They replace the service's and the call's codec for
   * this method; a server still answers a request in another codec (e.g. JSON from a
   * gateway) in that codec.
   */
  readonly codecs?: MethodCodecs;
}

/** A method's own input and output codecs. */
export interface MethodCodecs {
  readonly input: Codec;
  readonly output: Codec;
}

/** What `defineService` takes besides the name. */
export interface ServiceDefinition {
  /** Semantic version `MAJOR.MINOR.PATCH`; the major is part of every subject. */
  readonly version: string;
  /**
   * The codec requests use unless a client or call picks another. `'protobuf'` requires
   * every method to declare its `codecs` (events then use JSON). @default 'json'
   */
  readonly codec?: CodecName | 'protobuf' | Codec;
  /** Free text for discovery and generated docs. */
  readonly description?: string;
  /** Methods by name (identifiers: letters, digits, `_`, starting with a letter). */
  readonly methods: Readonly<Record<string, MethodDefinition>>;
  /** Events by name; each a schema of the event's payload. */
  readonly events?: Readonly<Record<string, AnySchema>>;
}

/** A defined service: its definition, frozen, plus what was derived from it. */
export interface ServiceContract<Name extends string = string, Def extends ServiceDefinition = ServiceDefinition> {
  readonly kind: 'plexus.service';
  readonly name: Name;
  readonly version: string;
  /** The major version, from `version`. */
  readonly major: number;
  /** The service's default codec. */
  readonly codec: Codec;
  readonly description: string | undefined;
  readonly methods: Def['methods'];
  readonly events: Def['events'] extends Readonly<Record<string, AnySchema>> ? Def['events'] : Record<never, AnySchema>;
  /** The definition as given. */
  readonly definition: Def;
}

/** The type a schema accepts. */
export type In<S> = S extends StandardSchemaV1<infer I, unknown> ? I : never;
/** The type a schema produces. */
export type Out<S> = S extends StandardSchemaV1<unknown, infer O> ? O : never;

/** Methods of a contract. */
export type MethodsOf<C extends ServiceContract> = C['methods'];
/** Method names of a contract. */
export type MethodName<C extends ServiceContract> = keyof C['methods'] & string;
/** Event names of a contract. */
export type EventName<C extends ServiceContract> = keyof C['events'] & string;

/** What the caller passes to a method. */
export type CallInput<M extends MethodDefinition> = In<M['input']>;
/** What the caller gets back from a method (each item, if it streams). */
export type CallOutput<M extends MethodDefinition> = Out<M['output']>;
/** What a handler receives (after validation and its transforms). */
export type HandlerInput<M extends MethodDefinition> = Out<M['input']>;
/** What a handler returns (before output validation). */
export type HandlerOutput<M extends MethodDefinition> = In<M['output']>;
