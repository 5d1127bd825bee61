import { randomUUID } from 'node:crypto';
import { BusState, sizedPayload } from '../common/bus-state.js';
import type { Channel, ChannelModel, ConsumeMessage, Message as AmqpMessage, Options } from 'amqplib';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { Bus, ServeOptions } from '../../client/bus.js';
import type { ConnectionEvents, ConnectionStatus, ServerInfo } from '../../client/connection.js';
import type { Message, Payload, PublishOptions, ReplyChannel } from '../../client/message.js';
import { toBytes } from '../../client/payload.js';
import type { RequestOptions } from '../../client/requests.js';
import { Responders, type RequestHandler } from '../../client/responder.js';
import { Subscription, type SubscribeOptions, type SubscriptionHost } from '../../client/subscription.js';
import { PATTERN_PROVIDER, type PatternProvider } from '../../patterns/provider.js';
import { Flag, FrameType, subjectMatches, type FrameInit } from '../../wire/index.js';
import { AMQP } from '../capabilities/amqp.js';
import { checkAppHeaders, checkSubject, checkTimeout, errorFromReplyPayload, withTimeout } from '../common/checks.js';
import { PendingRequests } from '../common/pending-requests.js';
import { redial, type RedialPolicy } from './redial.js';
import { AmqpQueue, type QueueHost } from './queue.js';
import { headersMatch } from '../nats/headers.js';
import {
  AMQP_HEADER,
  CANCEL_KEY,
  DIRECT_REPLY_TO,
  EXCHANGE,
  bindingKey,
  checkKeyLength,
  parseReplyAddress,
  toMessage,
} from './mapping.js';

/** RabbitMQ's default `max_message_size` (3.8 and later). */
const MAX_PAYLOAD = 128 * 1024 * 1024;

interface SubEntry {
  readonly plexus: Subscription;
  /** Resolves with the consumer tag once the queue is declared, bound and consumed. */
  ready: Promise<string | undefined>;
  /** Declare, bind and consume again (after a reconnect). */
  readonly setup: () => Promise<string | undefined>;
}

/** What the adapter was told at connect time. */
export interface AmqpBusInit {
  readonly model: ChannelModel;
  readonly channel: Channel;
  /** The login user: sent as `user_id`, which RabbitMQ checks. */
  readonly identity: string;
  readonly serverId: string;
  readonly requestTimeoutMs: number;
  /** How to reconnect when the connection drops; absent: the bus closes instead. */
  readonly redial?: Omit<RedialPolicy, 'stopped'>;
}

/**
 * A {@link Bus} on RabbitMQ. Subjects are routing keys on the `plexus` topic exchange;
 * each subscription is an exclusive auto-delete queue bound with the mapped pattern; a
 * queue group is one shared auto-delete queue per group and pattern; requests use direct
 * reply-to with a correlation id; cancel notices are broadcast on `_PLEXUS.CANCEL`. See
 * docs/backends/amqp.md.
 */
export class AmqpBus implements Bus, SubscriptionHost {
  /** Status, listeners and `closed`, shared with the other adapters. */
  private readonly life = new BusState();
  private readonly subs = new Map<number, SubEntry>();
  private nextSid = 0;
  private readonly responders: Responders;
  private readonly requests: PendingRequests;
  /** Correlation id → reply address of requests our `serve` handlers are running (for cancel notices). */
  private readonly serving = new Map<string, string>();
  private cancelReady: Promise<unknown> | undefined;
  readonly closed: Promise<PlexusError | undefined> = this.life.closed;
  readonly server: ServerInfo;
  /** Queues and mailboxes on quorum queues; KV and locks are refused with the reason. */
  readonly [PATTERN_PROVIDER]: PatternProvider = {
    backend: 'amqp',
    unsupported: { kv: String(AMQP.kv), lock: String(AMQP.lock) },
    queue: (name, options) => {
      const q = new AmqpQueue(this.queueHost, name, `plexus.queue.${name}`, options);
      return { name, send: (d, o) => q.send(d, o), consume: (o) => q.consume(o), dlq: () => q.dlq(), stat: () => q.stat() };
    },
    mailbox: (owner, options) => {
      const q = new AmqpQueue(this.queueHost, owner, `plexus.mailbox.${owner}`, options);
      return { owner, send: (d, o) => q.send(d, o), read: (o) => q.consume(o), dlq: () => q.dlq(), stat: () => q.stat() };
    },
  };
  private readonly queueHost: QueueHost;
  private ch: Channel;
  private model: ChannelModel;
  private readonly requestTimeoutMs: number;
  private readonly redialPolicy: Omit<RedialPolicy, 'stopped'> | undefined;
  /** Answers `msg.respond()` on received requests. */
  private readonly replier: ReplyChannel = { publish: (reply, data, options) => this.publishReply(reply, toBytes(data), options?.headers, false) };

