/**
 * `serveGrpc`: serve a `.proto` service through @grpc/grpc-js with handlers written as
 * Plexus service handlers — the same `impl` object `serveService` takes. Unary,
 * server-streaming and client-streaming rpcs; inputs and outputs are validated with the
 * contract's schemas; deadlines and cancellation reach the handler as `ctx.deadline` /
 * `ctx.signal`; errors become gRPC statuses by the table in status.ts.
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type {
  Server,
  ServerCredentials,
  ServerDuplexStream,
  ServerWritableStream,
  handleBidiStreamingCall,
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { runWithCall, stderrLogSink, type HandlerContext, type LogSink } from '../contract/context.js';
import { isServiceContract } from '../contract/define.js';
import { ServiceError, toWireError } from '../contract/errors.js';
import type { ServiceImpl } from '../contract/handler-types.js';
import type { MethodDefinition, ServiceContract } from '../contract/types.js';
import { validateWith } from '../contract/validate.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { GrpcHandlerContext } from './context.js';
import { loadGrpc, type Grpc } from './load.js';
import { grpcDefinition, messageSchema, type ProtoMethod, type ProtoService } from './proto.js';
import { toStatus } from './status.js';

/** Options for {@link serveGrpc}. */
export interface ServeGrpcOptions {
  /** The `.proto` service (see `loadProtoService`); its rpc names must match the contract's methods. */
  readonly proto: ProtoService;
  /** `host:port` to listen on. @default '127.0.0.1:0' (loopback, any free port) */
  readonly listen?: string;
  /** Server credentials (TLS). @default insecure (plaintext HTTP/2) */
  readonly credentials?: ServerCredentials;
  /** Validate inputs and outputs with the contract's schemas. @default true */
  readonly validate?: boolean;
  /** Where handler logs and unexpected errors go. @default warnings and errors to stderr */
  readonly log?: LogSink;
  /** How long `close()` lets running calls finish before cutting them. @default 5000 */
  readonly closeTimeoutMs?: number;
  /**
   * Handlers for bidirectional-streaming rpcs, by rpc name. Contracts have no such kind,
   * so these live beside the contract; messages are validated with the proto's types.
   */
  readonly bidi?: Readonly<Record<string, BidiHandler>>;
}

/** A bidirectional-streaming handler: reads the client's messages, yields its own. */
export type BidiHandler = (inputs: AsyncIterable<Record<string, unknown>>, ctx: HandlerContext) => AsyncIterable<unknown> | Iterable<unknown>;

/** A running gRPC server. */
export interface GrpcServer {
  /** The port bound (the real one when 0 was asked for). */
  readonly port: number;
  /** `host:port` a client dials. */
  readonly address: string;
  /** Stop: refuse new calls, let running ones finish for `closeTimeoutMs`, then cut them. */
  close(): Promise<void>;
}

type Handler = (input: unknown, ctx: GrpcHandlerContext) => unknown;

interface MethodRuntime {
  readonly what: string;
  readonly def: MethodDefinition;
  readonly handler: Handler;
  readonly validate: boolean;
  readonly grpc: Grpc;
}

/** The wire error for a failure, logging what the gRPC caller will not see. */
function fail(rt: MethodRuntime, ctx: GrpcHandlerContext, err: unknown): ReturnType<typeof toStatus> {
  if (!(err instanceof ServiceError) && !(err instanceof PlexusError)) {
    ctx.log.error('handler threw an unexpected error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  return toStatus(toWireError(err, rt.what, ctx.requestId), new rt.grpc.Metadata());
}

function unary(rt: MethodRuntime, sink: LogSink): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const ctx = new GrpcHandlerContext(call, rt.what, sink);
    void (async () => {
      try {
        const input = rt.validate ? await validateWith(rt.def.input, call.request, 'input', rt.what) : call.request;
        let out = await runWithCall(ctx, () => rt.handler(input, ctx));
        if (rt.validate) out = await validateWith(rt.def.output, out, 'output', rt.what);
        callback(null, out);
      } catch (err) {
        callback(fail(rt, ctx, err));
      } finally {
        ctx.done();
      }
    })();
  };
}

/**
 * Write a handler's items to a gRPC response stream: each validated, the iterator not
 * pulled again while HTTP/2 flow control says the buffer is full.
 */
async function writeAll(
  rt: MethodRuntime,
  call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  items: unknown,
  ctx: GrpcHandlerContext,
): Promise<void> {
  if (items === null || typeof items !== 'object' || !(Symbol.asyncIterator in items || Symbol.iterator in items)) {
    throw new PlexusError(ErrorCode.INTERNAL, `${rt.what} streams replies but its handler returned no iterable`);
  }
  for await (const item of items as AsyncIterable<unknown> | Iterable<unknown>) {
    ctx.signal.throwIfAborted();
    const out = rt.validate ? await validateWith(rt.def.output, item, 'output', rt.what) : item;
    // Backpressure: wait for the HTTP/2 stream to drain (or the call to end).
    if (!call.write(out)) await once(call, 'drain', { signal: ctx.signal });
  }
  call.end();
}

