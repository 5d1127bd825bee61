import type { NatsConnection, Msg, MsgHdrs, Subscription as NatsSubscription } from 'nats';
import { BusState, sizedPayload } from '../common/bus-state.js';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { Bus, ServeOptions } from '../../client/bus.js';
import type { ConnectionEvents, ConnectionStatus, ServerInfo } from '../../client/connection.js';
import type { Message, Payload, PublishOptions } from '../../client/message.js';
import type { RequestOptions } from '../../client/requests.js';
import { Responders, type RequestHandler } from '../../client/responder.js';
import { Subscription, type SubscribeOptions, type SubscriptionHost } from '../../client/subscription.js';
import { Flag, FrameType, subjectProblem, type FrameInit } from '../../wire/index.js';
import { NATS_HEADER, headersMatch, toMessage, toNatsHeaders } from './headers.js';
import { CANCEL_SUBJECT, NatsRequests } from './requests.js';
import { PATTERN_PROVIDER, type PatternProvider } from '../../patterns/provider.js';

/** What the bus needs from the loaded `nats` module. */
export interface NatsModule {
  headers(): MsgHdrs;
  createInbox(): string;
}

/**
 * A {@link Bus} on core NATS. Subjects map 1:1 (`*` and `>` are NATS's own wildcards),
 * queue groups are NATS queue groups, headers are NATS headers. Plexus metadata rides in
 * `Plexus-*` headers: the sender identity (asserted by the sending adapter, not stamped
 * by a broker), the request timeout, error replies. See docs/backends.md.
 */
export class NatsBus implements Bus, SubscriptionHost {
  /** Status, listeners and `closed`, shared with the other adapters. */
  private readonly life = new BusState();
  private readonly subs = new Map<number, { plexus: Subscription; nats: NatsSubscription }>();
  private nextSid = 0;
  private readonly responders: Responders;
  private readonly requests: NatsRequests;
  private cancelSub: NatsSubscription | undefined;
  /** `Plexus-From` / `Plexus-Conn` alone, shared by publishes without app headers (nats only reads them). */
  private ownHeaders: MsgHdrs | undefined;
  readonly closed: Promise<PlexusError | undefined> = this.life.closed;
  readonly server: ServerInfo;
  /** The durable patterns this backend gives (JetStream), for `kv(bus, …)` and friends. */
  readonly [PATTERN_PROVIDER]: PatternProvider;

  constructor(
    private readonly nc: NatsConnection,
    private readonly mod: NatsModule,
    identity: string,
    private readonly requestTimeoutMs: number,
    patterns: PatternProvider,
  ) {
    this[PATTERN_PROVIDER] = patterns;
    const info = nc.info;
    this.server = {
      version: info?.proto ?? 1,
      serverId: info?.server_id ?? '',
      connId: String(info?.client_id ?? ''),
      identity,
      maxPayload: info?.max_payload ?? 1024 * 1024,
      heartbeatMs: 0,
      features: ['nats', ...(info?.headers ? ['headers'] : [])],
    };
    this.requests = new NatsRequests(nc, mod.createInbox(), (reply, payload) => {
      nc.publish(CANCEL_SUBJECT, payload, { headers: this.headersFor(undefined, { [NATS_HEADER.reply]: reply }) });
    });
    this.responders = new Responders({
      sendFrame: (init) => this.sendReply(init),
      encodeHeadersChecked: () => undefined,
    });
    void this.watchStatus();
    nc.closed().then(
      (err) => this.shutdown(err ? lost(err) : undefined),
      (err: unknown) => this.shutdown(lost(err)),
    );
  }

  get status(): ConnectionStatus {
    return this.life.status;
  }

