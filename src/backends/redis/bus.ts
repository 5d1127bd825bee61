import { randomBytes } from 'node:crypto';
import { BusState, sizedPayload } from '../common/bus-state.js';
import type { Redis } from 'ioredis';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { Bus, ServeOptions } from '../../client/bus.js';
import type { ConnectionEvents, ConnectionStatus, ServerInfo } from '../../client/connection.js';
import type { Message, Payload, PublishOptions } from '../../client/message.js';
import type { RequestOptions } from '../../client/requests.js';
import { Responders, type RequestHandler } from '../../client/responder.js';
import { Subscription, type SubscribeOptions, type SubscriptionHost } from '../../client/subscription.js';
import { filterMatches } from '../../broker/router.js';
import { PATTERN_PROVIDER, type PatternProvider } from '../../patterns/provider.js';
import { REDIS } from '../capabilities/redis.js';
import { Flag, FrameType, subjectMatches, type FrameInit } from '../../wire/index.js';
import { checkAppHeaders, checkSubject, checkTimeout, errorFromReplyPayload, withTimeout } from '../common/checks.js';
import { PendingRequests } from '../common/pending-requests.js';
import { redisInterest } from './channels.js';
import { decodeEnvelope, encodeEnvelope, toMessage, type Envelope, type EnvelopeMeta } from './envelope.js';
import { QueueClaims } from './queue-claims.js';

/** Channel every serving adapter listens on for cancel notices (Redis has no CANCEL). */
export const CANCEL_CHANNEL = '_PLEXUS.CANCEL';

/** Largest payload the adapter sends (Redis allows 512 MB; this keeps one message from stalling a connection). */
export const REDIS_MAX_PAYLOAD = 8 * 1024 * 1024;

interface SubEntry {
  readonly plexus: Subscription;
  /** Redis-side key: `c:<channel>` or `p:<pattern>`. */
  readonly key: string;
  readonly wildcard: boolean;
}

/**
 * A {@link Bus} on Redis pub/sub, over two connections: `cmd` for PUBLISH and queue-group
 * claims, `sub` in subscriber mode. Literal subjects are channels, wildcards are
 * PSUBSCRIBE globs filtered exactly on arrival. Queue groups: every member receives the
 * message and the first to claim its id (SET NX) delivers it. Request/reply: a reply
 * subject under this connection's inbox pattern; PUBLISH's receiver count gives
 * no-responders. See docs/backends/redis.md.
 */
export class RedisBus implements Bus, SubscriptionHost {
  /** Status, listeners and `closed`, shared with the other adapters. */
  private readonly life = new BusState();
  private readonly subs = new Map<number, SubEntry>();
  private readonly byKey = new Map<string, Set<SubEntry>>();
  private nextSid = 0;
  private seq = 0;
  /** Subscribe/unsubscribe commands not yet answered: `flush()` waits for them. */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly responders: Responders;
  private readonly requests: PendingRequests;
  private readonly claims: QueueClaims;
  private readonly inbox: string;
  private cancelListening = false;
  readonly closed: Promise<PlexusError | undefined> = this.life.closed;
  readonly server: ServerInfo;
  /** No durable patterns yet: each pattern function throws PLEXUS_ERR_NOT_SUPPORTED with the reason. */
  readonly [PATTERN_PROVIDER]: PatternProvider = {
    backend: 'redis',
    unsupported: { queue: String(REDIS.queue), mailbox: String(REDIS.mailbox), kv: String(REDIS.kv), lock: String(REDIS.lock) },
  };

  constructor(
    private readonly cmd: Redis,
    private readonly sub: Redis,
    identity: string,
    private readonly requestTimeoutMs: number,
  ) {
    const connId = randomBytes(8).toString('hex');
    this.server = {
      version: 1,
      serverId: '',
      connId,
      identity,
      maxPayload: REDIS_MAX_PAYLOAD,
      heartbeatMs: 0,
      features: ['redis'],
    };
    this.inbox = `_INBOX.${connId}`;
    this.claims = new QueueClaims(cmd);
    this.requests = new PendingRequests(this.inbox, (reply, reason) => {
      const payload = new TextEncoder().encode(JSON.stringify(reason.toWire()));
      this.send(CANCEL_CHANNEL, payload, { reply });
    });
    this.responders = new Responders({
      sendFrame: (init) => this.sendReply(init),
      encodeHeadersChecked: () => undefined,
    });
    sub.on('messageBuffer', (channel: Buffer, data: Buffer) => this.dispatch(`c:${channel.toString()}`, channel.toString(), data));
    sub.on('pmessageBuffer', (pattern: Buffer, channel: Buffer, data: Buffer) =>
      this.dispatch(`p:${pattern.toString()}`, channel.toString(), data),
    );
    for (const r of [cmd, sub]) {
      r.on('reconnecting', () => this.life.link('reconnecting'));
      r.on('ready', () => this.life.link(cmd.status === 'ready' && sub.status === 'ready' ? 'open' : 'reconnecting'));
      r.on('end', () => this.shutdown(lost(new Error('gave up reconnecting'))));
      // Link errors show as status changes; ioredis needs a listener so it does not log them.
      r.on('error', () => undefined);
    }
  }

