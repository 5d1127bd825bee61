/**
 * `serveService`: one queue-group subscription per method on `$SRV.<name>.<major>.<method>`,
 * so instances of a service share the load round-robin. Each request: pick the codec
 * from `content-type`, decode, validate the input, run the handler inside the ambient
 * call context (so its own calls inherit deadline and cancellation), validate the
 * output, encode the reply in the request's codec.
 */
import './ambient-node.js';
import { randomUUID } from 'node:crypto';
import type { Connection, Message, RequestContext, RequestHandler, Subscription } from '../client/index.js';
import type { Codec } from '../codec/index.js';
import { instanceSubject, registerInstance, type InstanceHandle } from '../discovery/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { RequestHandlerContext, runWithCall, stderrLogSink, type LogSink } from './context.js';
import { isServiceContract, methodSubject } from './define.js';
import type { ServiceImpl } from './handler-types.js';
import { failRequest, type MethodRuntime } from './runtime.js';
import { MethodStatsTable, type MethodStats } from './stats.js';
import { serveStreamCall } from './stream-serve.js';
import type { ServiceContract } from './types.js';
import { isPromiseLike, validateWith } from './validate.js';
import { replyCodec, requestCodec, serverRegistry } from './wire-codec.js';

/** Options of {@link serveService}. */
export interface ServeServiceOptions {
  /** Queue group shared by the service's instances. @default the service name */
  readonly queue?: string;
  /** Free-form metadata of this instance (for discovery). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Validate inputs and outputs against the schemas. @default true */
  readonly validate?: boolean;
  /** Where handler logs (and unexpected handler errors) go. @default warnings and errors to stderr */
  readonly log?: LogSink;
  /** Codecs accepted besides json, msgpack, cbor and the contract's own (e.g. protobuf message codecs). */
  readonly codecs?: readonly Codec[];
  /** How long `close()` waits for running handlers. @default 5000 */
  readonly closeTimeoutMs?: number;
  /** Stop serving when this signal aborts (like `close()`). */
  readonly signal?: AbortSignal;
  /**
   * Called once the instance serves (the seam discovery registers instances through);
   * a returned function runs on `close()`, before the subscriptions go.
   */
  readonly onStart?: (server: ServiceServer) => void | (() => void | Promise<void>);
  /**
   * List this instance in the broker's service registry while it serves (name, version,
   * method subjects, metadata, per-method stats; docs/discovery.md). @default true
   */
  readonly register?: boolean;
}

/** A running service instance. */
export interface ServiceServer {
  readonly contract: ServiceContract;
  /** Unique id of this instance. */
  readonly id: string;
  /** Epoch ms it started serving. */
  readonly started: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** The queue group its subscriptions use. */
  readonly queue: string;
  /** Method name → subject served. */
  readonly subjects: Readonly<Record<string, string>>;
  /** Handlers running now. */
  readonly running: number;
  /** Per-method counts, errors and latency since start. */
  stats(): Record<string, MethodStats>;
  /** Resolves once the broker has the subscriptions (requests from other connections reach this instance). */
  ready(): Promise<void>;
  /** Stop taking requests, wait (bounded) for running handlers, then resolve. */
  close(): Promise<void>;
  /** Settles when the server has closed. */
  readonly closed: Promise<void>;
}

/**
 * Serve one unary request. Synchronous end to end when the schemas and the handler are:
 * a plain handler costs no promise, and the reply goes out in the same turn.
 */
function serveUnary(rt: MethodRuntime, msg: Message, core: RequestContext): Promise<Uint8Array> | Uint8Array {
  const started = performance.now();
  const headers = msg.headers;
  const ctx = new RequestHandlerContext(core, headers, rt.what, rt.sink);
  rt.stats.requests++;
  try {
    const codec = requestCodec(headers, rt.fallback, rt.registry);
    let value = codec.decode(msg.data);
    if (rt.validate) {
      value = validateWith(rt.def.input, value, 'input', rt.what);
      if (isPromiseLike(value)) {
        const input = value;
        return finishAsync(rt, ctx, codec, started, (async () => runWithCall(ctx, rt.handler, await input, ctx))());
      }
    }
    const out = runWithCall(ctx, rt.handler, value, ctx);
    if (isPromiseLike(out)) return finishAsync(rt, ctx, codec, started, out);
    const bytes = encodeReply(rt, codec, out, started);
    return isPromiseLike(bytes) ? finishAsync(rt, ctx, codec, started, undefined, bytes) : bytes;
  } catch (err) {
    rt.stats.totalMs += performance.now() - started;
    throw failRequest(rt, ctx, err);
  }
}

/** Validate the output (unless off) and encode the reply; counts the time on success. */
function encodeReply(rt: MethodRuntime, codec: Codec, out: unknown, started: number): Uint8Array | Promise<Uint8Array> {
  const encode = (value: unknown): Uint8Array => {
    const bytes = replyCodec(rt.def, codec).encode(value);
    rt.stats.totalMs += performance.now() - started;
    return bytes;
  };
  if (!rt.validate) return encode(out);
  const valid = validateWith(rt.def.output, out, 'output', rt.what);
  return isPromiseLike(valid) ? Promise.resolve(valid).then(encode) : encode(valid);
}