/** Validated inputs of a client stream, pulled at the handler's pace (the Readable buffers a little). */
async function* readAll(rt: MethodRuntime, call: Readable): AsyncGenerator<unknown> {
  // destroyOnReturn: false — a Readable's default iterator destroys the stream when it
  // ends, which for a bidi call would kill the response side before its status is sent.
  for await (const raw of call.iterator({ destroyOnReturn: false })) yield rt.validate ? await validateWith(rt.def.input, raw, 'input', rt.what) : raw;
}

function serverStreaming(rt: MethodRuntime, sink: LogSink): handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    const ctx = new GrpcHandlerContext(call, rt.what, sink);
    void (async () => {
      try {
        const input = rt.validate ? await validateWith(rt.def.input, call.request, 'input', rt.what) : call.request;
        await writeAll(rt, call, runWithCall(ctx, () => rt.handler(input, ctx)), ctx);
      } catch (err) {
        // A cancelled call has no one to tell; grpc-js has already ended it.
        if (!call.cancelled) call.emit('error', fail(rt, ctx, err));
      } finally {
        ctx.done();
      }
    })();
  };
}

function bidiStreaming(rt: MethodRuntime, sink: LogSink): handleBidiStreamingCall<unknown, unknown> {
  return (call) => {
    const ctx = new GrpcHandlerContext(call, rt.what, sink);
    void (async () => {
      try {
        await writeAll(rt, call, runWithCall(ctx, () => rt.handler(readAll(rt, call), ctx)), ctx);
      } catch (err) {
        if (!call.cancelled) call.emit('error', fail(rt, ctx, err));
      } finally {
        ctx.done();
      }
    })();
  };
}

function clientStreaming(rt: MethodRuntime, sink: LogSink): handleClientStreamingCall<unknown, unknown> {
  return (call, callback) => {
    const ctx = new GrpcHandlerContext(call, rt.what, sink);
    void (async () => {
      try {
        let out = await runWithCall(ctx, () => rt.handler(readAll(rt, call), ctx));
        if (rt.validate) out = await validateWith(rt.def.output, out, 'output', rt.what);
        callback(null, out);
      } catch (err) {
        callback(fail(rt, ctx, err));
      } finally {
        ctx.done();
      }
    })();
  };
}

/** The contract method's stream kind as gRPC's. */
function kindOf(def: MethodDefinition): ProtoMethod['kind'] {
  return def.stream ?? 'unary';
}

/**
 * Serve `contract`'s methods over gRPC with `impl` — the handlers `serveService` takes.
 * Every contract method needs an rpc of the same name and streaming kind in `proto`;
 * rpcs the contract lacks answer UNIMPLEMENTED.
 *
 * @throws PLEXUS_ERR_INVALID_ARGUMENT for a mismatch between contract, impl and proto;
 *   PLEXUS_ERR_CONFIG if @grpc/grpc-js is not installed or the address cannot be bound.
 */
export async function serveGrpc<C extends ServiceContract>(contract: C, impl: ServiceImpl<C>, options: ServeGrpcOptions): Promise<GrpcServer> {
  if (!isServiceContract(contract)) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'serveGrpc needs a contract from defineService');
  const grpc = await loadGrpc();
  const sink = options.log ?? stderrLogSink;
  const validate = options.validate ?? true;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
  const byName = new Map(options.proto.methods.map((m) => [m.name, m]));
  const handlers: UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(contract.methods)) {
    const m = byName.get(name);
    const what = `${contract.name}.${name}`;
    if (!m) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${what}: the proto service ${options.proto.fullName} has no rpc ${name}`);
    if (m.kind !== kindOf(def)) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${what} is ${kindOf(def)} but rpc ${m.path} is ${m.kind}`);
    const fn = (impl as Record<string, Handler | undefined>)[name];
    if (typeof fn !== 'function') throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `the implementation of ${contract.name} has no handler for ${name}`);
    const rt: MethodRuntime = { what, def, handler: (input, ctx) => fn.call(impl, input, ctx), validate, grpc };
    handlers[name] = m.kind === 'server' ? serverStreaming(rt, sink) : m.kind === 'client' ? clientStreaming(rt, sink) : unary(rt, sink);
  }
  for (const [name, fn] of Object.entries(options.bidi ?? {})) {
    const m = byName.get(name);
    const what = `${contract.name}.${name}`;
    if (!m || m.kind !== 'bidi') throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${what}: ${options.proto.fullName} has no bidirectional rpc ${name}`);
    if (typeof fn !== 'function') throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `the bidi handler for ${what} is not a function`);
    const def: MethodDefinition = { input: messageSchema(m.requestType), output: messageSchema(m.responseType) };
    handlers[name] = bidiStreaming({ what, def, handler: (inputs, ctx) => fn(inputs as AsyncIterable<Record<string, unknown>>, ctx), validate, grpc }, sink);
  }
  const server: Server = new grpc.Server();
  server.addService(grpcDefinition(options.proto), handlers);
  const listen = options.listen ?? '127.0.0.1:0';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(new PlexusError(ErrorCode.CONFIG, `gRPC server cannot listen on ${listen}: ${err.message}`, { cause: err }));
      else resolve(p);
    });
  });
  const host = listen.slice(0, listen.lastIndexOf(':'));
  let closing: Promise<void> | undefined;
  return {
    port,
    address: `${host}:${port}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        // Bounded: whatever still runs after closeTimeoutMs is cut.
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, closeTimeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      })),
  };
}
