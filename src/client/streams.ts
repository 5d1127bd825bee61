import { ErrorCode, PlexusError } from '../errors/index.js';
import { Flag, FrameType } from '../wire/index.js';
import type { Message } from './message.js';
import { utf8 } from './payload.js';
import { PlexusStream, type StreamHost, type StreamOptions } from './stream.js';

/** Options for `stream()`. */
export interface OpenStreamOptions extends StreamOptions {
  /** Time to wait for an acceptor. @default 10000 */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

/** Options for `acceptStreams()`. */
export interface AcceptStreamsOptions extends StreamOptions {
  /** Queue group shared by acceptors; each stream goes to one. @default '_streams' */
  readonly queue?: string;
  /** Streams accepted but not yet taken by the iterator; more are refused. @default 128 */
  readonly backlog?: number;
}

/** What opening/accepting needs from the connection besides StreamHost. */
export interface StreamsHost extends StreamHost {
  nextToken(): string;
  subscribeCallback(subject: string, queue: string, callback: (msg: Message) => void): { unsubscribe(): void; readonly closed: Promise<void> };
}

/** Open a stream to whoever accepts streams on `subject`. */
export async function openStream(host: StreamsHost, subject: string, options: OpenStreamOptions = {}): Promise<PlexusStream> {
  if (options.signal?.aborted) throw options.signal.reason;
  const timeout = options.timeout ?? 10_000;
  const stream = new PlexusStream(host, host.nextToken(), options);
  const accepted = stream.awaitAccept();
  host.sendFrame(
    { type: FrameType.PUB, flags: Flag.REQUEST, aux: timeout, subject, reply: stream.localSubject, payload: stream.handshakePayload() },
    'hold',
  );
  const timer = setTimeout(
    () => stream.fail(new PlexusError(ErrorCode.TIMEOUT, `no stream acceptor answered on ${subject} within ${timeout} ms`), false),
    timeout,
  );
  const onAbort = (): void => stream.fail(new PlexusError(ErrorCode.CANCELLED, 'stream open cancelled', { cause: options.signal?.reason }), false);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await accepted;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
  return stream;
}

/**
 * Streams opened towards a subject, as an async iterable. `close()` stops accepting
 * (streams already handed out keep running).
 */
export class StreamListener implements AsyncIterable<PlexusStream> {
  private readonly queue: PlexusStream[] = [];
  private waiter: ((r: IteratorResult<PlexusStream>) => void) | undefined;
  private closedFlag = false;
  private readonly sub: { unsubscribe(): void };
  private readonly backlog: number;

  /** @internal */
  constructor(
    private readonly host: StreamsHost,
    readonly subject: string,
    private readonly options: AcceptStreamsOptions,
  ) {
    this.backlog = options.backlog ?? 128;
    const sub = host.subscribeCallback(subject, options.queue ?? '_streams', (msg) => this.onOpen(msg));
    this.sub = sub;
    // The connection closing ends the subscription: end the iteration too.
    void sub.closed.then(() => this.close());
  }

  private onOpen(msg: Message): void {
    if (!msg.reply || this.closedFlag) return;
    let req: { stream?: unknown; window?: unknown };
    try {
      req = msg.json();
    } catch {
      req = {};
    }
    if (req.stream !== 1 || typeof req.window !== 'number' || req.window <= 0) {
      this.refuse(msg.reply, new PlexusError(ErrorCode.PROTOCOL, 'not a stream open request'));
      return;
    }
    if (this.queue.length >= this.backlog) {
      this.refuse(msg.reply, new PlexusError(ErrorCode.SLOW_CONSUMER, `stream backlog of ${this.backlog} is full on ${this.subject}`));
      return;
    }
    const stream = new PlexusStream(this.host, this.host.nextToken(), this.options);
    stream.acceptFrom(msg.reply, req.window, msg.from);
    this.host.sendFrame({ type: FrameType.PUB, subject: msg.reply, payload: stream.handshakePayload() }, 'skip');
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: stream, done: false });
    } else this.queue.push(stream);
  }

  private refuse(reply: string, err: PlexusError): void {
    this.host.sendFrame({ type: FrameType.PUB, flags: Flag.ERROR, subject: reply, payload: utf8(JSON.stringify(err.toWire())) }, 'skip');
  }

  /** Stop accepting new streams. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.sub.unsubscribe();
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<PlexusStream> {
    return {
      next: () => {
        const s = this.queue.shift();
        if (s) return Promise.resolve({ value: s, done: false });
        if (this.closedFlag) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiter = resolve));
      },
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