  /** Subscribe to this connection's reply inbox; done once before the bus is handed out. */
  async start(): Promise<void> {
    await this.sub.psubscribe(`${this.inbox}.*`);
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
    checkAppHeaders(options.headers);
    if (options.reply !== undefined) checkSubject(options.reply, false);
    // `priority` has no Redis counterpart: one connection is one ordered lane.
    this.send(subject, this.checkedPayload(data), { reply: options.reply, headers: options.headers });
  }

  subscribe(subject: string, options: SubscribeOptions = {}): Subscription {
    this.life.assertOpen();
    checkSubject(subject, true);
    if (options.overflow === 'block') {
      throw new PlexusError(
        ErrorCode.NOT_SUPPORTED,
        "overflow 'block' is not supported by redis: Redis pub/sub has no flow control back to publishers (it disconnects a subscriber whose output buffer overflows)",
      );
    }
    const plexus = new Subscription(this, ++this.nextSid, subject, { ...options, overflow: options.overflow ?? 'error' });
    const interest = redisInterest(subject);
    const key = `${interest.kind === 'channel' ? 'c' : 'p'}:${interest.key}`;
    const entry: SubEntry = { plexus, key, wildcard: interest.kind === 'pattern' };
    this.subs.set(plexus.sid, entry);
    let set = this.byKey.get(key);
    if (!set) {
      set = new Set();
      this.byKey.set(key, set);
      this.track(interest.kind === 'channel' ? this.sub.subscribe(interest.key) : this.sub.psubscribe(interest.key), plexus);
    }
    set.add(entry);
    if (options.queue) this.track(this.claims.join(options.queue, subject, this.memberId(plexus)), plexus);
    return plexus;
  }

  unsubscribe(sub: Subscription): void {
    const entry = this.subs.get(sub.sid);
    if (!entry) return;
    this.subs.delete(sub.sid);
    const set = this.byKey.get(entry.key);
    set?.delete(entry);
    if (set && set.size === 0) {
      this.byKey.delete(entry.key);
      if (this.status !== 'closed') {
        const name = entry.key.slice(2);
        this.track(entry.key.startsWith('c:') ? this.sub.unsubscribe(name) : this.sub.punsubscribe(name), undefined);
      }
    }
    if (sub.options.queue && this.status !== 'closed') this.claims.leave(sub.options.queue, sub.subject, this.memberId(sub));
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
      checkSubject(subject, false);
      checkAppHeaders(options.headers);
      checkTimeout(timeout);
      payload = this.checkedPayload(data);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.requests.start(
      subject,
      (reply) => {
        const env = encodeEnvelope(this.meta({ reply, timeoutMs: timeout, headers: options.headers }), payload);
        this.cmd.publish(subject, env).then(
          (receivers) => {
            if (receivers === 0) this.requests.settle(reply, new PlexusError(ErrorCode.NO_RESPONDERS, `no responders for ${subject}`));
          },
          (err: unknown) => this.requests.settle(reply, lost(err)),
        );
      },
      timeout,
      options.signal,
    );
  }

