import { ErrorCode, PlexusError } from '../errors/index.js';
// Not transports/index.js: that pulls in every Node transport, and the browser build
// imports this file. The dialer is passed in by the entry point instead.
import type { ByteChannel } from '../transports/channel.js';
import { FramedTransport, type TransportSink } from '../transports/framed.js';
import type { DialOptions } from '../transports/types.js';
import {
  Flag,
  FrameType,
  PROTOCOL_VERSION,
  RESERVED_PREFIX,
  encodeFrame,
  encodeHeaders,
  subjectProblem,
  type Frame,
  type FrameInit,
} from '../wire/index.js';
import { backoffDelay } from './backoff.js';
import { Message, type Payload, type PublishOptions, type ReplyChannel } from './message.js';
import { resolveConnectOptions, type ConnectOptions, type ResolvedConnectOptions } from './options.js';
import { fromUtf8, randomId, sleep, toBytes, utf8 } from './payload.js';
import { RequestManager, type InboxRoute, type RequestHost, type RequestOptions } from './requests.js';
import { Responders, type RequestHandler, type ResponderHost } from './responder.js';
import type { PlexusStream } from './stream.js';
import { StreamListener, openStream, type AcceptStreamsOptions, type OpenStreamOptions, type StreamsHost } from './streams.js';
import { Subscription, type SubscribeOptions, type SubscriptionHost } from './subscription.js';

/** Connection states. */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'draining' | 'closed';

/** What the broker said about itself in WELCOME. */
export interface ServerInfo {
  readonly version: number;
  readonly serverId: string;
  readonly connId: string;
  /** This connection's identity as the broker authenticated it. */
  readonly identity: string;
  readonly maxPayload: number;
  readonly heartbeatMs: number;
  readonly features: readonly string[];
}

/** Events a connection reports. */
export interface ConnectionEvents {
  /** The state changed. */
  status: (status: ConnectionStatus) => void;
  /** An asynchronous error: a refused publish, a lost connection, a failed reconnect attempt. */
  error: (err: PlexusError) => void;
}

const INBOX_SID = 1;

/** How a connection reaches a broker URL: a transport table's dial, chosen by the entry point. */
export type Dialer = (url: string, options: DialOptions) => Promise<ByteChannel>;

/**
 * A connection to a Plexus broker: publish, subscribe, request, serve — over any
 * transport, with heartbeats, reconnect with jittered backoff, resubscription, and a
 * bounded reconnect buffer. Create one with {@link connect}.
 */
export class Connection implements SubscriptionHost, ReplyChannel, RequestHost, ResponderHost, StreamsHost {
  /** Prefix of this connection's reply subjects; stable across reconnects. */
  readonly inbox: string;
  readonly requestTimeoutMs: number;
  /** Bumped on every (re)connect: frames sent on an older transport are gone. */
  generation = 0;
  private readonly opts: ResolvedConnectOptions;
  private readonly urls: string[];
  private urlIndex = 0;
  private transport: FramedTransport | undefined;
  private state: ConnectionStatus = 'connecting';
  private info: ServerInfo | undefined;
  private readonly subs = new Map<number, Subscription>();
  private readonly subFilters = new Map<number, Uint8Array>();
  private nextSid = INBOX_SID + 1;
  private readonly routes = new Map<string, InboxRoute>();
  private readonly requests: RequestManager;
  private readonly responders: Responders;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private readonly blockedSubs = new Set<Subscription>();
  private readonly pings = new Map<number, { resolve: () => void; reject: (e: unknown) => void; timer: ReturnType<typeof setTimeout> }>();
  private nextPing = 1;
  private nextStreamToken = 1;
  private readonly reconnectListeners = new Set<() => void>();
  private lastIn = Date.now();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly stop = new AbortController();
  private readonly listeners: { [K in keyof ConnectionEvents]: Set<ConnectionEvents[K]> } = { status: new Set(), error: new Set() };
  private readonly validSubjects = new Set<string>();
  private drainWaiters: (() => void)[] = [];
  private resolveClosed!: (err: PlexusError | undefined) => void;
  /** Settles when the connection has closed for good, with the reason if abnormal. */
  readonly closed: Promise<PlexusError | undefined> = new Promise((r) => (this.resolveClosed = r));