  constructor(init: AmqpBusInit) {
    this.model = init.model;
    this.ch = init.channel;
    this.requestTimeoutMs = init.requestTimeoutMs;
    this.redialPolicy = init.redial;
    this.queueHost = { model: () => this.model, identity: init.identity };
    this.server = {
      version: 1,
      serverId: init.serverId,
      connId: randomUUID(),
      identity: init.identity,
      maxPayload: MAX_PAYLOAD,
      heartbeatMs: 0,
      features: ['amqp'],
    };
    this.requests = new PendingRequests(this.server.connId, (reply, reason) => {
      this.ch.publish(EXCHANGE, CANCEL_KEY, Buffer.from(JSON.stringify(reason.toWire())), this.props(undefined, { [AMQP_HEADER.reply]: reply }));
    });
    this.responders = new Responders({ sendFrame: (init) => this.sendReply(init), encodeHeadersChecked: () => undefined });
    this.attach();
  }

  /** Listen to the current connection and channel. */
  private attach(): void {
    const { model, ch } = this;
    // A mandatory request nobody is bound to comes back: that is "no responders".
    ch.on('return', (m: AmqpMessage) => {
      const id = m.properties.correlationId as unknown;
      if (typeof id !== 'string') return;
      const subject = this.requests.subjectOf(id);
      if (subject !== undefined) this.requests.settle(id, new PlexusError(ErrorCode.NO_RESPONDERS, `no responders for ${subject}`));
    });
    ch.on('error', (err: unknown) => this.life.report(lost(err)));
    model.on('error', () => undefined); // the 'close' event below carries the error
    model.on('close', (err?: unknown) => {
      if (this.model !== model || this.status === 'closed') return;
      const why = lost(err ?? 'the server closed the connection');
      if (this.redialPolicy === undefined || this.status === 'draining') this.shutdown(why);
      else void this.reconnect(why);
    });
  }

  /**
   * The connection dropped: dial again and rebuild the topology. Requests waiting for a
   * reply fail now (their direct reply-to died with the channel); subscriptions resume.
   */
  private async reconnect(why: PlexusError): Promise<void> {
    this.life.set('reconnecting');
    this.requests.failAll(why);
    const fresh = await redial({ ...this.redialPolicy!, stopped: () => this.status === 'closed' });
    if (fresh === undefined) return this.shutdown(why);
    if (this.status === 'closed') {
      await fresh.model.close().catch(() => undefined);
      return;
    }
    this.model = fresh.model;
    this.ch = fresh.channel;
    this.attach();
    try {
      await this.start();
      for (const entry of this.subs.values()) entry.ready = entry.setup();
      if (this.cancelReady) this.cancelReady = this.consume(CANCEL_KEY, undefined, this.onCancel);
      await Promise.all([...[...this.subs.values()].map((e) => e.ready), this.cancelReady]);
    } catch (err) {
      // The new link failed while rebuilding: its 'close' event starts the next round.
      this.life.report(fromAmqpError(err, 'rebuild the topology after a reconnect'));
      return;
    }
    if (this.status === 'reconnecting') this.life.set('open');
  }

  /** Start consuming direct replies (call once, before the first request). */
  async start(): Promise<void> {
    await this.ch.assertExchange(EXCHANGE, 'topic', { durable: true });
    await this.ch.consume(DIRECT_REPLY_TO, (m) => this.onReply(m), { noAck: true });
  }

  get status(): ConnectionStatus {
    return this.life.status;
  }

