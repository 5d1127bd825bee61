import { ErrorCode, PlexusError, type ErrorCode as Code } from '../errors/index.js';
import type { FramedTransport, TransportSink } from '../transports/index.js';
import {
  CONN_HEADER,
  FROM_HEADER,
  Flag,
  FrameType,
  PEER_HEADER,
  PROTOCOL_VERSION,
  appendHeader,
  decodeHeaders,
  encodeHeaders,
  encodeUtf8,
  frameTypeName,
  hasReservedHeader,
  payloadLength,
  readUtf8,
  subjectProblem,
  type Frame,
  type FrameInit,
} from '../wire/index.js';
import { CompiledPermissions, type Credentials } from './auth.js';
import type { BrokerContext } from './context.js';
import { REGISTRY_PREFIX } from './registry.js';
import type { RequestParty } from './requests.js';
import { filterMatches, type Route } from './router.js';

type State = 'hello' | 'open' | 'closed';

const msgInit: FrameInit = { type: FrameType.MSG };

const PROTOCOL_FEATURES = ['headers', 'requests', 'cancel', 'streams', 'no-responders', 'responder-gone'];

let nextConn = 1;

/** Prefix of request reply subjects (docs/protocol.md, request/reply). */
const INBOX_PREFIX = '_INBOX.';

/** Codes the frame decoder fails a connection with. */
const DECODE_ERRORS: ReadonlySet<string> = new Set([ErrorCode.MALFORMED_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.UNKNOWN_FRAME_TYPE]);

/**
 * One client connection inside the broker: the HELLO handshake, permission checks,
 * routing of what the client publishes, delivery of what it subscribed to, and the
 * slow-consumer policy for its outbound queue.
 */
export class Session implements TransportSink, RequestParty {
  readonly connId: string;
  readonly tracked = new Set<string>();
  readonly subs = new Map<number, Route<Session>>();
  readonly createdAt = Date.now();
  identity = '';
  name = '';
  msgsIn = 0;
  msgsOut = 0;
  dropped = 0;
  lastIn = Date.now();
  private state: State = 'hello';
  /** The last publish subject that passed validation (see onPub). */
  private lastValidSubject = '';
  private permissions = new CompiledPermissions(undefined);
  /** Header block `:from` + `:conn`, stamped on messages without headers of their own. */
  private stampBlock: Uint8Array = new Uint8Array([0, 0]);
  private stampEntries: Uint8Array = new Uint8Array(0);
  /** Entries in stampEntries: `:from`, `:conn` and, with kernel peer credentials, `:peer`. */
  private stampCount = 2;
  private authTimer: ReturnType<typeof setTimeout> | undefined;
  /** Slow targets this session stopped reading for (policy `block`). */
  private readonly blockedOn = new Set<Session>();
  /** Publishers paused because this session is slow. */
  private readonly blockers = new Set<Session>();
  private slowTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Subjects of CANCELs that matched no tracked request. CANCEL rides the control lane,
   * so a request cancelled right after it was sent can overtake its own PUB, still queued
   * behind bulk data: the broker then saw the CANCEL first, ignored it, and delivered the
   * request to a responder that was never told to stop. A request whose reply subject is
   * in here is dropped instead. Bounded (oldest forgotten first).
   */
  private readonly earlyCancels = new Set<string>();

  constructor(
    private readonly ctx: BrokerContext,
    readonly transport: FramedTransport,
    /** Set only by in-process code through Broker.accept (see AcceptOptions). */
    private readonly trustedIdentity?: string,
  ) {
    this.connId = `${ctx.serverId}-${nextConn++}`;
  }

  /**
   * Open and taking traffic. A connection whose transport is already closing (it said
   * GOODBYE, or was failed) is not: its state turns 'closed' only when the channel is
   * gone, which can take up to the close timeout, and a message "delivered" in between
   * was silently lost, even when another queue-group member could have taken it.
   */
  get isOpen(): boolean {
    return this.state === 'open' && !this.transport.isClosed;
  }

  /** True while this session's reads are paused by the slow-consumer policy. */
  get isBlocked(): boolean {
    return this.blockedOn.size > 0;
  }

