import { randomBytes } from 'node:crypto';
import { BusState, sizedPayload } from '../common/bus-state.js';
import type { IClientPublishOptions, IPublishPacket, MqttClient, Packet } from 'mqtt';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { Bus, ServeOptions } from '../../client/bus.js';
import type { ConnectionEvents, ConnectionStatus, ServerInfo } from '../../client/connection.js';
import type { Message, Payload, PublishOptions } from '../../client/message.js';
import type { RequestOptions } from '../../client/requests.js';
import { Responders, type RequestHandler } from '../../client/responder.js';
import { Subscription, type SubscribeOptions, type SubscriptionHost } from '../../client/subscription.js';
import { filterMatches } from '../../broker/router.js';
import { Flag, FrameType, subjectMatches, type FrameInit } from '../../wire/index.js';
import { checkAppHeaders, checkTimeout, errorFromReplyPayload, withTimeout } from '../common/checks.js';
import { PendingRequests } from '../common/pending-requests.js';
import { MQTT_PROP, propValue, subscriptionIds, toMessage, toUserProperties, type ReceivedProperties } from './properties.js';
import { checkMqttSubject, hasWildcard, sharedFilter, subjectToTopic, topicToSubject } from './topics.js';

/** Topic every serving adapter listens on for cancel notices (MQTT has no CANCEL). */
export const CANCEL_TOPIC = '_PLEXUS/CANCEL';

/** Largest payload the adapter sends (MQTT allows 256 MB; this keeps one message from stalling a connection). */
export const MQTT_MAX_PAYLOAD = 8 * 1024 * 1024;

/** PUBACK reason code 0x10: "No matching subscribers" (MQTT 5). */
const NO_MATCHING_SUBSCRIBERS = 16;

/** Subscription identifiers of the adapter's own subscriptions; application ones start above. */
const INBOX_SID = 1;
const CANCEL_SID = 2;

/** Publishes not yet acknowledged by the broker before `publish()` refuses more. */
const MAX_UNACKED = 65_536;

interface SubEntry {
  readonly plexus: Subscription;
  readonly filter: FilterEntry;
  readonly wildcard: boolean;
}

/** One MQTT subscription (MQTT keeps one per filter) and the Plexus subscriptions on it. */
interface FilterEntry {
  /** The MQTT filter (with `$share/<group>/` for a queue group). */
  readonly filter: string;
  /** Its MQTT subscription identifier. */
  readonly sid: number;
  readonly subs: Set<SubEntry>;
}

/**
 * A {@link Bus} on an MQTT 5 broker through one mqtt.js client. Every publish is QoS 1
 * (at least once: the broker acknowledges it; a publish resent after a reconnect may
 * arrive twice). Each Plexus subscription is its own MQTT subscription with a
 * subscription identifier, so overlapping filters never deliver a message twice to the
 * same Plexus subscription. Queue groups are shared subscriptions. Request/reply uses
 * the MQTT 5 response topic under this connection's inbox; the PUBACK reason "no
 * matching subscribers" gives no-responders. See docs/backends/mqtt.md.
 */
export class MqttBus implements Bus, SubscriptionHost {
  /** Status, listeners and `closed`, shared with the other adapters. */
  private readonly life = new BusState();
  /** By Plexus subscription id. */
  private readonly subs = new Map<number, SubEntry>();
  private readonly filters = new Map<string, FilterEntry>();
  /** By MQTT subscription identifier. */
  private readonly bySid = new Map<number, FilterEntry>();
  private nextSid = 0;
  private nextMqttSid = CANCEL_SID;
  /** Subscribe/unsubscribe requests not yet answered: `flush()` waits for them. */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Publishes issued / settled (acked or failed), and flushes waiting for a count. */
  private issued = 0;
  private settled = 0;
  private readonly flushWaiters: { upTo: number; resolve: () => void }[] = [];
  /** Packet ids whose PUBACK said "no matching subscribers". */
  private readonly unmatched = new Set<number>();
  private readonly responders: Responders;
  private readonly requests: PendingRequests;
  private readonly inbox: string;
  private readonly flushTopic: string;
  private cancelListening = false;
  readonly closed: Promise<PlexusError | undefined> = this.life.closed;
  readonly server: ServerInfo;