  /** @internal use {@link connect} */
  constructor(
    urls: string[],
    private readonly options: ConnectOptions,
    private readonly dial: Dialer,
  ) {
    this.urls = urls;
    this.opts = resolveConnectOptions(options);
    this.requestTimeoutMs = this.opts.requestTimeoutMs;
    this.inbox = `_INBOX.${randomId(9)}`;
    this.requests = new RequestManager(this);
    this.responders = new Responders(this);
  }

  /** Current state. */
  get status(): ConnectionStatus {
    return this.state;
  }

  /** The broker's WELCOME (of the current or last connection). */
  get server(): ServerInfo | undefined {
    return this.info;
  }

  /** The URL of the current connection. */
  get url(): string {
    return this.urls[this.urlIndex % this.urls.length]!;
  }

  /** Outbound bytes not yet written to the transport. */
  get pendingBytes(): number {
    return (this.transport?.pendingBytes ?? 0) + this.heldBytes;
  }

  /** False when outbound data has piled up: wait for `writable()` before publishing more. */
  get isWritable(): boolean {
    return this.transport ? this.transport.writable : this.heldBytes < this.opts.reconnectBufferBytes / 2;
  }

  on<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  // ---- publish / subscribe -------------------------------------------------------

  /**
   * Publish a message. Fire-and-forget: it returns once the message is queued. Throws
   * synchronously for bad input, a closed connection, or a full buffer.
   */
  publish(subject: string, data?: Payload, options?: PublishOptions): void {
    const payload = toBytes(data);
    this.checkPublish(subject, payload);
    if (options?.reply !== undefined && options.reply !== '') this.checkSubject(options.reply, false);
    const headers = options?.headers ? this.encodeHeadersChecked(options.headers) : undefined;
    // Encoding is synchronous (into the lane or the reconnect buffer), so one scratch
    // FrameInit serves every publish: no object per message.
    const init = this.pubInit;
    init.flags = options?.priority ? Flag.PRIORITY : 0;
    init.subject = subject;
    init.reply = options?.reply;
    init.headers = headers;
    init.payload = payload;
    try {
      this.sendFrame(init, 'hold');
    } finally {
      init.headers = init.payload = undefined;
    }
  }

  private readonly pubInit: FrameInit = { type: FrameType.PUB };

  /** Subscribe to a subject (wildcards `*` and `>` allowed). */
  subscribe(subject: string, options: SubscribeOptions = {}): Subscription {
    this.assertUsable();
    this.checkSubject(subject, true);
    if (options.queue !== undefined && options.queue !== '') this.checkSubject(options.queue, false);
    // Encoded once here so a bad filter throws now, not on every reconnect.
    const filter = this.encodeHeadersChecked(options.headers);
    const sid = this.nextSid++;
    const sub = new Subscription(this, sid, subject, options);
    if (filter) this.subFilters.set(sid, filter);
    this.subs.set(sid, sub);
    this.sendSub(sub);
    if (options.signal?.aborted) sub.unsubscribe();
    return sub;
  }

  /** @internal SubscriptionHost */
  unsubscribe(sub: Subscription): void {
    if (this.subs.get(sub.sid) !== sub) return;
    this.subs.delete(sub.sid);
    this.subFilters.delete(sub.sid);
    // Straight to the transport, past the outbound limit: this runs inside message
    // delivery (`max` reached, overflow 'error'), where sendFrame's OUTBOUND_BUFFER_FULL
    // was thrown into the socket's data handler. UNSUB is tiny; when it cannot go (not
    // connected) the broker forgets the subscription on reconnect anyway.
    const t = this.transport;
    if (t && (this.state === 'open' || this.state === 'draining')) t.send({ type: FrameType.UNSUB, id: sub.sid });
  }

  /** @internal SubscriptionHost: pause reading while a `block` subscription is full. */
  setBlocked(sub: Subscription, blocked: boolean): void {
    const before = this.blockedSubs.size;
    if (blocked) this.blockedSubs.add(sub);
    else this.blockedSubs.delete(sub);
    if (before === 0 && this.blockedSubs.size > 0) this.transport?.pause();
    else if (before > 0 && this.blockedSubs.size === 0) {
      this.lastIn = Date.now();
      this.transport?.resume();
    }
  }

  // ---- request / reply -----------------------------------------------------------