  start(): void {
    this.transport.start(this);
    this.authTimer = setTimeout(() => {
      if (this.state === 'hello') {
        this.ctx.counters.authFailures++;
        this.fail(new PlexusError(ErrorCode.AUTH_TIMEOUT, `no HELLO within ${this.ctx.options.authTimeoutMs} ms`));
      }
    }, this.ctx.options.authTimeoutMs);
    this.authTimer.unref?.();
  }

  // ---- inbound -------------------------------------------------------------------

  onFrame(f: Frame): void {
    if (this.state === 'hello') {
      if (f.type !== FrameType.HELLO) {
        this.ctx.counters.protocolErrors++;
        this.fail(new PlexusError(ErrorCode.PROTOCOL, `expected HELLO, got ${frameTypeName(f.type)}`));
        return;
      }
      this.onHello(f);
      return;
    }
    if (this.state !== 'open') return;
    switch (f.type) {
      case FrameType.PUB:
        this.onPub(f);
        return;
      case FrameType.SUB:
        this.onSub(f);
        return;
      case FrameType.UNSUB:
        this.onUnsub(f);
        return;
      case FrameType.CANCEL:
        if (!this.ctx.requests.cancel(f.subject, this, readUtf8(f.payload, 0, f.payload.length) ?? '')) {
          this.rememberEarlyCancel(f.subject);
          this.onDirected(f);
        }
        return;
      case FrameType.CREDIT:
      case FrameType.DATA:
      case FrameType.END:
        this.onDirected(f);
        return;
      case FrameType.PING:
        if (!this.overHardCap()) this.transport.send({ type: FrameType.PONG, id: f.id });
        return;
      case FrameType.PONG:
      case FrameType.ERR:
        return;
      case FrameType.GOODBYE:
        this.close();
        return;
      default:
        this.ctx.counters.protocolErrors++;
        this.fail(new PlexusError(ErrorCode.PROTOCOL, `${frameTypeName(f.type)} is not valid from a client`));
    }
  }

  private onHello(f: Frame): void {
    let hello: Record<string, unknown>;
    try {
      const text = readUtf8(f.payload, 0, f.payload.length);
      const parsed: unknown = text === undefined ? undefined : JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      hello = parsed as Record<string, unknown>;
    } catch {
      this.ctx.counters.protocolErrors++;
      this.fail(new PlexusError(ErrorCode.PROTOCOL, 'HELLO payload must be a JSON object'));
      return;
    }
    if (typeof hello['version'] !== 'number' || hello['version'] < PROTOCOL_VERSION) {
      this.ctx.counters.protocolErrors++;
      this.fail(new PlexusError(ErrorCode.VERSION_MISMATCH, `this broker speaks protocol version ${PROTOCOL_VERSION}`));
      return;
    }
    if (this.ctx.shuttingDown) {
      this.fail(new PlexusError(ErrorCode.SHUTTING_DOWN, 'the broker is shutting down'));
      return;
    }
    const creds: Credentials = {
      ...(typeof hello['user'] === 'string' ? { user: hello['user'] } : {}),
      ...(typeof hello['pass'] === 'string' ? { pass: hello['pass'] } : {}),
      ...(typeof hello['token'] === 'string' ? { token: hello['token'] } : {}),
    };
    let principal;
    try {
      principal =
        this.trustedIdentity !== undefined
          ? this.ctx.auth.trusted(this.trustedIdentity)
          : this.ctx.auth.authenticate(creds, this.transport.info.certSubject, this.transport.info.peer?.uid);
    } catch (err) {
      this.ctx.counters.authFailures++;
      this.fail(err as PlexusError);
      return;
    }
    clearTimeout(this.authTimer);
    this.identity = principal.identity;
    this.permissions = principal.permissions;
    this.name = typeof hello['name'] === 'string' ? hello['name'].slice(0, 256) : '';
    // A Unix-socket peer's uid/gid/pid come from the kernel: stamped too, so a receiver
    // can tell which local process (or user) sent it even when everyone is "anonymous".
    const peer = this.transport.info.peer;
    const stamps: Record<string, string> = { [FROM_HEADER]: this.identity, [CONN_HEADER]: this.connId };
    if (peer) stamps[PEER_HEADER] = `uid=${peer.uid} gid=${peer.gid} pid=${peer.pid}`;
    this.stampBlock = encodeHeaders(stamps)!;
    this.stampEntries = this.stampBlock.subarray(2);
    this.stampCount = peer ? 3 : 2;
    this.state = 'open';
    this.ctx.sessionOpened(this);
    const welcome = {
      version: PROTOCOL_VERSION,
      serverId: this.ctx.serverId,
      connId: this.connId,
      identity: this.identity,
      maxPayload: this.ctx.options.maxPayloadBytes,
      heartbeatMs: this.ctx.options.heartbeatMs,
      features: PROTOCOL_FEATURES,
    };
    this.transport.send({ type: FrameType.WELCOME, payload: encodeUtf8(JSON.stringify(welcome)) }, 'control');
  }

