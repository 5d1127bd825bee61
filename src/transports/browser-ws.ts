/**
 * `ws://` and `wss://` over the host's WHATWG `WebSocket` (browsers, Deno, Node 22+), for
 * the browser build. Nothing here touches a Node API: this file and what it imports go
 * into dist/browser/plexus.js. The Node transport (ws.ts, the `ws` package) is separate.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { ByteChannel, ChannelHandlers, ChannelInfo } from './channel.js';
import type { DialOptions, TransportFactory, TransportTable } from './types.js';

/** The part of the WHATWG WebSocket API the channel uses (so tests can pass `ws`'s class). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: never) => void): void;
}

/** A WebSocket constructor: `globalThis.WebSocket` in a browser. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Limits of the browser WebSocket channel. */
export interface BrowserWebSocketOptions {
  /** The WebSocket class to use. @default globalThis.WebSocket */
  readonly WebSocket?: WebSocketConstructor;
  /** Bytes queued in the socket (`bufferedAmount`) at which writes report backpressure. @default 4 MiB */
  readonly highWaterBytes?: number;
  /**
   * Inbound bytes held while the framer has paused reading. Browsers cannot stop a
   * WebSocket from receiving, so past this the connection is dropped
   * (PLEXUS_ERR_SLOW_CONSUMER) rather than growing without bound. @default 64 MiB
   */
  readonly maxPausedBytes?: number;
  /** How often a blocked writer checks `bufferedAmount` (there is no drain event). @default 10 */
  readonly drainPollMs?: number;
}

/** WebSocket readyState values (WHATWG). */
const OPEN = 1;
/** Close codes a clean shutdown uses: normal closure, and "no status" (a bare close frame). */
const CLEAN_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1005]);
/** First application-defined close code; browsers allow only 1000 and 3000–4999 in close(). */
const APP_CLOSE_ABORTED = 4000;
/** Plexus's default WebSocket port (DEFAULT_PORTS.ws; not imported: address.ts uses node:os). */
const DEFAULT_WS_PORT = 4852;

interface MessageEventLike {
  readonly data: unknown;
}
interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean?: boolean;
}

/**
 * A byte channel over a WHATWG WebSocket: each chunk the framer writes becomes one binary
 * message. Backpressure is `bufferedAmount` against a high-water mark, polled until it
 * halves because the API has no drain event. Inbound pause queues messages, bounded.
 */
class BrowserWebSocketChannel implements ByteChannel {
  private handlers: ChannelHandlers | undefined;
  private done = false;
  private paused = false;
  private readonly queued: Uint8Array[] = [];
  private queuedBytes = 0;
  private closePending: { err: Error | undefined } | undefined;
  private drainTimer: ReturnType<typeof setInterval> | undefined;
  private deliveryScheduled = false;

