/**
 * Serving streaming methods: each call is a Plexus stream opened on the method's
 * subject. Server-streaming: read OPEN + one ITEM + END, run the handler, write each
 * output item as the caller's credit allows, then END. Client-streaming: read OPEN, hand
 * the handler an async iterable of validated inputs, write its result as ITEM + END.
 * The caller resetting the stream (break, cancel, deadline, disconnect) aborts the
 * handler's signal.
 */
import './ambient-node.js';
import type { PlexusStream, RequestContext } from '../client/index.js';
import type { Codec } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { RequestHandlerContext, runWithCall } from './context.js';
import { failRequest, type MethodRuntime } from './runtime.js';
import { StreamMessageKind, StreamMessageReader, frameJson, frameMessage, parseOpen } from './stream-frames.js';
import { writeItems } from './stream-writer.js';
import { validateWith } from './validate.js';
import { replyCodec, requestCodec } from './wire-codec.js';

/** How long a server waits for a new stream's OPEN message. */
export const STREAM_OPEN_TIMEOUT_MS = 10_000;

/** A request context for a stream call (the core's, for unary, comes with the request). */
class StreamCallContext implements RequestContext {
  readonly deadline: number | undefined;
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly stream: PlexusStream,
    timeoutMs: number,
  ) {
    this.deadline = timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => {
        const err = new PlexusError(ErrorCode.TIMEOUT, `the caller's ${timeoutMs} ms deadline passed`);
        this.abort(err);
        stream.reset('deadline passed');
      }, timeoutMs);
    }
    void stream.closed.then((err) => {
      if (err) this.abort(new PlexusError(ErrorCode.CANCELLED, 'the caller cancelled or went away', { cause: err }));
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The opener's identity, as the broker stamped it on the stream's open request. */
  get from(): string {
    return this.stream.peerIdentity;
  }

  abort(reason: PlexusError): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

async function expect(reader: StreamMessageReader, kind: StreamMessageKind, what: string): Promise<Uint8Array> {
  const m = await reader.next();
  if (!m || m.kind !== kind) throw new PlexusError(ErrorCode.PROTOCOL, `method stream: expected ${what}`);
  return m.body;
}

/** Read the OPEN message, bounded by {@link STREAM_OPEN_TIMEOUT_MS}. */
async function readOpen(reader: StreamMessageReader): Promise<ReturnType<typeof parseOpen>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PlexusError(ErrorCode.TIMEOUT, 'no OPEN on a new method stream')), STREAM_OPEN_TIMEOUT_MS);
  });
  try {
    return parseOpen(await Promise.race([expect(reader, StreamMessageKind.OPEN, 'OPEN'), timeout]));
  } finally {
    clearTimeout(timer);
  }
}

/** Serve one call of a streaming method on `stream`. Never throws. */
export async function serveStreamCall(rt: MethodRuntime, stream: PlexusStream): Promise<void> {
  const reader = new StreamMessageReader(stream);
  let open;
  try {
    open = await readOpen(reader);
  } catch {
    stream.reset('protocol error');
    return;
  }
  const started = performance.now();
  rt.stats.requests++;
  const core = new StreamCallContext(stream, open.timeoutMs);
  const ctx = new RequestHandlerContext(core, open.headers, rt.what, rt.sink);
  try {
    const codec = requestCodec(open.headers, rt.fallback, rt.registry);
    if (rt.def.stream === 'server') await serverStreaming(rt, ctx, codec, stream, reader);
    else await clientStreaming(rt, ctx, codec, stream, reader);
    await stream.write(frameMessage(StreamMessageKind.END));
    await reader.drain();
    await stream.end();
  } catch (err) {
    if (core.signal.aborted) {
      // The caller is gone or the deadline passed: nobody to tell.
      rt.stats.errors++;
      stream.reset('cancelled');
    } else {
      const wire = failRequest(rt, ctx, err);
      try {
        await stream.write(frameJson(StreamMessageKind.ERROR, wire.toWire()));
        await reader.drain();
        await stream.end();
      } catch {
        stream.reset('failed');
      }
    }
  } finally {
    core.dispose();
    rt.stats.totalMs += performance.now() - started;
  }
}

async function serverStreaming(
  rt: MethodRuntime,
  ctx: RequestHandlerContext,
  codec: Codec,
  stream: PlexusStream,
  reader: StreamMessageReader,
): Promise<void> {
  const raw = codec.decode(await expect(reader, StreamMessageKind.ITEM, 'the input ITEM'));
  await expect(reader, StreamMessageKind.END, 'END after the input');
  const input = rt.validate ? await validateWith(rt.def.input, raw, 'input', rt.what) : raw;
  // The whole iteration runs in the call context: a generator's body runs on next().
  await runWithCall(ctx, async () => {
    const items = rt.handler(input, ctx) as AsyncIterable<unknown> | Iterable<unknown>;
    // Each batch write waits for the caller's credit: a slow reader slows the handler.
    await writeItems(
      stream,
      items,
      async (item) => replyCodec(rt.def, codec).encode(rt.validate ? await validateWith(rt.def.output, item, 'output', rt.what) : item),
      () => ctx.signal.aborted,
    );
  });
  if (ctx.signal.aborted) throw ctx.signal.reason;
}

async function clientStreaming(
  rt: MethodRuntime,
  ctx: RequestHandlerContext,
  codec: Codec,
  stream: PlexusStream,
  reader: StreamMessageReader,
): Promise<void> {
  let ended = false;
  const inputs: AsyncIterable<unknown> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<unknown>> => {
        if (ended) return { value: undefined, done: true };
        const m = await reader.next();
        if (!m || m.kind === StreamMessageKind.END) {
          ended = true;
          return { value: undefined, done: true };
        }
        if (m.kind !== StreamMessageKind.ITEM) throw new PlexusError(ErrorCode.PROTOCOL, 'method stream: expected ITEM or END');
        const raw = codec.decode(m.body);
        return { value: rt.validate ? await validateWith(rt.def.input, raw, 'input', rt.what) : raw, done: false };
      },
      // The handler stopped early: the rest of the input is drained after the reply.
      return: async (): Promise<IteratorResult<unknown>> => ({ value: undefined, done: true }),
    }),
  };
  const result = await runWithCall(ctx, () => rt.handler(inputs, ctx));
  const out = rt.validate ? await validateWith(rt.def.output, result, 'output', rt.what) : result;
  await stream.write(frameMessage(StreamMessageKind.ITEM, replyCodec(rt.def, codec).encode(out)));
}