  /**
   * Send a request and wait for one reply. Rejects with PLEXUS_ERR_NO_RESPONDERS at once
   * if nobody serves the subject, PLEXUS_ERR_TIMEOUT after `timeout`, the signal's reason
   * if aborted (the responder's signal fires too), or the responder's error.
   */
  request(subject: string, data?: Payload, options?: RequestOptions): Promise<Message> {
    try {
      this.assertUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.requests.request(subject, data, options);
  }

  /**
   * Answer requests on `subject`. Instances share the queue group `queue` (default
   * `_serve`), so each request reaches one of them.
   */
  serve(subject: string, handler: RequestHandler, options: { queue?: string; signal?: AbortSignal } = {}): Subscription {
    return this.subscribe(subject, {
      queue: options.queue ?? '_serve',
      callback: (msg) => this.responders.handle(msg, handler),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  // ---- streams -------------------------------------------------------------------

  /**
   * Open a flow-controlled duplex byte stream to whoever accepts streams on `subject`
   * (see {@link acceptStreams}). It survives reconnects without losing or duplicating bytes.
   */
  stream(subject: string, options?: OpenStreamOptions): Promise<PlexusStream> {
    try {
      this.assertUsable();
      this.checkSubject(subject, false);
    } catch (err) {
      return Promise.reject(err);
    }
    return openStream(this, subject, options);
  }

  /** Accept streams opened towards `subject`, as an async iterable of streams. */
  acceptStreams(subject: string, options: AcceptStreamsOptions = {}): StreamListener {
    this.assertUsable();
    this.checkSubject(subject, false);
    return new StreamListener(this, subject, options);
  }

  /** @internal StreamsHost */
  nextToken(): string {
    return `s${(this.nextStreamToken++).toString(36)}`;
  }

  /** @internal StreamsHost */
  subscribeCallback(subject: string, queue: string, callback: (msg: Message) => void): Subscription {
    return this.subscribe(subject, { queue, callback });
  }

  /** @internal StreamsHost */
  get maxPayload(): number {
    return this.info?.maxPayload ?? 1024 * 1024;
  }

  /** @internal StreamsHost: called after every successful reconnect. */
  onReconnect(fn: () => void): () => void {
    this.reconnectListeners.add(fn);
    return () => this.reconnectListeners.delete(fn);
  }

  // ---- flush / drain / close -----------------------------------------------------

  /** Resolve once the broker has processed everything sent before this call. */
  async flush(timeoutMs = this.opts.timeoutMs): Promise<void> {
    this.assertUsable();
    const id = this.nextPing++;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new PlexusError(ErrorCode.TIMEOUT, `flush timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(id, { resolve, reject, timer });
      // On the bulk lane, behind the data it flushes.
      if (this.state === 'open') this.transport!.send({ type: FrameType.PING, id }, 'bulk');
      else this.hold({ type: FrameType.PING, id });
    });
  }

  /**
   * Resolve when queued outbound data has drained below the high-water mark (at once if
   * it has). Rejects with PLEXUS_ERR_TIMEOUT after `timeoutMs` (default: unbounded while
   * connected or reconnecting) or with the signal's reason; resolves if the connection closes.
   */
  async writable(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const { timeoutMs, signal } = options;
    if (signal?.aborted) throw signal.reason;
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    while (!this.isWritable && this.state !== 'closed') {
      await new Promise<void>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const forget = (): void => {
          this.drainWaiters = this.drainWaiters.filter((w) => w !== wake);
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
        const wake = (): void => {
          forget();
          resolve();
        };
        const onAbort = (): void => {
          forget();
          reject(signal!.reason);
        };
        if (deadline !== undefined) {
          timer = setTimeout(() => {
            forget();
            reject(new PlexusError(ErrorCode.TIMEOUT, `outbound data did not drain within ${timeoutMs} ms`));
          }, Math.max(0, deadline - Date.now()));
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        this.drainWaiters.push(wake);
      });
    }
  }

  /**
   * Finish in-flight work, then close: stop receiving, let running handlers and pending
   * requests finish (up to `timeoutMs`), flush, close.
   */
  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.state === 'closed' || this.state === 'draining') return this.closed.then(() => undefined);
    const deadline = Date.now() + timeoutMs;
    for (const sub of [...this.subs.values()]) {
      this.unsubscribe(sub);
      sub.end();
    }
    this.setState('draining');
    await this.responders.idle(deadline);
    await this.requests.settled(deadline);
    // Drained while reconnecting: the reconnect goes on (until the deadline) so what is
    // held is still delivered. It used to stop at once, dropping the held publishes and
    // leaving pending requests to sit out the whole drain timeout.
    while (!this.transport && this.heldBytes > 0 && this.status === 'draining' && Date.now() < deadline) await sleep(5);
    if (this.transport && !this.transport.isClosed) {
      await this.flushDuringDrain(Math.max(1, deadline - Date.now())).catch(() => undefined);
    }
    this.shutdown(undefined);
  }

  /** Close now: pending requests reject with PLEXUS_ERR_CONNECTION_CLOSED. */
  async close(): Promise<void> {
    this.shutdown(undefined);
    await this.closed;
  }

  // ---- internals shared with requests/responders ---------------------------------

  /** @internal */
  sendFrame(init: FrameInit, whenDisconnected: 'hold' | 'skip'): number {
    if (this.state === 'closed') throw new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the connection is closed');
    const t = this.transport;
    if (t && (this.state === 'open' || this.state === 'draining')) {
      if (t.pendingBytes > this.opts.maxOutboundBytes) {
        throw new PlexusError(ErrorCode.OUTBOUND_BUFFER_FULL, `${t.pendingBytes} bytes already queued; await writable() first`);
      }
      t.send(init);
      return this.generation;
    }
    if (whenDisconnected === 'hold') this.hold(init);
    return -1;
  }

  /** @internal */
  addRoute(token: string, route: InboxRoute): void {
    this.routes.set(token, route);
  }

  /** @internal */
  removeRoute(token: string): void {
    this.routes.delete(token);
  }

  /** @internal A fresh inbox subject for a stream or a custom reply. */
  newInbox(token: string): string {
    return `${this.inbox}.${token}`;
  }

  /** @internal */
  encodeHeadersChecked(headers: Readonly<Record<string, string>> | undefined): Uint8Array | undefined {
    if (!headers) return undefined;
    for (const k of Object.keys(headers)) {
      if (k.startsWith(RESERVED_PREFIX)) {
        throw new PlexusError(ErrorCode.INVALID_HEADERS, `header ${JSON.stringify(k)}: keys starting with ':' are reserved`);
      }
    }
    try {
      return encodeHeaders(headers);
    } catch (err) {
      throw new PlexusError(ErrorCode.INVALID_HEADERS, (err as Error).message, { cause: err });
    }
  }

  /** @internal */
  checkPublish(subject: string, payload: Uint8Array): void {
    this.assertUsable();
    this.checkSubject(subject, false);
    const max = this.info?.maxPayload ?? Infinity;
    if (payload.length > max) {
      throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${payload.length} bytes exceeds the broker's ${max}`);
    }
  }

  private checkSubject(subject: string, wildcards: boolean): void {
    if (!wildcards && this.validSubjects.has(subject)) return;
    const problem = typeof subject === 'string' ? subjectProblem(subject, wildcards) : 'subject must be a string';
    if (problem) throw new PlexusError(ErrorCode.INVALID_SUBJECT, `${problem}: ${JSON.stringify(subject)}`);
    if (!wildcards) {
      if (this.validSubjects.size > 4096) this.validSubjects.clear();
      this.validSubjects.add(subject);
    }
  }

  private assertUsable(): void {
    if (this.state === 'closed') throw new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the connection is closed');
    if (this.state === 'draining') throw new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the connection is draining');
  }

  private hold(init: FrameInit): void {
    const bytes = encodeFrame(init);
    if (this.heldBytes + bytes.length > this.opts.reconnectBufferBytes) {
      throw new PlexusError(
        ErrorCode.RECONNECT_BUFFER_FULL,
        `reconnect buffer full (${this.heldBytes} of ${this.opts.reconnectBufferBytes} bytes) while ${this.state}`,
      );
    }
    this.held.push(bytes);
    this.heldBytes += bytes.length;
  }

  private sendSub(sub: Subscription): void {
    if (this.state !== 'open' || !this.transport) return; // (re)sent on connect
    const filter = this.subFilters.get(sub.sid);
    this.transport.send({ type: FrameType.SUB, id: sub.sid, subject: sub.subject, reply: sub.queueName, ...(filter ? { headers: filter } : {}) });
  }

  private flushDuringDrain(timeoutMs: number): Promise<void> {
    const id = this.nextPing++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new PlexusError(ErrorCode.TIMEOUT, 'drain flush timed out'));
      }, timeoutMs);
      this.pings.set(id, { resolve, reject, timer });
      this.transport!.send({ type: FrameType.PING, id }, 'bulk');
    });
  }

  private emit<K extends keyof ConnectionEvents>(event: K, ...args: Parameters<ConnectionEvents[K]>): void {
    for (const l of this.listeners[event]) (l as (...a: unknown[]) => void)(...args);
  }

  private setState(s: ConnectionStatus): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('status', s);
  }

  // ---- connecting ----------------------------------------------------------------

  /** @internal First connect: try each URL once. */
  async open(): Promise<void> {
    let last: unknown;
    for (let i = 0; i < this.urls.length; i++) {
      this.urlIndex = i;
      try {
        await this.establish(this.urls[i]!);
        return;
      } catch (err) {
        last = err;
        if ((err as PlexusError).code === ErrorCode.AUTH_FAILED) break;
      }
    }
    this.state = 'closed';
    this.resolveClosed(last as PlexusError);
    throw last;
  }

  private async establish(url: string): Promise<void> {
    const channel = await this.dial(url, {
      timeoutMs: this.opts.timeoutMs,
      signal: this.stop.signal,
      ...(this.options.tls ? { tls: this.options.tls } : {}),
      ...(this.options.inproc ? { inproc: this.options.inproc } : {}),
    });
    const transport = new FramedTransport(channel, {
      maxFrameBytes: this.opts.maxFrameBytes,
      // The broker validated every header block it relays; Message decodes them safely.
      validateHeaders: false,
      highWaterBytes: this.opts.maxOutboundBytes,
    });
    const welcome = await this.handshake(transport, url);
    if (this.stop.signal.aborted) {
      transport.destroy();
      throw new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the connection was closed while connecting');
    }
    this.info = welcome;
    this.transport = transport;
    this.generation++;
    this.lastIn = Date.now();
    // A drain that began while reconnecting keeps its state: it waits for this link to
    // deliver what is held and answer what is pending, then closes.
    const draining = this.state === 'draining';
    if (!draining) this.state = 'open';
    // Re-establish everything the broker forgot: inbox, subscriptions, held frames, requests.
    transport.send({ type: FrameType.SUB, id: INBOX_SID, subject: `${this.inbox}.>` });
    for (const sub of this.subs.values()) this.sendSub(sub);
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const bytes of held) transport.sendEncoded(bytes);
    this.requests.resend();
    if (this.blockedSubs.size > 0) transport.pause();
    this.startHeartbeat(this.opts.heartbeatMs ?? welcome.heartbeatMs);
    if (this.generation > 1) for (const fn of [...this.reconnectListeners]) fn();
    // The held frames moved to the new transport: writers waiting on the reconnect
    // buffer must look again (the transport may never cross its high-water mark).
    this.onDrain();
    if (!draining) this.emit('status', 'open');
  }

  /** Send HELLO, wait for WELCOME (or ERR), then hand the transport to the normal sink. */
  private handshake(transport: FramedTransport, url: string): Promise<ServerInfo> {
    return new Promise<ServerInfo>((resolve, reject) => {
      let done = false;
      const finish = (err: unknown, info?: ServerInfo): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          transport.destroy();
          reject(err);
        } else resolve(info!);
      };
      const timer = setTimeout(
        () => finish(new PlexusError(ErrorCode.CONNECT_FAILED, `no WELCOME from ${url} within ${this.opts.timeoutMs} ms`)),
        this.opts.timeoutMs,
      );
      const sink: TransportSink = {
        onFrame: (f) => {
          if (done) return this.onFrame(transport, f);
          if (f.type === FrameType.WELCOME) {
            try {
              finish(undefined, parseWelcome(f.payload));
            } catch (err) {
              finish(err);
            }
          } else if (f.type === FrameType.ERR) finish(parseError(f.payload));
          else finish(new PlexusError(ErrorCode.PROTOCOL, `expected WELCOME from ${url}`));
        },
        onClose: (err) => {
          if (!done) finish(new PlexusError(ErrorCode.CONNECT_FAILED, `${url} closed during the handshake${err ? `: ${err.message}` : ''}`, { cause: err }));
          else this.onTransportClose(transport, err);
        },
        onDrain: () => this.onDrain(),
      };
      transport.start(sink);
      const hello: Record<string, unknown> = { version: PROTOCOL_VERSION, features: ['headers', 'requests', 'cancel', 'streams'] };
      if (this.options.name !== undefined) hello['name'] = this.options.name;
      if (this.options.token !== undefined) hello['token'] = this.options.token;
      if (this.options.user !== undefined) hello['user'] = this.options.user;
      if (this.options.pass !== undefined) hello['pass'] = this.options.pass;
      transport.send({ type: FrameType.HELLO, payload: utf8(JSON.stringify(hello)) }, 'control');
    });
  }

  private startHeartbeat(ms: number): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      const t = this.transport;
      if (!t || this.state === 'reconnecting') return;
      if (this.blockedSubs.size > 0) {
        this.lastIn = Date.now(); // we chose not to read: silence is ours, not the broker's
        // Still show the broker we are alive: it cannot read our PONGs while we are not
        // reading its PINGs, and used to drop a consumer paused for 3 heartbeats.
        t.send({ type: FrameType.PING, id: 0 });
        return;
      }
      const idle = Date.now() - Math.max(this.lastIn, t.lastReceiveAt);
      if (idle > 3 * ms) t.destroy(new PlexusError(ErrorCode.HEARTBEAT_TIMEOUT, `no traffic from the broker for ${idle} ms`));
      else if (idle >= ms) t.send({ type: FrameType.PING, id: 0 });
    }, ms);
    this.heartbeat.unref?.();
  }

  // ---- inbound -------------------------------------------------------------------

  private onFrame(transport: FramedTransport, f: Frame): void {
    if (transport !== this.transport) return;
    switch (f.type) {
      case FrameType.MSG:
        if (f.id === INBOX_SID) return this.onInbox(f);
        return this.onMsg(f);
      case FrameType.DATA:
      case FrameType.CREDIT:
      case FrameType.END:
        if (f.id === INBOX_SID) this.onInbox(f);
        return;
      case FrameType.CANCEL:
        if (f.id === INBOX_SID) return this.onInbox(f);
        return this.responders.cancel(f.subject, fromUtf8(f.payload));
      case FrameType.PING:
        transport.send({ type: FrameType.PONG, id: f.id });
        return;
      case FrameType.PONG: {
        const p = this.pings.get(f.id);
        if (p) {
          this.pings.delete(f.id);
          clearTimeout(p.timer);
          p.resolve();
        }
        return;
      }
      case FrameType.ERR:
        return this.onErr(f);
      case FrameType.GOODBYE:
        // The broker is going away: treat as a lost connection and reconnect.
        transport.destroy(new PlexusError(ErrorCode.CONNECTION_LOST, 'the broker said goodbye'));
        return;
      default:
        transport.fail(new PlexusError(ErrorCode.PROTOCOL, `unexpected frame type ${f.type} from the broker`));
    }
  }

  private onMsg(f: Frame): void {
    const sub = this.subs.get(f.id);
    if (!sub) return; // unsubscribed while in flight
    sub.push(new Message(f, (f.flags & Flag.REQUEST) !== 0 ? f.aux : 0, this));
  }

  private onInbox(f: Frame): void {
    const token = f.subject.slice(this.inbox.length + 1);
    this.routes.get(token)?.onFrame(f);
  }

  private onErr(f: Frame): void {
    const err = parseError(f.payload);
    if (f.subject.startsWith(`${this.inbox}.`)) {
      const route = this.routes.get(f.subject.slice(this.inbox.length + 1));
      if (route) route.onError(err);
      // The inbox subscription itself was refused (no subscribe permission on _INBOX.>):
      // no reply can ever arrive. Report it instead of silently dropping the ERR.
      else if (f.id === INBOX_SID) this.emit('error', err);
      return;
    }
    const sub = f.id !== 0 ? this.subs.get(f.id) : undefined;
    if (sub && sub.subject === f.subject) {
      this.subs.delete(sub.sid);
      sub.fail(err);
      return;
    }
    this.emit('error', err);
  }

  private onDrain(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  // ---- losing and closing --------------------------------------------------------

  private onTransportClose(transport: FramedTransport, err: Error | undefined): void {
    if (transport !== this.transport) return;
    this.transport = undefined;
    clearInterval(this.heartbeat);
    this.failPings(new PlexusError(ErrorCode.CONNECTION_LOST, 'connection lost before the flush completed'));
    if (this.state === 'closed') return;
    const lost = new PlexusError(ErrorCode.CONNECTION_LOST, `connection to ${this.url} lost${err ? `: ${err.message}` : ''}`, { cause: err });
    if (err instanceof PlexusError && (err.code === ErrorCode.AUTH_FAILED || err.code === ErrorCode.PERMISSION_DENIED)) {
      this.shutdown(err);
      return;
    }
    if (!this.opts.reconnect || this.state === 'draining') {
      this.shutdown(lost);
      return;
    }
    this.emit('error', lost);
    this.setState('reconnecting');
    this.requests.connectionLost();
    void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    // A drain() begun while reconnecting does not stop the reconnect (see drain).
    const going = (): boolean => this.state === 'reconnecting' || this.state === 'draining';
    for (let attempt = 0; going(); attempt++) {
      if (attempt >= this.opts.maxReconnectAttempts) {
        this.shutdown(new PlexusError(ErrorCode.CONNECTION_LOST, `gave up reconnecting after ${attempt} attempts`));
        return;
      }
      await sleep(backoffDelay(attempt, this.opts.reconnectDelayMs, this.opts.maxReconnectDelayMs), this.stop.signal);
      if (!going()) return;
      this.urlIndex = (this.urlIndex + (attempt > 0 ? 1 : 0)) % this.urls.length;
      try {
        await this.establish(this.url);
        return;
      } catch (err) {
        if (!going()) return;
        const pe = err instanceof PlexusError ? err : new PlexusError(ErrorCode.CONNECT_FAILED, String(err));
        if (pe.code === ErrorCode.AUTH_FAILED) {
          this.shutdown(pe);
          return;
        }
        this.emit('error', pe);
      }
    }
  }

  private failPings(err: PlexusError): void {
    for (const p of this.pings.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pings.clear();
  }

  private shutdown(reason: PlexusError | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stop.abort();
    clearInterval(this.heartbeat);
    const closedErr = reason ?? new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the connection was closed');
    this.requests.closeAll(closedErr);
    this.responders.abortAll(closedErr);
    this.failPings(closedErr);
    for (const sub of this.subs.values()) {
      if (reason) sub.fail(reason);
      else sub.end();
    }
    this.subs.clear();
    for (const r of [...this.routes.values()]) r.onError(closedErr);
    this.routes.clear();
    this.held = [];
    this.heldBytes = 0;
    const t = this.transport;
    this.transport = undefined;
    if (t && !t.isClosed) {
      t.send({ type: FrameType.GOODBYE, payload: utf8('client closing') });
      t.close();
    }
    this.onDrain();
    this.emit('status', 'closed');
    this.resolveClosed(reason);
  }
}

function parseWelcome(payload: Uint8Array): ServerInfo {
  const w = JSON.parse(fromUtf8(payload)) as Partial<ServerInfo>;
  if (typeof w !== 'object' || w === null || typeof w.version !== 'number' || typeof w.connId !== 'string') {
    throw new PlexusError(ErrorCode.PROTOCOL, 'malformed WELCOME');
  }
  return {
    version: w.version,
    serverId: String(w.serverId ?? ''),
    connId: w.connId,
    identity: String(w.identity ?? ''),
    maxPayload: typeof w.maxPayload === 'number' ? w.maxPayload : 1024 * 1024,
    heartbeatMs: typeof w.heartbeatMs === 'number' && w.heartbeatMs > 0 ? w.heartbeatMs : 5000,
    features: Array.isArray(w.features) ? w.features.map(String) : [],
  };
}

function parseError(payload: Uint8Array): PlexusError {
  try {
    return PlexusError.fromWire(JSON.parse(fromUtf8(payload)));
  } catch {
    return new PlexusError(ErrorCode.PROTOCOL, 'unreadable ERR frame from the broker');
  }
}

/**
 * Open a connection to the first reachable URL, with `dial` as the way to reach one.
 * The entry points wrap this: `connect` (Node, every transport) and the browser build's
 * `connect` (WebSocket only).
 * @internal
 */
export async function openConnection(urls: readonly string[], options: ConnectOptions, dial: Dialer): Promise<Connection> {
  if (urls.length === 0) throw new PlexusError(ErrorCode.INVALID_URL, 'connect needs at least one URL');
  const conn = new Connection([...urls], options, dial);
  if (options.signal) {
    if (options.signal.aborted) throw options.signal.reason;
    const onAbort = (): void => void conn.close();
    options.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await conn.open();
    } finally {
      options.signal.removeEventListener('abort', onAbort);
    }
  } else await conn.open();
  return conn;
}