  private onPub(f: Frame): void {
    const { counters, options, router, requests } = this.ctx;
    counters.msgsIn++;
    const size = payloadLength(f);
    counters.bytesIn += size;
    this.msgsIn++;
    const isRequest = (f.flags & Flag.REQUEST) !== 0;
    if (size > options.maxPayloadBytes) {
      return this.refuse(ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${size} bytes exceeds ${options.maxPayloadBytes}`, f);
    }
    // Hot streams repeat one subject (the decoder hands back the same string): check once.
    if (f.subject !== this.lastValidSubject) {
      const problem = subjectProblem(f.subject, false);
      if (problem) return this.refuse(ErrorCode.INVALID_SUBJECT, `${problem}: ${JSON.stringify(f.subject)}`, f);
      this.lastValidSubject = f.subject;
    }
    if (f.reply !== '' && subjectProblem(f.reply, false)) {
      return this.refuse(ErrorCode.INVALID_SUBJECT, `invalid reply subject ${JSON.stringify(f.reply)}`, f);
    }
    if (isRequest && f.reply === '') return this.refuse(ErrorCode.PROTOCOL, 'a request needs a reply subject', f);
    // A responder may answer a request it received without publish permission on the
    // reply subject, but only on an inbox: the requester picks the reply subject, and any
    // subject here would let it aim the responder's reply (under the responder's identity)
    // at, say, `bank.transfer`, which neither of them may publish to.
    const answering = f.subject.startsWith(INBOX_PREFIX) && requests.isResponder(f.subject, this);
    if (!answering && !this.permissions.canPublish(f.subject)) {
      counters.permissionDenied++;
      return this.refuse(ErrorCode.PERMISSION_DENIED, `not allowed to publish to ${f.subject}`, f);
    }
    // A requester must be able to receive on its reply subject. Otherwise the reply could
    // never reach it and the call would sit out its whole timeout.
    if (isRequest && !this.permissions.canSubscribe(f.reply)) {
      counters.permissionDenied++;
      return this.refuse(ErrorCode.PERMISSION_DENIED, `not allowed to receive replies on ${f.reply}`, f);
    }
    // The broker itself answers registry requests; nothing is routed to subscribers.
    if (f.subject.startsWith(REGISTRY_PREFIX)) return this.ctx.registry.onRequest(this, f);
    let headers: Uint8Array;
    if (f.headers === undefined) headers = this.stampBlock;
    else {
      if (hasReservedHeader(f.headers)) {
        return this.refuse(ErrorCode.INVALID_HEADERS, "header keys starting with ':' are reserved for the broker", f);
      }
      const stamped = appendHeader(f.headers, this.stampEntries, this.stampCount);
      if (!stamped) return this.refuse(ErrorCode.INVALID_HEADERS, 'header block too large to stamp the sender', f);
      headers = stamped;
    }
    if (isRequest && this.earlyCancels.delete(f.reply)) return; // cancelled before it got here
    if (requests.size > 0) requests.answered(f.subject, this);

    const match = router.match(f.subject);
    let delivered: Session[] | undefined;
    // Content filters look at the sender's headers, decoded at most once per message.
    let decoded: Record<string, string> | undefined;
    for (let i = 0; i < match.plain.length; i++) {
      const r = match.plain[i]!;
      if (r.filter !== undefined && !filterMatches(r.filter, (decoded ??= decodeHeaders(f.headers) ?? {}))) continue;
      if (r.owner.deliver(r, f, headers, this) && isRequest) (delivered ??= []).push(r.owner);
    }
    for (let g = 0; g < match.groups.length; g++) {
      const group = match.groups[g]!;
      // Round-robin over members whose connection is still usable.
      for (let tries = 0; tries < group.members.length; tries++) {
        const r = group.members[group.next++ % group.members.length]!;
        if (!r.owner.isOpen) continue;
        if (r.filter !== undefined && !filterMatches(r.filter, (decoded ??= decodeHeaders(f.headers) ?? {}))) continue;
        // A member that refuses it (slow under `drop`/`disconnect`) leaves it to the next.
        if (!r.owner.deliver(r, f, headers, this)) continue;
        if (isRequest) (delivered ??= []).push(r.owner);
        break;
      }
    }
    if (isRequest) {
      if (!delivered) {
        counters.noResponders++;
        this.sendError(new PlexusError(ErrorCode.NO_RESPONDERS, `no responders for ${f.subject}`), f.reply);
      } else requests.add(f.reply, this, delivered, f.aux);
    }
  }

  /** CREDIT, DATA, END, and CANCEL of a stream: routed by subject to plain subscribers. */
  private onDirected(f: Frame): void {
    if (f.payload.length > this.ctx.options.maxPayloadBytes) {
      return this.refuse(ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${f.payload.length} bytes exceeds ${this.ctx.options.maxPayloadBytes}`, f);
    }
    if (subjectProblem(f.subject, false)) {
      return this.refuse(ErrorCode.INVALID_SUBJECT, `invalid subject ${JSON.stringify(f.subject)}`, f);
    }
    if (!this.permissions.canPublish(f.subject)) {
      this.ctx.counters.permissionDenied++;
      return this.refuse(ErrorCode.PERMISSION_DENIED, `not allowed to send to ${f.subject}`, f);
    }
    const match = this.ctx.router.match(f.subject);
    let any = false;
    for (const r of match.plain) any = r.owner.deliverDirected(r, f, this) || any;
    if (!any) this.sendError(new PlexusError(ErrorCode.NO_RESPONDERS, `nobody is listening on ${f.subject}`), f.subject);
  }

