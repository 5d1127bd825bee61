/**
 * Calling streaming methods. Server-streaming returns an async iterable that reads one
 * item per `next()`, so a slow consumer holds the server back through the stream's
 * credit window; `break` (or the call's signal or deadline) resets the stream, which
 * aborts the handler. Client-streaming writes each input as the server's credit
 * allows and resolves with the single reply.
 */
import type { Connection, PlexusStream } from '../client/index.js';
import { contentTypeHeader } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { ServiceBalancer, type BalanceStrategy, type BalancedRoute } from '../discovery/balance.js';
import type { CallDefaults } from './call.js';
import { REQUEST_ID_HEADER, callLimits, deadlinePassed, type CallLimits } from './context.js';
import { methodOf, methodSubject, resolveCodec } from './define.js';
import { fromCallError } from './errors.js';
import type { CallOptions } from './handler-types.js';
import { StreamMessageKind, StreamMessageReader, frameJson, frameMessage, parseJsonBody, type StreamOpen } from './stream-frames.js';
import { writeItems } from './stream-writer.js';
import { callCodecs, type CallCodecs } from './wire-codec.js';
import type { MethodDefinition, ServiceContract } from './types.js';
import { validateAsync } from './validate.js';

interface Prepared {
  readonly what: string;
  readonly def: MethodDefinition;
  readonly codecs: CallCodecs;
  readonly subject: string;
  readonly limits: CallLimits;
  readonly validate: boolean;
  readonly headers: Record<string, string>;
  /** Picks the instance (version range, least-pending), as for unary calls. */
  readonly balancer: ServiceBalancer | undefined;
  readonly balance: BalanceStrategy | undefined;
}