  on<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): () => void {
    return this.life.on(event, listener);
  }

  publish(subject: string, data?: Payload, options: PublishOptions = {}): void {
    this.assertOpen();
    checkSubject(subject, false);
    checkKeyLength(subject);
    checkAppHeaders(options.headers);
    if (options.reply !== undefined) checkSubject(options.reply, false);
    const payload = this.checkedPayload(data);
    // `priority` is ignored: one channel carries everything, in order.
    this.ch.publish(EXCHANGE, subject, payload, {
      ...this.props(options.headers, {}),
      ...(options.reply !== undefined ? { replyTo: options.reply } : {}),
    });
  }

  subscribe(subject: string, options: SubscribeOptions = {}): Subscription {
    this.assertOpen();
    checkSubject(subject, true);
    const key = bindingKey(subject);
    if (options.overflow === 'block') {
      throw new PlexusError(
        ErrorCode.NOT_SUPPORTED,
        "overflow 'block' is not supported by amqp: subscriptions consume without acks, so RabbitMQ pushes as fast as it can",
      );
    }
    const plexus = new Subscription(this, ++this.nextSid, subject, { ...options, overflow: options.overflow ?? 'error' });
    const filter = options.headers;
    const onMessage = (m: ConsumeMessage | null): void => {
      if (m === null) return plexus.fail(this.life.report(new PlexusError(ErrorCode.CONNECTION_LOST, `RabbitMQ cancelled the consumer of ${subject}`)));
      const routingKey = m.fields.routingKey;
      // The binding may be wider than the Plexus pattern (a literal '#' token).
      if (!subjectMatches(subject, routingKey)) return;
      const msg = toMessage(m, routingKey, this.replier);
      if (!filter || headersMatch(msg, filter)) plexus.push(msg);
    };
    const setup = (): Promise<string | undefined> =>
      this.consume(key, options.queue, onMessage).catch((err: unknown) => {
        if (this.status === 'reconnecting') return undefined; // rebuilt on the next link
        plexus.fail(this.life.report(fromAmqpError(err, `subscribe to ${subject}`)));
        return undefined;
      });
    this.subs.set(plexus.sid, { plexus, ready: setup(), setup });
    return plexus;
  }

  unsubscribe(sub: Subscription): void {
    const entry = this.subs.get(sub.sid);
    if (!entry) return;
    this.subs.delete(sub.sid);
    sub.end();
    if (this.status === 'closed') return;
    void entry.ready.then((tag) => (tag !== undefined && this.status !== 'closed' ? this.ch.cancel(tag) : undefined)).catch(() => undefined);
  }

  setBlocked(): void {
    // Never asked: 'block' is refused in subscribe().
  }

  request(subject: string, data?: Payload, options: RequestOptions = {}): Promise<Message> {
    const timeout = options.timeout ?? this.requestTimeoutMs;
    let payload: Buffer;
    try {
      this.assertOpen();
      checkSubject(subject, false);
      checkKeyLength(subject);
      checkTimeout(timeout);
      checkAppHeaders(options.headers);
      payload = this.checkedPayload(data);
    } catch (err) {
      return Promise.reject(err);
    }
    const own: Record<string, string> = timeout > 0 ? { [AMQP_HEADER.timeout]: String(timeout) } : {};
    return this.requests.start(
      subject,
      (reply) => {
        this.ch.publish(EXCHANGE, subject, payload, {
          ...this.props(options.headers, own),
          replyTo: DIRECT_REPLY_TO,
          correlationId: reply,
          mandatory: true,
          // A request nobody picked up before its deadline is dropped by RabbitMQ.
          ...(timeout > 0 ? { expiration: String(timeout) } : {}),
        });
      },
      timeout,
      options.signal,
    );
  }

  serve(subject: string, handler: RequestHandler, options: ServeOptions = {}): Subscription {
    this.listenForCancels();
    const tracked: RequestHandler = (msg, ctx) => {
      const id = parseReplyAddress(msg.reply).correlationId;
      if (id === undefined) return handler(msg, ctx);
      this.serving.set(id, msg.reply);
      const done = (): void => {
        this.serving.delete(id);
      };
      let result: ReturnType<RequestHandler>;
      try {
        result = handler(msg, ctx);
      } catch (err) {
        done();
        throw err;
      }
      if (result instanceof Promise) return result.finally(done);
      done();
      return result;
    };
    return this.subscribe(subject, {
      queue: options.queue ?? '_serve',
      callback: (msg) => this.responders.handle(msg, tracked),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async flush(timeoutMs = 5000): Promise<void> {
    this.assertOpen();
    const work = (async () => {
      await Promise.all([...[...this.subs.values()].map((s) => s.ready), this.cancelReady]);
      // Channel methods are handled in order: once this answers, every earlier publish was routed.
      await this.ch.checkExchange(EXCHANGE);
    })();
    await withTimeout(work, timeoutMs, 'flush');
  }

  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.status === 'closed') return;
    const deadline = Date.now() + timeoutMs;
    this.life.set('draining');
    for (const { plexus } of [...this.subs.values()]) this.unsubscribe(plexus);
    await this.responders.idle(deadline);
    while (this.requests.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await this.close();
  }

  async close(): Promise<void> {
    if (this.status === 'closed') return;
    this.shutdown(undefined);
    try {
      await this.model.close();
    } catch {
      // Already closed by the server or the network.
    }
  }

  /** Declare the subscription's queue, bind it and consume; resolves with the consumer tag. */
  private async consume(key: string, group: string | undefined, onMessage: (m: ConsumeMessage | null) => void): Promise<string> {
    const q =
      group === undefined
        ? (await this.ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false })).queue
        : (await this.ch.assertQueue(groupQueueName(group, key), { autoDelete: true, durable: false })).queue;
    await this.ch.bindQueue(q, EXCHANGE, key);
    return (await this.ch.consume(q, onMessage, { noAck: true })).consumerTag;
  }

  private onReply(m: ConsumeMessage | null): void {
    if (m === null) return;
    const id = m.properties.correlationId as unknown;
    if (typeof id !== 'string') return;
    const subject = this.requests.subjectOf(id);
    if (subject === undefined) return; // late reply after a timeout or cancel
    const isError = (m.properties.headers as Record<string, unknown> | undefined)?.[AMQP_HEADER.error] !== undefined;
    if (isError) this.requests.settle(id, errorFromReplyPayload(m.content));
    else this.requests.settle(id, undefined, toMessage(m, subject, undefined));
  }

  /** Default AMQP properties: identity (checked by RabbitMQ), connection id, headers. */
  private props(app: Readonly<Record<string, string>> | undefined, own: Record<string, string>): Options.Publish {
    return { userId: this.server.identity, headers: { ...app, [AMQP_HEADER.conn]: this.server.connId, ...own } };
  }

  private checkedPayload(data: Payload | undefined): Buffer {
    const bytes = sizedPayload(data, this.server.maxPayload, "the server's");
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** The responders' replies (and error replies). */
  private sendReply(init: FrameInit): number {
    if (init.type !== FrameType.PUB || this.status === 'closed') return -1;
    let payload = init.payload ?? new Uint8Array();
    let isError = ((init.flags ?? 0) & Flag.ERROR) !== 0;
    if (payload.length > this.server.maxPayload) {
      // Tell the caller now instead of leaving it to time out.
      const err = new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `the reply of ${payload.length} bytes exceeds the server's ${this.server.maxPayload}`);
      payload = new TextEncoder().encode(JSON.stringify(err.toWire()));
      isError = true;
    }
    this.publishReply(init.subject ?? '', payload, undefined, isError);
    return 0;
  }

  /** A reply goes straight to the requester's direct reply-to, or to a plain reply subject. */
  private publishReply(reply: string, payload: Uint8Array, headers: Readonly<Record<string, string>> | undefined, isError: boolean): void {
    this.assertOpen();
    checkAppHeaders(headers);
    const { replyTo, correlationId } = parseReplyAddress(reply);
    const direct = replyTo.startsWith(DIRECT_REPLY_TO);
    this.ch.publish(direct ? '' : EXCHANGE, replyTo, Buffer.from(payload.buffer, payload.byteOffset, payload.length), {
      ...this.props(headers, isError ? { [AMQP_HEADER.error]: '1' } : {}),
      ...(correlationId !== undefined ? { correlationId } : {}),
    });
  }

  private listenForCancels(): void {
    if (this.cancelReady) return;
    this.cancelReady = this.consume(CANCEL_KEY, undefined, this.onCancel).catch((err: unknown) => this.life.report(fromAmqpError(err, 'listen for cancel notices')));
  }

  private readonly onCancel = (m: ConsumeMessage | null): void => {
    const id = (m?.properties.headers as Record<string, unknown> | undefined)?.[AMQP_HEADER.reply];
    const reply = typeof id === 'string' ? this.serving.get(id) : undefined;
    if (m && reply !== undefined) this.responders.cancel(reply, m.content.toString('utf8'));
  };

  private assertOpen(): void {
    this.life.assertOpen();
    // Nothing is buffered while the link is down: a publish is refused, never reported as sent and lost.
    if (this.status === 'reconnecting') throw new PlexusError(ErrorCode.CONNECTION_LOST, 'not sent: the connection to RabbitMQ is being re-established');
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

/** The shared queue of a queue group: one per group and binding key. */
function groupQueueName(group: string, key: string): string {
  const name = `plexus.group.${group}.${key}`;
  if (Buffer.byteLength(name) > 255) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'queue group name plus subject exceed the 255-byte AMQP queue name limit');
  }
  return name;
}

/** An amqplib failure as a coded PlexusError (access refusals keep their meaning). */
export function fromAmqpError(err: unknown, what: string): PlexusError {
  if (err instanceof PlexusError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === 403) return new PlexusError(ErrorCode.PERMISSION_DENIED, `RabbitMQ refused to ${what}: ${text}`, { cause: err });
  return new PlexusError(ErrorCode.CONNECTION_LOST, `RabbitMQ: ${what} failed: ${text}`, { cause: err });
}

function lost(err: unknown): PlexusError {
  return new PlexusError(ErrorCode.CONNECTION_LOST, `RabbitMQ connection lost: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