  private onSub(f: Frame): void {
    const { options, router, counters } = this.ctx;
    if (f.id === 0) return this.refuse(ErrorCode.PROTOCOL, 'subscription id 0 is reserved', f);
    const problem = subjectProblem(f.subject, true);
    if (problem) return this.refuse(ErrorCode.INVALID_SUBJECT, `${problem}: ${JSON.stringify(f.subject)}`, f);
    if (f.reply !== '' && subjectProblem(f.reply, false)) {
      return this.refuse(ErrorCode.INVALID_SUBJECT, `invalid queue group name ${JSON.stringify(f.reply)}`, f);
    }
    if (!this.permissions.canSubscribe(f.subject)) {
      counters.permissionDenied++;
      return this.refuse(ErrorCode.PERMISSION_DENIED, `not allowed to subscribe to ${f.subject}`, f);
    }
    if (this.subs.has(f.id)) return this.refuse(ErrorCode.PROTOCOL, `subscription id ${f.id} is already in use`, f);
    if (this.subs.size >= options.maxSubscriptionsPerConnection) {
      return this.refuse(ErrorCode.MAX_SUBSCRIPTIONS, `at most ${options.maxSubscriptionsPerConnection} subscriptions per connection`, f);
    }
    let filter: Record<string, string> | undefined;
    if (f.headers !== undefined) {
      filter = decodeHeaders(f.headers);
      if (!filter) return this.refuse(ErrorCode.INVALID_HEADERS, 'malformed subscription filter', f);
    }
    const route: Route<Session> = { owner: this, sid: f.id, subject: f.subject, queue: f.reply, filter };
    this.subs.set(f.id, route);
    router.add(route);
  }

  private onUnsub(f: Frame): void {
    const route = this.subs.get(f.id);
    if (!route) return;
    this.subs.delete(f.id);
    this.ctx.router.remove(route);
  }

  private rememberEarlyCancel(subject: string): void {
    if (this.earlyCancels.size >= 1024) this.earlyCancels.delete(this.earlyCancels.values().next().value!);
    this.earlyCancels.add(subject);
  }

  // ---- outbound ------------------------------------------------------------------