  constructor(
    private readonly client: MqttClient,
    identity: string,
    private readonly requestTimeoutMs: number,
  ) {
    const connId = randomBytes(8).toString('hex');
    this.server = { version: 1, serverId: '', connId, identity, maxPayload: MQTT_MAX_PAYLOAD, heartbeatMs: 0, features: ['mqtt'] };
    this.inbox = `_INBOX.${connId}`;
    this.flushTopic = `_PLEXUS/FLUSH/${connId}`;
    this.requests = new PendingRequests(this.inbox, (reply, reason) => {
      const payload = new TextEncoder().encode(JSON.stringify(reason.toWire()));
      this.send(CANCEL_TOPIC, payload, { [MQTT_PROP.reply]: reply }, undefined);
    });
    this.responders = new Responders({ sendFrame: (init) => this.sendReply(init), encodeHeadersChecked: () => undefined });
    client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
    client.on('packetreceive', (packet: Packet) => {
      if (packet.cmd === 'puback' && packet.reasonCode === NO_MATCHING_SUBSCRIBERS && packet.messageId !== undefined) {
        this.unmatched.add(packet.messageId);
      }
    });
    client.on('offline', () => this.life.link('reconnecting'));
    client.on('reconnect', () => this.life.link('reconnecting'));
    // A clean session forgets subscriptions: re-make them on every reconnect.
    client.on('connect', () => {
      if (this.status === 'closed') return;
      this.resubscribe();
      this.life.link('open');
    });
    // Link errors show as status changes; mqtt.js needs a listener so it does not throw.
    client.on('error', () => undefined);
  }

  /** Subscribe to this connection's reply inbox; done once before the bus is handed out. */
  async start(): Promise<void> {
    await this.mqttSubscribe(`${subjectToTopic(this.inbox)}/+`, INBOX_SID);
  }

  get status(): ConnectionStatus {
    return this.life.status;
  }

