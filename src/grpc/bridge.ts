/**
 * The bridge in both directions, for unary, server-streaming and client-streaming rpcs:
 *
 * - `bridgeGrpcService`: an external gRPC server becomes a service on the bus. Its rpcs
 *   are served on `$SRV.<name>.<major>.<rpc>` (binary protobuf); each bus request is
 *   forwarded as a gRPC call carrying the caller's remaining time as the gRPC deadline,
 *   its cancellation as a gRPC cancel, and its headers as metadata. gRPC statuses come
 *   back as Plexus errors (status.ts).
 * - `busForwarder`: the other way, an `impl` for {@link serveGrpc} whose handlers call the
 *   service on the bus, so gRPC clients reach handlers served anywhere on the bus.
 */
import { once } from 'node:events';
import type { Client, ChannelCredentials, Metadata, ServiceError as GrpcError } from '@grpc/grpc-js';
import type { Connection } from '../client/index.js';
import { callMethod } from '../contract/call.js';
import { callClientStream, callServerStream } from '../contract/stream-call.js';
import type { HandlerContext } from '../contract/context.js';
import { serveService, type ServeServiceOptions, type ServiceServer } from '../contract/serve.js';
import type { ServiceImpl } from '../contract/handler-types.js';
import type { ServiceContract } from '../contract/types.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { loadGrpc } from './load.js';
import { protoBusCodecs, protoContract, type ProtoBusCodecs, type ProtoContractOptions, type ProtoMethod, type ProtoService } from './proto.js';
import { fromStatus } from './status.js';

/** Options for {@link bridgeGrpcService}. */
export interface BridgeGrpcOptions {
  /** The `.proto` service the target serves. */
  readonly proto: ProtoService;
  /** The gRPC server, `host:port`. */
  readonly target: string;
  /** Contract version and name on the bus (see `protoContract`). */
  readonly contract: ProtoContractOptions;
  /** Channel credentials (TLS). @default insecure */
  readonly credentials?: ChannelCredentials;
  /** Deadline of a forwarded call whose bus caller set none, in ms. @default 30000 */
  readonly defaultTimeoutMs?: number;
  /** Passed to `serveService` (queue group, metadata, log, …). */
  readonly serve?: Omit<ServeServiceOptions, 'codecs'>;
}

/** A running bus → gRPC bridge. */
export interface GrpcBridge {
  /** The contract served on the bus (the proto's rpcs but bidirectional ones). */
  readonly contract: ServiceContract;
  /** Per-rpc codecs for bus callers: `callMethod(bus, contract, 'Add', input, { codec: codecs.client.Add })`. */
  readonly codecs: ProtoBusCodecs;
  readonly server: ServiceServer;
  /** Stop serving on the bus and close the gRPC channel. */
  close(): Promise<void>;
}