  /** Deliver a published message to this session's subscription. False if not sent. */
  deliver(route: Route<Session>, f: Frame, headers: Uint8Array, from: Session | undefined): boolean {
    if (!this.isOpen) return false;
    if (this.overLimit() && !this.makeRoom(from)) return false;
    // One scratch FrameInit per delivery path: send() encodes synchronously, so reusing it
    // saves an allocation per message on the hottest path in the broker.
    const init = msgInit;
    init.flags = f.flags & (Flag.REQUEST | Flag.PRIORITY | Flag.ERROR);
    init.id = route.sid;
    init.aux = f.aux;
    init.subject = f.subject;
    init.reply = f.reply;
    init.headers = headers;
    init.payloadFrom = f;
    init.namesFrom = f;
    this.transport.send(init);
    init.payloadFrom = init.namesFrom = undefined;
    init.headers = undefined;
    this.msgsOut++;
    this.ctx.counters.msgsOut++;
    this.ctx.counters.bytesOut += payloadLength(f);
    if (this.overLimit()) this.becameSlow(from);
    return true;
  }

  /** Forward a directed frame (stream traffic) to this session's inbox subscription. */
  deliverDirected(route: Route<Session>, f: Frame, from: Session): boolean {
    if (!this.isOpen) return false;
    if (this.overLimit() && !this.makeRoom(from)) return false;
    // The payload is a view of a socket read buffer, which Node never reuses: forward by reference.
    this.transport.send({ type: f.type, flags: f.flags, id: route.sid, aux: f.aux, subject: f.subject, payload: f.payload, payloadImmutable: true });
    if (this.overLimit()) this.becameSlow(from);
    return true;
  }

  forwardCancel(reply: string, reason: string): void {
    if (this.state !== 'open' || this.overHardCap()) return;
    this.transport.send({ type: FrameType.CANCEL, subject: reply, payload: encodeUtf8(reason) });
  }

  sendError(err: PlexusError, subject: string, id = 0): void {
    if (this.state === 'closed' || this.overHardCap()) return;
    this.transport.send({ type: FrameType.ERR, id, subject, payload: encodeUtf8(JSON.stringify(err.toWire())) });
  }

  /** Ask the client to go away (graceful shutdown). */
  goodbye(reason: string): void {
    if (this.state === 'closed') return;
    this.transport.send({ type: FrameType.GOODBYE, payload: encodeUtf8(reason) });
  }

  ping(): void {
    this.transport.send({ type: FrameType.PING, id: 0 });
  }

  /** Refuse one frame with a coded ERR; the connection stays open. */
  private refuse(code: Code, message: string, f: Frame): void {
    this.sendError(new PlexusError(code, message), f.reply !== '' && f.type === FrameType.PUB ? f.reply : f.subject, f.id);
  }

  // ---- slow consumers ------------------------------------------------------------

  /**
   * Is this connection's outbound queue over `maxPendingBytes` even after handing the
   * coalesced bytes to the channel? `pendingBytes` also counts frames still sitting in the
   * framer's write-coalescing buffer (flushed on a microtask or at 64 KiB), which a fast
   * consumer's socket would take at once. Judging by that number alone, a burst of
   * deliveries from one inbound chunk made perfectly fast consumers "slow" whenever
   * maxPendingBytes was below a few coalescing chunks: under `block` they were disconnected
   * by the 4x cap (or their publisher was paused with nothing left to drain, so no
   * `onDrain` ever resumed it), under `disconnect` they were dropped. Only what the channel
   * refused counts; flushing also arms the framer's drain notification.
   */
  private overLimit(): boolean {
    if (this.transport.writable) return false;
    this.transport.flush();
    return !this.transport.writable;
  }

  /**
   * Answers that are not deliveries (PONG, ERR, forwarded CANCEL) skip the slow-consumer
   * policy, so a client flooding PINGs or bad frames without reading made the broker queue
   * its answers without bound (an ERR echoes the subject: more bytes out than in). Past
   * the hard cap of 4 × maxPendingBytes that the channel refused, it is disconnected.
   */
  private overHardCap(): boolean {
    const cap = 4 * this.ctx.options.maxPendingBytes;
    if (this.transport.pendingBytes <= cap) return false;
    this.transport.flush();
    if (this.transport.pendingBytes <= cap) return false;
    this.disconnectSlow();
    return true;
  }