function prepare(
  bus: Connection,
  contract: ServiceContract,
  method: string,
  kind: 'server' | 'client',
  options: CallOptions,
  defaults: CallDefaults,
): Prepared {
  const def = methodOf(contract, method);
  const what = `${contract.name}.${method}`;
  if (def.stream !== kind) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${what} is not a ${kind}-streaming method`);
  const codecs = callCodecs(def, options.codec !== undefined ? resolveCodec(options.codec) : (defaults.codec ?? contract.codec));
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs ?? def.timeoutMs;
  const limits = callLimits(timeoutMs, options.signal);
  const headers: Record<string, string> = options.headers ? { ...options.headers } : {};
  headers[contentTypeHeader] = codecs.request.contentType;
  if (limits.requestId !== undefined && headers[REQUEST_ID_HEADER] === undefined) headers[REQUEST_ID_HEADER] = limits.requestId;
  return {
    what,
    def,
    codecs,
    subject: methodSubject(contract, method, defaults.major),
    limits,
    validate: options.validate ?? defaults.validate ?? true,
    headers,
    balancer: defaults.balancer ?? (options.balance !== undefined ? new ServiceBalancer(bus, contract.name) : undefined),
    balance: options.balance,
  };
}

/**
 * An open call: the stream plus what ends it early. `failure` is what the caller should
 * see when the stream was reset by our own deadline or signal.
 */
class OpenCall {
  failure: unknown;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort: () => void;

  constructor(
    readonly stream: PlexusStream,
    private readonly p: Prepared,
    private readonly route: BalancedRoute | undefined,
  ) {
    this.onAbort = () => this.stop(p.limits.signal?.reason ?? new PlexusError(ErrorCode.CANCELLED, `${p.what} cancelled`), 'cancelled by caller');
    p.limits.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (p.limits.deadline !== undefined) {
      this.timer = setTimeout(
        () => this.stop(new PlexusError(ErrorCode.TIMEOUT, `${p.what} timed out`), 'deadline passed'),
        Math.max(0, p.limits.deadline - Date.now()),
      );
    }
  }

  stop(err: unknown, reason: string): void {
    this.failure ??= err;
    this.stream.reset(reason);
  }

  /** The error to throw for `err` from the stream. */
  error(err: unknown): unknown {
    return fromCallError(this.failure ?? err);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.p.limits.signal?.removeEventListener('abort', this.onAbort);
    this.p.limits.release();
    this.route?.release();
  }
}

async function open(bus: Connection, p: Prepared): Promise<OpenCall> {
  if (p.limits.signal?.aborted) throw p.limits.signal.reason;
  let timeoutMs = 0;
  if (p.limits.deadline !== undefined) {
    timeoutMs = Math.ceil(p.limits.deadline - Date.now());
    if (timeoutMs <= 0) throw deadlinePassed(p.what);
  }
  let stream: PlexusStream;
  let route: BalancedRoute | undefined;
  try {
    if (p.balancer?.needsRouting(p.balance)) route = await p.balancer.route(p.subject, p.balance);
    stream = await bus.stream(route?.subject ?? p.subject, { ...(timeoutMs > 0 ? { timeout: timeoutMs } : {}), ...(p.limits.signal ? { signal: p.limits.signal } : {}) });
  } catch (err) {
    p.limits.release();
    route?.release();
    throw fromCallError(err);
  }
  const body: StreamOpen = { v: 1, headers: p.headers, timeoutMs };
  const call = new OpenCall(stream, p, route);
  void stream.write(frameJson(StreamMessageKind.OPEN, body)).catch(() => {});
  return call;
}

/** Read the reply side: ITEM… then END, or ERROR. */
async function nextReply(reader: StreamMessageReader, what: string): Promise<{ item: Uint8Array } | { end: true }> {
  const m = await reader.next();
  if (m === null) throw new PlexusError(ErrorCode.PROTOCOL, `${what}: the stream ended without END`);
  if (m.kind === StreamMessageKind.ITEM) return { item: m.body };
  if (m.kind === StreamMessageKind.END) return { end: true };
  if (m.kind === StreamMessageKind.ERROR) throw fromCallError(PlexusError.fromWire(parseJsonBody(m.body)));
  throw new PlexusError(ErrorCode.PROTOCOL, `${what}: unexpected message kind ${m.kind}`);
}

/** Call a server-streaming method: an async iterable of its output items. */
export async function* callServerStream(
  bus: Connection,
  contract: ServiceContract,
  method: string,
  input: unknown,
  options: CallOptions = {},
  defaults: CallDefaults = {},
): AsyncGenerator<unknown, void, undefined> {
  const p = prepare(bus, contract, method, 'server', options, defaults);
  const value = p.validate ? await validateAsync(p.def.input, input, 'input', p.what) : input;
  const payload = p.codecs.request.encode(value);
  const call = await open(bus, p);
  const { stream } = call;
  let clean = false;
  try {
    await stream.write(frameMessage(StreamMessageKind.ITEM, payload));
    await stream.write(frameMessage(StreamMessageKind.END));
    const ended = stream.end(); // resolves once the server has read to our EOF
    ended.catch(() => {});
    const reader = new StreamMessageReader(stream);
    for (;;) {
      const r = await nextReply(reader, p.what);
      if ('end' in r) break;
      yield p.codecs.reply.decode(r.item);
    }
    await reader.drain();
    await ended;
    clean = true;
  } catch (err) {
    throw call.error(err);
  } finally {
    call.dispose();
    // break, throw or an error: tell the server to stop.
    if (!clean) stream.reset('cancelled by caller');
  }
}

/** Call a client-streaming method with a (sync or async) iterable of inputs. */
export async function callClientStream(
  bus: Connection,
  contract: ServiceContract,
  method: string,
  inputs: AsyncIterable<unknown> | Iterable<unknown>,
  options: CallOptions = {},
  defaults: CallDefaults = {},
): Promise<unknown> {
  const p = prepare(bus, contract, method, 'client', options, defaults);
  const call = await open(bus, p);
  const { stream } = call;
  const reader = new StreamMessageReader(stream);
  let replied = false;
  let clean = false;
  // Writes inputs until they run out or the server has replied (it stopped reading them).
  const pump = async (): Promise<void> => {
    await writeItems(
      stream,
      inputs,
      async (input) => p.codecs.request.encode(p.validate ? await validateAsync(p.def.input, input, 'input', p.what) : input),
      () => replied,
    );
    await stream.write(frameMessage(StreamMessageKind.END));
    await stream.end();
  };
  const pumping = pump();
  try {
    const replyOrPumpError = (async () => {
      const first = await nextReply(reader, p.what);
      replied = true;
      if ('end' in first) throw new PlexusError(ErrorCode.PROTOCOL, `${p.what}: END without a reply`);
      const last = await nextReply(reader, p.what);
      if (!('end' in last)) throw new PlexusError(ErrorCode.PROTOCOL, `${p.what}: more than one reply`);
      return p.codecs.reply.decode(first.item);
    })();
    // An input that fails validation (or an input iterator that throws) ends the call.
    const out = await Promise.race([replyOrPumpError, pumping.then(() => replyOrPumpError)]);
    await reader.drain();
    await pumping;
    clean = true;
    return out;
  } catch (err) {
    throw call.error(err);
  } finally {
    call.dispose();
    if (!clean) stream.reset('cancelled by caller');
    pumping.catch(() => {});
  }
}