  constructor(
    private readonly ws: WebSocketLike,
    readonly info: ChannelInfo,
    private readonly limits: Required<Omit<BrowserWebSocketOptions, 'WebSocket'>>,
  ) {
    ws.binaryType = 'arraybuffer';
    // Listen from the start: a broker that speaks first can send before attach().
    ws.addEventListener('message', (e: MessageEventLike) => this.onMessage(e.data));
    ws.addEventListener('close', (e: CloseEventLike) => this.onClose(e));
    // A 'close' always follows an 'error' and carries the code; browsers expose no more.
    // Listening keeps EventEmitter-based implementations (Node's `ws`) from throwing it.
    ws.addEventListener('error', () => undefined);
  }

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    this.scheduleDelivery();
  }

  private onMessage(data: unknown): void {
    if (this.done) return;
    if (!(data instanceof ArrayBuffer)) {
      // Text (or a Blob, if someone changed binaryType): not Plexus frames.
      this.destroy(new PlexusError(ErrorCode.PROTOCOL, 'text WebSocket messages are not Plexus frames'));
      return;
    }
    const bytes = new Uint8Array(data);
    if (this.handlers && !this.paused && this.queued.length === 0) {
      this.handlers.data(bytes);
      return;
    }
    this.queued.push(bytes);
    this.queuedBytes += bytes.length;
    if (this.queuedBytes > this.limits.maxPausedBytes) {
      this.destroy(
        new PlexusError(
          ErrorCode.SLOW_CONSUMER,
          `more than ${this.limits.maxPausedBytes} bytes arrived while reading was paused (a WebSocket in a browser cannot stop the sender)`,
        ),
      );
      return;
    }
    this.scheduleDelivery();
  }

  private onClose(e: CloseEventLike): void {
    if (CLEAN_CLOSE_CODES.has(e.code) && e.wasClean !== false) this.finish(undefined);
    else {
      const why = e.reason ? `: ${e.reason}` : '';
      this.finish(new PlexusError(ErrorCode.CONNECTION_LOST, `WebSocket closed with code ${e.code}${why}`, { details: { closeCode: e.code } }));
    }
  }

  private scheduleDelivery(): void {
    if (this.deliveryScheduled || !this.handlers) return;
    if (this.queued.length === 0 && !this.closePending) return;
    if (this.paused && this.queued.length > 0) return;
    this.deliveryScheduled = true;
    queueMicrotask(() => this.deliverQueued());
  }

  private deliverQueued(): void {
    this.deliveryScheduled = false;
    while (!this.paused && this.queued.length > 0 && this.handlers) {
      const chunk = this.queued.shift()!;
      this.queuedBytes -= chunk.length;
      this.handlers.data(chunk);
    }
    if (this.queued.length === 0) this.deliverClose();
  }

  private finish(err: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.stopDrainPoll();
    // A clean close comes after the data before it; an error drops that data.
    if (err) {
      this.queued.length = 0;
      this.queuedBytes = 0;
    }
    this.closePending = { err };
    if (this.handlers && this.queued.length === 0) this.deliverClose();
    else this.scheduleDelivery();
  }

  private deliverClose(): void {
    const pending = this.closePending;
    if (!pending || !this.handlers) return;
    this.closePending = undefined;
    this.handlers.close(pending.err);
  }

  write(chunk: Uint8Array): boolean {
    if (this.done || this.ws.readyState !== OPEN) return true;
    this.ws.send(chunk);
    if (this.ws.bufferedAmount < this.limits.highWaterBytes) return true;
    this.startDrainPoll();
    return false;
  }

  private startDrainPoll(): void {
    if (this.drainTimer !== undefined) return;
    // Bounded: stops on drain or on close (finish clears it).
    this.drainTimer = setInterval(() => {
      if (this.ws.bufferedAmount >= this.limits.highWaterBytes / 2) return;
      this.stopDrainPoll();
      this.handlers?.drain();
    }, this.limits.drainPollMs);
  }

  private stopDrainPoll(): void {
    if (this.drainTimer === undefined) return;
    clearInterval(this.drainTimer);
    this.drainTimer = undefined;
  }

  end(): void {
    this.ws.close(1000);
  }

  destroy(err?: Error): void {
    this.queued.length = 0;
    this.queuedBytes = 0;
    // A browser cannot drop a socket without a close handshake; 4000 tells the broker why.
    this.ws.close(APP_CLOSE_ABORTED, err ? err.message.slice(0, 100) : 'aborted');
    this.finish(err);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.scheduleDelivery();
  }
}

/**
 * URLs whose address spelled out the scheme's default port (`ws://host:80`), which WHATWG
 * URL parsing drops: they dial that port, not Plexus's default.
 */
const explicitDefaultPort = new WeakSet<URL>();

/** `ws://host` with no port dials Plexus's WebSocket port, as the Node transport does. */
function targetOf(url: URL): string {
  if (url.port !== '' || explicitDefaultPort.has(url)) return url.href;
  const copy = new URL(url.href);
  copy.port = String(DEFAULT_WS_PORT);
  return copy.href;
}

/**
 * The browser transport table: `ws:` and `wss:` over the WHATWG WebSocket. There is no
 * listen (a page cannot accept connections); TLS is the browser's (options.tls is ignored).
 */