/** The async tail of {@link serveUnary}: await the handler's result (or the encoded reply), then report a failure as its wire error. */
async function finishAsync(
  rt: MethodRuntime,
  ctx: RequestHandlerContext,
  codec: Codec,
  started: number,
  out: PromiseLike<unknown> | undefined,
  bytes?: Promise<Uint8Array>,
): Promise<Uint8Array> {
  try {
    return await (bytes ?? encodeReply(rt, codec, await out, started));
  } catch (err) {
    rt.stats.totalMs += performance.now() - started;
    throw failRequest(rt, ctx, err);
  }
}

function checkImpl(contract: ServiceContract, impl: object): void {
  if (typeof impl !== 'object' || impl === null) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'a service implementation must be an object');
  for (const name of Object.keys(contract.methods)) {
    if (typeof (impl as Record<string, unknown>)[name] !== 'function') {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `the implementation of ${contract.name} has no handler for ${name}`);
    }
  }
}

/**
 * Serve a contract on `bus`: every method of `impl` becomes a request handler on its
 * subject, validated against the schemas. Returns the running instance.
 *
 * @throws PLEXUS_ERR_INVALID_ARGUMENT if `impl` lacks a method or the contract is not one.
 */
export function serveService<C extends ServiceContract>(
  bus: Connection,
  contract: C,
  impl: ServiceImpl<C>,
  options: ServeServiceOptions = {},
): ServiceServer {
  if (!isServiceContract(contract)) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'serveService needs a contract from defineService');
  checkImpl(contract, impl);
  const queue = options.queue ?? contract.name;
  const sink = options.log ?? stderrLogSink;
  const registry = serverRegistry(contract, options.codecs);
  const validate = options.validate ?? true;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
  const stats = new MethodStatsTable();
  const id = randomUUID();
  const subs: Pick<Subscription, 'unsubscribe'>[] = [];
  const subjects: Record<string, string> = {};
  let running = 0;

  for (const [name, def] of Object.entries(contract.methods)) {
    const fn = (impl as Record<string, (input: unknown, ctx: RequestHandlerContext) => unknown>)[name]!;
    const rt: MethodRuntime = {
      what: `${contract.name}.${name}`,
      def,
      handler: (input, ctx) => fn.call(impl, input, ctx),
      validate,
      sink,
      fallback: contract.codec,
      registry,
      stats: stats.method(name),
    };
    const subject = methodSubject(contract, name);
    subjects[name] = subject;
    if (def.stream !== undefined) {
      // As for unary methods: the queue group shares streams among instances, the
      // instance subject reaches this one (version-range and least-pending clients).
      for (const [on, group] of [[subject, queue], [instanceSubject(id, subject), '']] as const) {
        const listener = bus.acceptStreams(on, { queue: group });
        subs.push({ unsubscribe: () => listener.close() });
        void (async () => {
          for await (const stream of listener) {
            running++;
            void serveStreamCall(rt, stream).finally(() => running--);
          }
        })();
      }
      continue;
    }
    const handler: RequestHandler = (msg, core) => {
      running++;
      let result: Promise<Uint8Array> | Uint8Array;
      try {
        result = serveUnary(rt, msg, core);
      } catch (err) {
        running--;
        throw err;
      }
      if (!isPromiseLike(result)) {
        running--;
        return result;
      }
      return result.finally(() => running--);
    };
    // The queue group round-robins among instances; the instance subject reaches this
    // one only (least-pending and version-range clients, docs/discovery.md).
    subs.push(bus.serve(subject, handler, { queue }), bus.serve(instanceSubject(id, subject), handler, { queue: '' }));
  }

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | undefined;
  let registration: Promise<InstanceHandle | undefined> = Promise.resolve(undefined);
  let onStop: void | (() => void | Promise<void>) = undefined;
  const server: ServiceServer = {
    contract,
    id,
    started: Date.now(),
    metadata: Object.freeze({ ...(options.metadata ?? {}) }),
    queue,
    subjects: Object.freeze(subjects),
    get running() {
      return running;
    },
    stats: () => stats.snapshot(),
    ready: async () => {
      await bus.flush();
      await registration;
    },
    close: () =>
      (closing ??= (async () => {
        options.signal?.removeEventListener('abort', onAbort);
        try {
          if (typeof onStop === 'function') await onStop();
          await (await registration)?.close();
        } catch {
          // A failing deregistration must not keep the server serving.
        }
        for (const s of subs) s.unsubscribe();
        const deadline = Date.now() + closeTimeoutMs;
        while (running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        resolveClosed();
      })()),
    closed,
  };
  const onAbort = (): void => void server.close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  onStop = options.onStart?.(server);
  // Registered after the subscriptions went out on the same connection, so a listed
  // instance is always reachable. Failing to register is logged, never fatal: the
  // instance still serves through its queue group.
  registration =
    options.register === false
      ? Promise.resolve(undefined)
      : registerInstance(bus, {
          name: contract.name,
          version: contract.version,
          id,
          endpoints: Object.values(subjects),
          metadata: server.metadata,
          started: server.started,
          stats: () => stats.snapshot(),
        }).catch((err: unknown) => {
          sink('warn', 'could not register the service instance', { service: contract.name, error: err instanceof Error ? err.message : String(err) });
          return undefined;
        });
  if (options.signal?.aborted) void server.close();
  return server;
}