  on<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): () => void {
    return this.life.on(event, listener);
  }

  publish(subject: string, data?: Payload, options: PublishOptions = {}): void {
    this.life.assertOpen();
    checkSubject(subject, false);
    const payload = this.checkedPayload(data);
    if (options.reply !== undefined) checkSubject(options.reply, false);
    // `priority` has no NATS counterpart: core NATS has one lane per connection.
    // The identity headers never change: build them once for publishes without app headers.
    const headers = options.headers === undefined ? (this.ownHeaders ??= this.headersFor(undefined, {})) : this.headersFor(options.headers, {});
    this.nc.publish(subject, payload, { headers, ...(options.reply ? { reply: options.reply } : {}) });
  }

  subscribe(subject: string, options: SubscribeOptions = {}): Subscription {
    this.life.assertOpen();
    checkSubject(subject, true);
    if (options.overflow === 'block') {
      throw new PlexusError(
        ErrorCode.NOT_SUPPORTED,
        "overflow 'block' is not supported by nats: core NATS has no flow control back to publishers (the server drops slow consumers)",
      );
    }
    // A full queue on NATS fails loudly by default instead of blocking (which NATS cannot do).
    const plexus = new Subscription(this, ++this.nextSid, subject, { ...options, overflow: options.overflow ?? 'error' });
    const filter = options.headers;
    const nats = this.nc.subscribe(subject, {
      ...(options.queue ? { queue: options.queue } : {}),
      callback: (err, m) => {
        if (err) return plexus.fail(this.life.report(fromNatsError(err)));
        const msg = toMessage(m, this);
        if (!filter || headersMatch(msg, filter)) plexus.push(msg);
      },
    });
    this.subs.set(plexus.sid, { plexus, nats });
    return plexus;
  }

  unsubscribe(sub: Subscription): void {
    const entry = this.subs.get(sub.sid);
    if (!entry) return;
    this.subs.delete(sub.sid);
    if (!this.nc.isClosed()) entry.nats.unsubscribe();
    sub.end();
  }

  setBlocked(): void {
    // Never asked: 'block' is refused in subscribe().
  }

  request(subject: string, data?: Payload, options: RequestOptions = {}): Promise<Message> {
    try {
      this.life.assertOpen();
      checkSubject(subject, false);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeout = options.timeout ?? this.requestTimeoutMs;
    let payload: Uint8Array;
    try {
      if (!Number.isInteger(timeout) || timeout < 0) {
        throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `timeout must be a non-negative integer, got ${String(timeout)}`);
      }
      payload = this.checkedPayload(data);
    } catch (err) {
      return Promise.reject(err);
    }
    const own: Record<string, string> = timeout > 0 ? { [NATS_HEADER.timeout]: String(timeout) } : {};
    return this.requests.start(
      subject,
      (reply) => this.nc.publish(subject, payload, { reply, headers: this.headersFor(options.headers, own) }),
      timeout,
      options.signal,
    );
  }

  serve(subject: string, handler: RequestHandler, options: ServeOptions = {}): Subscription {
    this.listenForCancels();
    return this.subscribe(subject, {
      queue: options.queue ?? '_serve',
      callback: (msg) => this.responders.handle(msg, handler),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async flush(timeoutMs = 5000): Promise<void> {
    this.life.assertOpen();
    await withTimeout(this.nc.flush(), timeoutMs, 'flush');
  }

  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.status === 'closed') return;
    const deadline = Date.now() + timeoutMs;
    this.life.set('draining');
    for (const { plexus } of [...this.subs.values()]) this.unsubscribe(plexus);
    await this.responders.idle(deadline);
    while (this.requests.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    try {
      await withTimeout(this.nc.drain(), Math.max(1, deadline - Date.now()), 'drain');
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.status === 'closed') return;
    this.shutdown(undefined);
    await this.nc.close();
  }

  private headersFor(app: Readonly<Record<string, string>> | undefined, own: Record<string, string>): MsgHdrs {
    return toNatsHeaders(() => this.mod.headers(), app, {
      [NATS_HEADER.from]: this.server.identity,
      [NATS_HEADER.conn]: this.server.connId,
      ...own,
    });
  }

  private checkedPayload(data: Payload | undefined): Uint8Array {
    return sizedPayload(data, this.server.maxPayload, "the server's");
  }

  /** The responders' replies (and error replies) as NATS publishes. */
  private sendReply(init: FrameInit): number {
    if (init.type !== FrameType.PUB || this.nc.isClosed()) return -1;
    let payload = init.payload ?? new Uint8Array();
    let isError = ((init.flags ?? 0) & Flag.ERROR) !== 0;
    if (payload.length > this.server.maxPayload) {
      // Tell the caller now instead of leaving it to time out.
      const err = new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `the reply of ${payload.length} bytes exceeds the server's ${this.server.maxPayload}`);
      payload = new TextEncoder().encode(JSON.stringify(err.toWire()));
      isError = true;
    }
    this.nc.publish(init.subject ?? '', payload, { headers: this.headersFor(undefined, isError ? { [NATS_HEADER.error]: '1' } : {}) });
    return 0;
  }

  private listenForCancels(): void {
    if (this.cancelSub) return;
    this.cancelSub = this.nc.subscribe(CANCEL_SUBJECT, {
      callback: (err, m: Msg) => {
        if (err) return;
        const reply = m.headers?.get(NATS_HEADER.reply);
        if (reply) this.responders.cancel(reply, new TextDecoder().decode(m.data));
      },
    });
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.status === 'closed' || this.status === 'draining') continue;
      if (s.type === 'disconnect' || s.type === 'reconnecting') this.life.set('reconnecting');
      else if (s.type === 'reconnect') this.life.set('open');
      // Asynchronous refusals (e.g. a publish the server's permissions deny), as on the embedded broker.
      // nats.js reports only the error's code here (e.g. PERMISSIONS_VIOLATION).
      else if (s.type === 'error') {
        const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        const what = ctx ? `${ctx.operation} on ${ctx.subject} was refused` : `server error ${String(s.data)}`;
        this.life.report(fromNatsError({ code: s.data, message: what }));
      }
    }
  }

  private shutdown(reason: PlexusError | undefined): void {
    if (this.status === 'closed') return;
    const err = reason ?? new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the connection was closed');
    this.responders.abortAll(err);
    this.requests.failAll(err);
    for (const { plexus } of this.subs.values()) plexus.end();
    this.subs.clear();
    this.life.finish(reason);
  }
}

function checkSubject(subject: string, wildcards: boolean): void {
  const problem = subjectProblem(subject, wildcards);
  if (problem !== undefined) throw new PlexusError(ErrorCode.INVALID_SUBJECT, problem);
}

/** A NATS client error as a coded PlexusError (permissions and auth keep their meaning). */
export function fromNatsError(err: unknown): PlexusError {
  if (err instanceof PlexusError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = (err as { message?: unknown } | undefined)?.message;
  const text = typeof message === 'string' ? message : String(err);
  if (code === 'PERMISSIONS_VIOLATION') return new PlexusError(ErrorCode.PERMISSION_DENIED, `NATS: ${text}`, { cause: err });
  if (code === 'AUTHORIZATION_VIOLATION' || code === 'AUTHENTICATION_EXPIRED') {
    return new PlexusError(ErrorCode.AUTH_FAILED, `NATS: ${text}`, { cause: err });
  }
  return lost(err);
}

function lost(err: unknown): PlexusError {
  return new PlexusError(ErrorCode.CONNECTION_LOST, `NATS connection lost: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PlexusError(ErrorCode.TIMEOUT, `${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