  on<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): () => void {
    return this.life.on(event, listener);
  }

  publish(subject: string, data?: Payload, options: PublishOptions = {}): void {
    this.life.assertOpen();
    checkMqttSubject(subject, false);
    checkAppHeaders(options.headers);
    if (options.reply !== undefined) checkMqttSubject(options.reply, false);
    // `priority` has no MQTT counterpart: one connection is one ordered lane.
    this.send(subjectToTopic(subject), this.checkedPayload(data), toUserProperties(options.headers, this.own()), options.reply);
  }

  subscribe(subject: string, options: SubscribeOptions = {}): Subscription {
    this.life.assertOpen();
    checkMqttSubject(subject, true);
    if (options.overflow === 'block') {
      throw new PlexusError(
        ErrorCode.NOT_SUPPORTED,
        "overflow 'block' is not supported by mqtt: mqtt.js acknowledges deliveries as they arrive, so a full subscription cannot hold the broker back",
      );
    }
    const topic = subjectToTopic(subject);
    const filter = options.queue !== undefined ? sharedFilter(options.queue, topic) : topic;
    const plexus = new Subscription(this, ++this.nextSid, subject, { ...options, overflow: options.overflow ?? 'error' });
    let f = this.filters.get(filter);
    const fresh = f === undefined;
    if (!f) {
      f = { filter, sid: ++this.nextMqttSid, subs: new Set() };
      this.filters.set(filter, f);
      this.bySid.set(f.sid, f);
    }
    const entry: SubEntry = { plexus, filter: f, wildcard: hasWildcard(subject) };
    f.subs.add(entry);
    this.subs.set(plexus.sid, entry);
    if (fresh) this.track(this.mqttSubscribe(filter, f.sid), plexus);
    return plexus;
  }

  unsubscribe(sub: Subscription): void {
    const entry = this.subs.get(sub.sid);
    if (!entry) return;
    this.subs.delete(sub.sid);
    const f = entry.filter;
    f.subs.delete(entry);
    // Other Plexus subscriptions on the same filter keep the MQTT subscription.
    if (f.subs.size === 0) {
      this.filters.delete(f.filter);
      this.bySid.delete(f.sid);
      if (this.status !== 'closed' && this.client.connected) this.track(this.client.unsubscribeAsync(f.filter), undefined);
    }
    sub.end();
  }

  setBlocked(): void {
    // Never asked: 'block' is refused in subscribe().
  }

  request(subject: string, data?: Payload, options: RequestOptions = {}): Promise<Message> {
    const timeout = options.timeout ?? this.requestTimeoutMs;
    let payload: Uint8Array;
    try {
      this.life.assertOpen();
      checkMqttSubject(subject, false);
      checkAppHeaders(options.headers);
      checkTimeout(timeout);
      payload = this.checkedPayload(data);
    } catch (err) {
      return Promise.reject(err);
    }
    const props = toUserProperties(options.headers, { ...this.own(), ...(timeout > 0 ? { [MQTT_PROP.timeout]: String(timeout) } : {}) });
    return this.requests.start(
      subject,
      (reply) =>
        this.send(subjectToTopic(subject), payload, props, reply, (unmatched) => {
          if (unmatched) this.requests.settle(reply, new PlexusError(ErrorCode.NO_RESPONDERS, `no responders for ${subject}`));
        }),
      timeout,
      options.signal,
    );
  }

  serve(subject: string, handler: RequestHandler, options: ServeOptions = {}): Subscription {
    this.life.assertOpen();
    if (!this.cancelListening) {
      this.cancelListening = true;
      this.track(this.mqttSubscribe(CANCEL_TOPIC, CANCEL_SID), undefined);
    }
    return this.subscribe(subject, {
      queue: options.queue ?? '_serve',
      callback: (msg) => this.responders.handle(msg, handler),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async flush(timeoutMs = 5000): Promise<void> {
    this.life.assertOpen();
    // A marker's PUBACK comes after every delivery the broker sent this client before it.
    if (this.client.connected) this.send(this.flushTopic, new Uint8Array(), {}, undefined);
    const upTo = this.issued;
    const published = this.settled >= upTo ? Promise.resolve() : new Promise<void>((resolve) => this.flushWaiters.push({ upTo, resolve }));
    await withTimeout(Promise.all([...this.inflight, published]), timeoutMs, 'flush');
  }

  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.status === 'closed') return;
    const deadline = Date.now() + timeoutMs;
    this.life.set('draining');
    for (const { plexus } of [...this.subs.values()]) this.unsubscribe(plexus);
    await this.responders.idle(deadline);
    while (this.requests.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    try {
      if (this.client.connected) await this.flush(Math.max(1, deadline - Date.now()));
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.status === 'closed') return;
    this.shutdown(undefined);
    try {
      await withTimeout(this.client.endAsync(false), 2000, 'disconnect');
    } catch {
      await this.client.endAsync(true);
    }
  }

  /** The link gave up (reconnect attempts exhausted or turned off). */
  lost(err: PlexusError): void {
    this.shutdown(err);
  }

  private own(): Record<string, string> {
    return { [MQTT_PROP.from]: this.server.identity, [MQTT_PROP.conn]: this.server.connId };
  }

  /**
   * PUBLISH at QoS 1. `done(unmatched)` runs when the broker acknowledged it (`unmatched`:
   * no subscriber matched); a failure goes to 'error' listeners.
   */
  private send(
    topic: string,
    payload: Uint8Array,
    userProperties: Record<string, string>,
    reply: string | undefined,
    done?: (unmatched: boolean) => void,
  ): void {
    if (this.issued - this.settled >= MAX_UNACKED) {
      throw new PlexusError(ErrorCode.OUTBOUND_BUFFER_FULL, `${MAX_UNACKED} publishes are waiting for the MQTT broker's acknowledgement`);
    }
    const opts: IClientPublishOptions = {
      qos: 1,
      properties: {
        // mqtt.js mis-encodes an empty user-property set (the broker never answers).
        ...(Object.keys(userProperties).length > 0 ? { userProperties } : {}),
        ...(reply !== undefined ? { responseTopic: subjectToTopic(reply), correlationData: Buffer.from(reply) } : {}),
      },
    };
    this.issued++;
    this.client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), opts, (err, packet) => {
      this.onSettled();
      const id = (packet as IPublishPacket | undefined)?.messageId;
      const unmatched = id !== undefined && this.unmatched.delete(id);
      if (err) {
        if (this.status !== 'closed') this.life.report(lost(err, `publish to ${topic} failed`));
        return;
      }
      done?.(unmatched);
    });
  }

  private onSettled(): void {
    this.settled++;
    if (this.flushWaiters.length === 0) return;
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const w = this.flushWaiters[i]!;
      if (this.settled >= w.upTo) {
        this.flushWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private mqttSubscribe(filter: string, sid: number): Promise<void> {
    // QoS 0 deliveries: no broker in-flight window holding messages back, so a flush
    // round trip sees everything routed to us before it. rh 2: no retained messages
    // (Plexus subscriptions see only what is published after them).
    return this.client.subscribeAsync(filter, { qos: 0, rh: 2, properties: { subscriptionIdentifier: sid } }).then((grants) => {
      const refused = grants.find((g) => g.qos >= 0x80);
      if (refused) throw new PlexusError(ErrorCode.PERMISSION_DENIED, `the MQTT broker refused the subscription to ${filter} (reason ${refused.qos})`);
    });
  }

  private resubscribe(): void {
    const own: Promise<void>[] = [this.mqttSubscribe(`${subjectToTopic(this.inbox)}/+`, INBOX_SID)];
    if (this.cancelListening) own.push(this.mqttSubscribe(CANCEL_TOPIC, CANCEL_SID));
    for (const p of own) this.track(p, undefined);
    for (const f of this.filters.values()) this.track(this.mqttSubscribe(f.filter, f.sid), undefined);
  }

  private dispatch(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const props = packet.properties as ReceivedProperties | undefined;
    for (const sid of subscriptionIds(props)) {
      if (sid === INBOX_SID) this.onReply(topicToSubject(topic), payload, props);
      else if (sid === CANCEL_SID) this.onCancel(payload, props);
      else this.deliver(sid, topicToSubject(topic), payload, props);
    }
  }

  private deliver(sid: number, subject: string, payload: Uint8Array, props: ReceivedProperties | undefined): void {
    const f = this.bySid.get(sid);
    if (!f) return;
    let msg: Message | undefined;
    for (const entry of f.subs) {
      const sub = entry.plexus;
      // MQTT `a/#` also matches `a`; Plexus `a.>` does not.
      if (entry.wildcard && !subjectMatches(sub.subject, subject)) continue;
      msg ??= toMessage(subject, payload, props, this);
      const filter = sub.options.headers;
      if (filter && !filterMatches(filter, msg.headers)) continue;
      sub.push(msg);
    }
  }

  private onReply(reply: string, payload: Uint8Array, props: ReceivedProperties | undefined): void {
    if (this.requests.subjectOf(reply) === undefined) return; // late reply after a timeout or cancel
    if (propValue(props?.userProperties, MQTT_PROP.error) !== undefined) this.requests.settle(reply, errorFromReplyPayload(payload));
    else this.requests.settle(reply, undefined, toMessage(reply, payload, props, undefined));
  }

  private onCancel(payload: Uint8Array, props: ReceivedProperties | undefined): void {
    const reply = propValue(props?.userProperties, MQTT_PROP.reply);
    if (reply) this.responders.cancel(reply, new TextDecoder().decode(payload));
  }

  /** The responders' replies (and error replies) as PUBLISHes to the caller's response topic. */
  private sendReply(init: FrameInit): number {
    if (init.type !== FrameType.PUB || this.status === 'closed') return -1;
    let payload = init.payload ?? new Uint8Array();
    let isError = ((init.flags ?? 0) & Flag.ERROR) !== 0;
    if (payload.length > this.server.maxPayload) {
      // Tell the caller now instead of leaving it to time out.
      const err = new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `the reply of ${payload.length} bytes exceeds the adapter's ${this.server.maxPayload}`);
      payload = new TextEncoder().encode(JSON.stringify(err.toWire()));
      isError = true;
    }
    try {
      this.send(subjectToTopic(init.subject ?? ''), payload, { ...this.own(), ...(isError ? { [MQTT_PROP.error]: '1' } : {}) }, undefined);
    } catch {
      return -1;
    }
    return 0;
  }

  /** Keep a (un)subscribe for `flush()`; a refused subscribe fails its subscription. */
  private track(p: Promise<unknown>, owner: Subscription | undefined): void {
    const tracked = p.then(
      () => undefined,
      (err: unknown) => {
        if (this.status !== 'closed') owner?.fail(this.life.report(err instanceof PlexusError ? err : lost(err, 'subscribe failed')));
      },
    );
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
  }

  private checkedPayload(data: Payload | undefined): Uint8Array {
    return sizedPayload(data, this.server.maxPayload, "the adapter's");
  }

  private shutdown(reason: PlexusError | undefined): void {
    if (this.status === 'closed') return;
    const err = reason ?? new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the connection was closed');
    this.responders.abortAll(err);
    this.requests.failAll(err);
    for (const { plexus } of this.subs.values()) plexus.end();
    this.subs.clear();
    this.filters.clear();
    this.bySid.clear();
    for (const w of this.flushWaiters.splice(0)) w.resolve();
    this.life.finish(reason);
  }
}

/** An MQTT client failure as PLEXUS_ERR_CONNECTION_LOST. */
export function lost(err: unknown, what = 'MQTT connection lost'): PlexusError {
  return new PlexusError(ErrorCode.CONNECTION_LOST, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