export function browserTransports(options: BrowserWebSocketOptions = {}): TransportTable {
  const limits = {
    highWaterBytes: options.highWaterBytes ?? 4 * 1024 * 1024,
    maxPausedBytes: options.maxPausedBytes ?? 64 * 1024 * 1024,
    drainPollMs: options.drainPollMs ?? 10,
  };
  for (const [name, v] of Object.entries(limits)) {
    if (!Number.isFinite(v) || v <= 0) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${name} must be a positive number, got ${String(v)}`);
  }
  const transport: TransportFactory = {
    dial: (url, dialOptions) => dialWebSocket(url, dialOptions, options.WebSocket, limits),
    listen: async (url) => {
      throw new PlexusError(ErrorCode.UNSUPPORTED_TRANSPORT, `the browser build cannot listen (${url.href})`);
    },
  };
  return Object.freeze({ 'ws:': transport, 'wss:': transport });
}

async function dialWebSocket(
  url: URL,
  options: DialOptions,
  Impl: WebSocketConstructor | undefined,
  limits: Required<Omit<BrowserWebSocketOptions, 'WebSocket'>>,
): Promise<ByteChannel> {
  const WebSocketClass = Impl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!WebSocketClass) throw new PlexusError(ErrorCode.UNSUPPORTED_TRANSPORT, 'this runtime has no global WebSocket; pass one in browserTransports({ WebSocket })');
  const { signal } = options;
  const timeoutMs = options.timeoutMs ?? 5000;
  const cancelled = (): PlexusError => new PlexusError(ErrorCode.CANCELLED, `connecting to ${url.href} was cancelled`, { cause: signal?.reason });
  if (signal?.aborted) throw cancelled();
  let ws: WebSocketLike;
  try {
    ws = new WebSocketClass(targetOf(url));
  } catch (err) {
    // The constructor throws SyntaxError for bad URLs and SecurityError for ws:// from https pages.
    throw new PlexusError(ErrorCode.CONNECT_FAILED, `cannot connect to ${url.href}: ${(err as Error).message}`, { cause: err });
  }
  // Made before 'open' so a broker that speaks first is heard.
  const channel = new BrowserWebSocketChannel(ws, { kind: url.protocol.slice(0, -1), remote: url.host }, limits);
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: PlexusError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        ws.close(APP_CLOSE_ABORTED, 'dial abandoned');
        reject(err);
      } else resolve();
    };
    const onAbort = (): void => settle(cancelled());
    const timer = setTimeout(() => settle(new PlexusError(ErrorCode.CONNECT_FAILED, `connecting to ${url.href} timed out after ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    ws.addEventListener('open', () => settle());
    // Browsers say nothing about why (no error detail is exposed to pages); the close code may.
    ws.addEventListener('close', (e: CloseEventLike) =>
      settle(new PlexusError(ErrorCode.CONNECT_FAILED, `cannot connect to ${url.href} (WebSocket closed with code ${e.code})`)),
    );
  });
  return channel;
}

/**
 * Dial through a transport table, as the Node `dial` does, without importing it (it
 * brings every Node transport along).
 */
export function dialFrom(table: TransportTable): (address: string, options: DialOptions) => Promise<ByteChannel> {
  return async (address, options) => {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw new PlexusError(ErrorCode.INVALID_URL, `not a valid address: ${JSON.stringify(address)}`);
    }
    if (url.port === '' && /^wss?:\/\/(?:[^/@]*@)?(?:\[[^\]]*\]|[^/:]*):\d+/i.test(address)) explicitDefaultPort.add(url);
    const transport = Object.hasOwn(table, url.protocol) ? table[url.protocol] : undefined;
    if (!transport) {
      throw new PlexusError(ErrorCode.UNSUPPORTED_TRANSPORT, `no transport for ${url.protocol}// (known: ${Object.keys(table).join(', ')})`);
    }
    if (options.signal?.aborted) throw new PlexusError(ErrorCode.CANCELLED, `dialing ${url.href} was cancelled`, { cause: options.signal.reason });
    return transport.dial(url, options);
  };
}