/** Headers not copied into gRPC metadata: ours, and HTTP/2's own. */
const SKIP_HEADERS = new Set(['content-type', 'te', 'user-agent', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding']);
/** gRPC metadata keys: lowercase letters, digits, `-`, `_`, `.`. */
const METADATA_KEY = /^[a-z0-9_.-]+$/;

function metadataFrom(grpcMetadata: new () => Metadata, headers: Readonly<Record<string, string>>): Metadata {
  const md = new grpcMetadata();
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (SKIP_HEADERS.has(key) || key.startsWith('grpc-') || key.endsWith('-bin') || !METADATA_KEY.test(key)) continue;
    md.set(key, v);
  }
  return md;
}

/** One forwarded unary call, bounded by the deadline and cancelled with the bus caller. */
function forwardUnary(
  client: Client,
  grpcMetadata: new () => Metadata,
  m: ProtoMethod,
  input: unknown,
  ctx: HandlerContext,
  defaultTimeoutMs: number,
): Promise<unknown> {
  ctx.signal.throwIfAborted();
  const deadline = ctx.deadline ?? Date.now() + defaultTimeoutMs;
  return new Promise((resolve, reject) => {
    const call = client.makeUnaryRequest(
      m.path,
      (v: unknown) => Buffer.from(m.request.encode(v)),
      (b: Buffer) => m.response.decode(b),
      input,
      metadataFrom(grpcMetadata, ctx.headers),
      { deadline },
      (err, value) => {
        ctx.signal.removeEventListener('abort', onAbort);
        if (err) reject(ctx.signal.aborted ? ctx.signal.reason : fromStatus(err));
        else resolve(value);
      },
    );
    const onAbort = (): void => call.cancel();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Serializers of one rpc, for grpc-js's generic client calls. */
function serializers(m: ProtoMethod): [(v: unknown) => Buffer, (b: Buffer) => unknown] {
  return [(v: unknown) => Buffer.from(m.request.encode(v)), (b: Buffer) => m.response.decode(b)];
}

/** What a failed gRPC call becomes for the bus caller (its own abort stays its own). */
function callFailure(err: unknown, ctx: HandlerContext): unknown {
  if (ctx.signal.aborted) return ctx.signal.reason;
  return typeof (err as GrpcError)?.code === 'number' ? fromStatus(err as GrpcError) : err;
}

/** A forwarded server-streaming call: each gRPC message becomes an item, pulled at the bus caller's pace. */
async function* forwardServerStream(
  client: Client,
  grpcMetadata: new () => Metadata,
  m: ProtoMethod,
  input: unknown,
  ctx: HandlerContext,
  defaultTimeoutMs: number,
): AsyncGenerator<unknown> {
  ctx.signal.throwIfAborted();
  const [serialize, deserialize] = serializers(m);
  const call = client.makeServerStreamRequest(m.path, serialize, deserialize, input, metadataFrom(grpcMetadata, ctx.headers), {
    deadline: ctx.deadline ?? Date.now() + defaultTimeoutMs,
  });
  let ended = false;
  const onAbort = (): void => call.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const item of call) yield item;
    ended = true;
  } catch (err) {
    ended = true;
    throw callFailure(err, ctx);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    // The bus caller stopped early (break, reset): the gRPC call goes too.
    if (!ended) call.cancel();
  }
}

/** A forwarded client-streaming call: the bus caller's items written with gRPC flow control. */
async function forwardClientStream(
  client: Client,
  grpcMetadata: new () => Metadata,
  m: ProtoMethod,
  inputs: AsyncIterable<unknown>,
  ctx: HandlerContext,
  defaultTimeoutMs: number,
): Promise<unknown> {
  ctx.signal.throwIfAborted();
  const [serialize, deserialize] = serializers(m);
  let settle!: (err: GrpcError | null, value?: unknown) => void;
  const result = new Promise<unknown>((resolve, reject) => {
    settle = (err, value) => (err ? reject(err) : resolve(value));
  });
  const call = client.makeClientStreamRequest(
    m.path,
    serialize,
    deserialize,
    metadataFrom(grpcMetadata, ctx.headers),
    { deadline: ctx.deadline ?? Date.now() + defaultTimeoutMs },
    (err, value) => settle(err, value),
  );
  const onAbort = (): void => call.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    // Writing stops early if the call fails (the result settles first).
    const failed = result.then(
      () => false,
      () => true,
    );
    for await (const item of inputs) {
      if (!call.write(item)) {
        const drained = once(call, 'drain', { signal: ctx.signal }).then(() => false);
        if (await Promise.race([drained, failed])) break;
      }
    }
    call.end();
    return await result;
  } catch (err) {
    call.cancel();
    throw callFailure(err, ctx);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Serve an external gRPC service's rpcs on the bus: unary, server- and client-streaming
 * (bidirectional rpcs have no contract kind and are left out).
 *
 * @throws PLEXUS_ERR_CONFIG if @grpc/grpc-js is not installed.
 */
export async function bridgeGrpcService(bus: Connection, options: BridgeGrpcOptions): Promise<GrpcBridge> {
  const grpc = await loadGrpc();
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  if (!(defaultTimeoutMs > 0 && defaultTimeoutMs <= 0x7fffffff)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `defaultTimeoutMs must be from 1 to 2^31-1 ms, got ${String(defaultTimeoutMs)}`);
  }
  const bridged: ProtoService = { ...options.proto, methods: options.proto.methods.filter((m) => m.kind !== 'bidi') };
  if (bridged.methods.length === 0) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${options.proto.fullName} has no rpc to bridge`);
  const contract = protoContract(bridged, options.contract);
  const codecs = protoBusCodecs(bridged);
  const client = new grpc.Client(options.target, options.credentials ?? grpc.credentials.createInsecure());
  const md = grpc.Metadata;
  const impl: Record<string, (input: never, ctx: HandlerContext) => unknown> = {};
  for (const m of bridged.methods) {
    impl[m.name] =
      m.kind === 'server'
        ? (input: unknown, ctx) => forwardServerStream(client, md, m, input, ctx, defaultTimeoutMs)
        : m.kind === 'client'
          ? (inputs: AsyncIterable<unknown>, ctx) => forwardClientStream(client, md, m, inputs, ctx, defaultTimeoutMs)
          : (input: unknown, ctx) => forwardUnary(client, md, m, input, ctx, defaultTimeoutMs);
  }
  let server: ServiceServer;
  try {
    server = serveService(bus, contract, impl as unknown as ServiceImpl<ServiceContract>, { ...options.serve, codecs: codecs.server });
  } catch (err) {
    client.close();
    throw err;
  }
  await server.ready();
  return {
    contract,
    codecs,
    server,
    close: async () => {
      await server.close();
      client.close();
    },
  };
}

/**
 * An implementation for {@link serveGrpc} that forwards each rpc — unary, server- or
 * client-streaming — to the service on the bus (binary protobuf). The gRPC deadline and
 * cancellation travel on, since the handler runs as the ambient call.
 */
export function busForwarder(bus: Connection, contract: ServiceContract, codecs: ProtoBusCodecs): Record<string, (input: never, ctx: HandlerContext) => unknown> {
  const impl: Record<string, (input: never, ctx: HandlerContext) => unknown> = {};
  for (const [name, def] of Object.entries(contract.methods)) {
    const codec = codecs.client[name];
    if (!codec) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `no protobuf codec for ${contract.name}.${name}`);
    const opts = (ctx: HandlerContext) => ({ codec, headers: forwardable(ctx.headers), validate: false });
    impl[name] =
      def.stream === 'server'
        ? (input: unknown, ctx) => callServerStream(bus, contract, name, input, opts(ctx))
        : def.stream === 'client'
          ? (inputs: AsyncIterable<unknown>, ctx) => callClientStream(bus, contract, name, inputs, opts(ctx))
          : (input: unknown, ctx) => callMethod(bus, contract, name, input, opts(ctx));
  }
  return impl;
}

/** gRPC metadata worth passing to a bus service as headers. */
function forwardable(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (SKIP_HEADERS.has(k) || k.startsWith('grpc-') || k.startsWith(':') || k === 'authority') continue;
    out[k] = v;
  }
  return out;
}