  /** The outbound queue is over its limit before a send: apply the policy. */
  private makeRoom(from: Session | undefined): boolean {
    const { slowConsumer, maxPendingBytes } = this.ctx.options;
    if (slowConsumer === 'drop') {
      this.dropped++;
      this.ctx.counters.droppedMsgs++;
      this.markSlow('drop');
      return false;
    }
    if (slowConsumer === 'disconnect' || this.transport.pendingBytes > 4 * maxPendingBytes) {
      this.disconnectSlow();
      return false;
    }
    this.becameSlow(from);
    return true;
  }

  private becameSlow(from: Session | undefined): void {
    const policy = this.ctx.options.slowConsumer;
    if (policy === 'disconnect') {
      this.disconnectSlow();
      return;
    }
    if (policy === 'block' && from && from !== this && from.state === 'open') from.blockOn(this);
    this.markSlow(policy);
  }

  private markSlow(policy: string): void {
    if (this.slowTimer) return;
    // Arm the timer first: it is also the re-entry guard. The advisory below is delivered
    // like any message, and when this very session subscribes to it (`>`, `$SYS.>`) the
    // delivery finds it over its limit and comes back here; before, that recursed until
    // the stack overflowed inside a publisher's data handler and took the broker down.
    this.slowTimer = setTimeout(() => {
      this.slowTimer = undefined;
      if (!this.transport.writable) this.disconnectSlow();
    }, this.ctx.options.writeDeadlineMs);
    this.slowTimer.unref?.();
    this.ctx.counters.slowConsumers++;
    this.advise(policy);
  }

  private disconnectSlow(): void {
    if (this.transport.isClosed) return; // already going (re-entered through the advisory)
    const pendingBytes = this.transport.pendingBytes;
    this.fail(new PlexusError(ErrorCode.SLOW_CONSUMER, `connection could not keep up: ${pendingBytes} bytes pending`));
    // The `disconnect` policy used to close the connection without the advisory (and
    // without counting it) that the options document for every policy.
    this.ctx.counters.slowConsumers++;
    this.advise('disconnect', pendingBytes);
  }

  private advise(policy: string, pendingBytes = this.transport.pendingBytes): void {
    this.ctx.advisory('SLOW_CONSUMER', { connId: this.connId, identity: this.identity, name: this.name, policy, pendingBytes });
  }

  private blockOn(target: Session): void {
    if (this.blockedOn.has(target)) return;
    this.blockedOn.add(target);
    target.blockers.add(this);
    if (this.blockedOn.size === 1) this.transport.pause();
  }

  private unblock(target: Session): void {
    if (!this.blockedOn.delete(target)) return;
    if (this.blockedOn.size === 0 && this.state !== 'closed') {
      this.lastIn = Date.now();
      this.transport.resume();
    }
  }

  private releaseBlockers(): void {
    for (const b of this.blockers) b.unblock(this);
    this.blockers.clear();
  }

  onDrain(): void {
    if (this.slowTimer) {
      clearTimeout(this.slowTimer);
      this.slowTimer = undefined;
    }
    this.releaseBlockers();
  }

  // ---- closing -------------------------------------------------------------------

  /** Send a coded error and close this connection. */
  fail(err: PlexusError): void {
    if (this.state === 'closed') return;
    this.transport.fail(err);
  }

  close(): void {
    this.transport.close();
  }

  onClose(err?: Error): void {
    if (this.state === 'closed') return;
    // Bytes the decoder rejected close the connection inside the framer, never reaching
    // onFrame: count them here, or /metrics under-reported protocol errors.
    if (err instanceof PlexusError && DECODE_ERRORS.has(err.code)) this.ctx.counters.protocolErrors++;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    clearTimeout(this.authTimer);
    if (this.slowTimer) clearTimeout(this.slowTimer);
    for (const route of this.subs.values()) this.ctx.router.remove(route);
    this.subs.clear();
    this.releaseBlockers();
    for (const t of this.blockedOn) t.blockers.delete(this);
    this.blockedOn.clear();
    this.ctx.requests.closed(this);
    this.ctx.registry.sessionClosed(this, err instanceof PlexusError ? err.code : 'disconnected');
    this.ctx.sessionClosed(this, wasOpen);
  }
}