  serve(subject: string, handler: RequestHandler, options: ServeOptions = {}): Subscription {
    this.life.assertOpen();
    if (!this.cancelListening) {
      this.cancelListening = true;
      this.track(this.sub.subscribe(CANCEL_CHANNEL), undefined);
    }
    return this.subscribe(subject, {
      queue: options.queue ?? '_serve',
      callback: (msg) => this.responders.handle(msg, handler),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async flush(timeoutMs = 5000): Promise<void> {
    this.life.assertOpen();
    // Redis answers in order: a PING's reply means every earlier command was processed,
    // and on the subscriber link that every message sent to it before has arrived (so
    // its queue-group claims have been asked); then wait for those claims' answers.
    const both = Promise.all([...this.inflight, this.cmd.ping(), this.sub.ping()]).then(() => this.claims.idle());
    await withTimeout(both, timeoutMs, 'flush');
  }

  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.status === 'closed') return;
    const deadline = Date.now() + timeoutMs;
    this.life.set('draining');
    for (const { plexus } of [...this.subs.values()]) this.unsubscribe(plexus);
    await this.responders.idle(deadline);
    while (this.requests.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    try {
      await withTimeout(this.cmd.ping(), Math.max(1, deadline - Date.now()), 'drain');
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.status === 'closed') return;
    // Leave the queue-group rotations first, so no message is picked for a closed member.
    this.claims.leaveAll();
    this.shutdown(undefined);
    await Promise.all([quit(this.cmd), quit(this.sub)]);
  }

  /** PUBLISH an envelope; a failure (e.g. while reconnecting) goes to 'error' listeners. */
  private send(subject: string, payload: Uint8Array, extra: Partial<EnvelopeMeta>): void {
    this.cmd.publish(subject, encodeEnvelope(this.meta(extra), payload)).catch((err: unknown) => {
      if (this.status !== 'closed') this.life.report(lost(err, `publish to ${subject} failed`));
    });
  }

  /** This subscription's id as a queue-group member. */
  private memberId(sub: Subscription): string {
    return `${this.server.connId}.${sub.sid}`;
  }

  private meta(extra: Partial<EnvelopeMeta>): EnvelopeMeta {
    return { from: this.server.identity, conn: this.server.connId, id: `${this.server.connId}.${(++this.seq).toString(36)}`, ...extra };
  }

  private dispatch(key: string, channel: string, data: Buffer): void {
    if (key.startsWith('p:') && channel.startsWith(this.inbox)) return this.onReply(channel, decodeEnvelope(data));
    if (key === `c:${CANCEL_CHANNEL}`) return this.onCancel(decodeEnvelope(data));
    const set = this.byKey.get(key);
    if (!set) return;
    let env: Envelope | undefined;
    let msg: Message | undefined;
    for (const entry of set) {
      const sub = entry.plexus;
      if (entry.wildcard && !subjectMatches(sub.subject, channel)) continue;
      env ??= decodeEnvelope(data);
      msg ??= toMessage(channel, env, this);
      const filter = sub.options.headers;
      if (filter && !filterMatches(filter, msg.headers)) continue;
      const group = sub.options.queue;
      const id = env.meta?.id;
      if (group && id !== undefined) {
        const m = msg;
        this.claims.claim(group, sub.subject, this.memberId(sub), id, (won) => won && sub.push(m));
      } else {
        sub.push(msg);
      }
    }
  }

  private onReply(reply: string, env: Envelope): void {
    if (this.requests.subjectOf(reply) === undefined) return; // late reply after a timeout or cancel
    if (env.meta?.error) this.requests.settle(reply, errorFromReplyPayload(env.payload));
    else this.requests.settle(reply, undefined, toMessage(reply, env, undefined));
  }

  private onCancel(env: Envelope): void {
    const reply = env.meta?.reply;
    if (reply) this.responders.cancel(reply, new TextDecoder().decode(env.payload));
  }

  /** The responders' replies (and error replies) as PUBLISHes. */
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
    this.send(init.subject ?? '', payload, isError ? { error: true } : {});
    return 0;
  }

  /** Keep a (un)subscribe command for `flush()`; a refused subscribe fails its subscription. */
  private track(p: Promise<unknown>, owner: Subscription | undefined): void {
    const tracked = p.then(
      () => undefined,
      (err: unknown) => {
        if (this.status !== 'closed') owner?.fail(this.life.report(lost(err, 'subscribe failed')));
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
    this.claims.stop();
    for (const { plexus } of this.subs.values()) plexus.end();
    this.subs.clear();
    this.byKey.clear();
    this.life.finish(reason);
  }
}

/** A Redis client failure as PLEXUS_ERR_CONNECTION_LOST. */
export function lost(err: unknown, what = 'Redis connection lost'): PlexusError {
  return new PlexusError(ErrorCode.CONNECTION_LOST, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** QUIT politely (lets queued publishes out), bounded; then drop the socket. */
async function quit(r: Redis): Promise<void> {
  try {
    await withTimeout(r.quit(), 2000, 'quit');
  } catch {
    r.disconnect();
  }
}
