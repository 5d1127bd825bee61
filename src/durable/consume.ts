/**
 * Push consumption with a credit window (client side of src/durable/push.ts): an async
 * iterator over a durable consumer's messages. The client grants `prefetch` credit,
 * counts messages that arrive, are buffered or are still unsettled, and refills when
 * half the window is free — like nats.js `consume()`. It keeps the session alive with a
 * grant every heartbeat, and re-establishes it (a reset grant) when the service has been
 * silent for three heartbeats or answers that the session is new (it restarted).
 */
import { randomUUID } from 'node:crypto';
import type { Connection, Message } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { AckBatcher } from './ack-batch.js';
import type { DurableMessage } from './client.js';
import { DS, META_HEADER, STATUS_HEADER, type PushMeta } from './config.js';
import { DEFAULT_HEARTBEAT_MS, MAX_PUSH_CREDIT, type PushGrant, type PushGrantReply } from './push.js';

/** Options of {@link consume}. */
export interface ConsumeOptions {
  /** The credit window: most messages sent to this client and not yet settled (1-10000). @default 64 */
  readonly prefetch?: number;
  /**
   * `'manual'` (default): settle every message (ack / nak / term). `'auto'`: each message
   * is acknowledged as it is handed to the loop (at-most-once processing, like
   * RabbitMQ's no-ack mode).
   */
  readonly ack?: 'manual' | 'auto';
  /** Heartbeat of the session both ways (100-60000 ms). @default 5000 */
  readonly heartbeatMs?: number;
  /** Stops the iteration (it ends; it does not throw). */
  readonly signal?: AbortSignal;
  /** Timeout of grants and acks. @default 5000 */
  readonly timeoutMs?: number;
}

/**
 * An async iterator of messages; `close()` (or `break`) ends the session. Closing waits
 * (at most the grant timeout) until the service confirmed the stop, giving back what
 * was still on its way, so nothing sits out an ack wait.
 */
export interface MessageStream extends AsyncIterableIterator<DurableMessage> {
  close(): Promise<void>;
}

/** Errors after which a grant is simply tried again on the next heartbeat. */
const TRANSIENT = new Set<string>([ErrorCode.NO_RESPONDERS, ErrorCode.TIMEOUT, ErrorCode.RESPONDER_GONE, ErrorCode.CONNECTION_LOST]);

const decoder = new TextDecoder();

/**
 * A handed-out, unsettled delivery's hold on the credit window. When its ack wait runs
 * out the service takes the message back (and redelivers it), so the hold is released:
 * a consumer whose window is full of stalled messages still gets their redeliveries.
 */
interface Hold {
  /** When its ack wait started at the latest: arrival, or the last in-progress reply (so never early). */
  since: number;
  expired: boolean;
}

class PushConsumer implements MessageStream {
  private readonly deliver = `_INBOX.ds.${randomUUID().replace(/-/g, '')}`;
  private readonly subject: string;
  private readonly prefetch: number;
  private readonly heartbeatMs: number;
  private readonly timeoutMs: number;
  private readonly auto: boolean;
  private readonly buffer: DurableMessage[] = [];
  private granted = 0;
  private unsettled = 0;
  private granting = false;
  private needReset = false;
  private lastHeard = Date.now();
  private closed = false;
  private closing: Promise<void> | undefined;
  private error: unknown;
  private wakeUp: (() => void) | undefined;
  private readonly started: Promise<void>;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly sub;
  private readonly onAbort = (): void => void this.close();
  private readonly acks: AckBatcher;
  /** The consumer's ack wait, from the service's grant reply (older services don't say). */
  private ackWaitMs: number | undefined;
  private readonly held = new Set<Hold>();
  private readonly holds = new WeakMap<DurableMessage, Hold>();
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly bus: Connection,
    stream: string,
    consumer: string,
    private readonly options: ConsumeOptions,
  ) {
    this.subject = `${DS.CONSUMER_PUSH}.${stream}.${consumer}`;
    this.prefetch = options.prefetch ?? 64;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.auto = options.ack === 'auto';
    this.acks = new AckBatcher(bus, this.timeoutMs);
    if (!Number.isSafeInteger(this.prefetch) || this.prefetch < 1 || this.prefetch > MAX_PUSH_CREDIT) {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `prefetch must be an integer from 1 to ${MAX_PUSH_CREDIT}`);
    }
    this.sub = bus.subscribe(this.deliver, { callback: (m) => this.onMessage(m) });
    this.timer = setInterval(() => this.tick(), this.heartbeatMs);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (options.signal?.aborted) void this.close();
    this.started = this.closed ? Promise.resolve() : this.grant(this.prefetch, true, true);
    this.started.catch(() => undefined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<DurableMessage>> {
    await this.started;
    for (;;) {
      const m = this.buffer.shift();
      if (m) {
        if (this.auto) this.bus.publish(m.ackSubject, '+ACK');
        else {
          this.unsettled++;
          const hold = this.holds.get(m);
          if (hold) this.held.add(hold);
          this.armExpiry();
        }
        this.maybeRefill();
        return { value: m, done: false };
      }
      if (this.error !== undefined) throw this.error;
      if (this.closed) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.wakeUp = resolve));
    }
  }

  async return(): Promise<IteratorResult<DurableMessage>> {
    await this.close();
    return { value: undefined, done: true };
  }

  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.expiryTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.wake();
    try {
      // Buffered, never handed out: give them back now instead of after their ack wait.
      for (const m of this.buffer.splice(0)) this.bus.publish(m.ackSubject, '-NAK');
      // The stop's reply comes after every message the service sent before it (one
      // connection, in order): what arrives meanwhile is given back by onMessage.
      await this.bus.request(this.subject, JSON.stringify({ deliver: this.deliver, stop: true } satisfies PushGrant), { timeout: this.timeoutMs });
    } catch {
      // The service or connection is gone: it redelivers after the ack wait.
    } finally {
      try {
        this.sub.unsubscribe();
      } catch {
        // The connection is already closed: so is the subscription.
      }
    }
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private fail(err: unknown): void {
    this.error ??= err;
    void this.close();
  }

  private onMessage(msg: Message): void {
    this.lastHeard = Date.now();
    const h = msg.headers;
    if (h[STATUS_HEADER] !== undefined) return;
    let meta: PushMeta;
    try {
      meta = JSON.parse(h[META_HEADER] ?? '') as PushMeta;
    } catch {
      return; // not from the service
    }
    this.granted = Math.max(0, this.granted - 1);
    if (this.closed) {
      this.bus.publish(meta.ackSubject, '-NAK');
      return;
    }
    const headers: Record<string, string> = {};
    for (const k of Object.keys(h)) if (k !== META_HEADER) headers[k] = h[k]!;
    const data = Uint8Array.prototype.slice.call(msg.data);
    let settled = false;
    const hold: Hold = { since: Date.now(), expired: false };
    const settle = async (payload: string): Promise<void> => {
      if (!settled && !this.auto) {
        settled = true;
        if (!hold.expired) {
          this.held.delete(hold);
          this.unsettled--;
          this.maybeRefill();
        }
      }
      if (payload === '+ACK') await this.acks.ack(meta.ackSubject);
      else await this.bus.request(meta.ackSubject, payload, { timeout: this.timeoutMs });
    };
    const message: DurableMessage = {
      seq: meta.seq,
      subject: meta.subject,
      headers,
      data,
      from: meta.from,
      timestamp: meta.timestamp,
      deliveryCount: meta.deliveryCount,
      ackSubject: meta.ackSubject,
      string: () => decoder.decode(data),
      json: <T>() => JSON.parse(decoder.decode(data)) as T,
      ack: () => settle('+ACK'),
      nak: (o) => settle(o?.delayMs !== undefined ? `-NAK ${JSON.stringify({ delayMs: o.delayMs })}` : '-NAK'),
      inProgress: () =>
        this.bus.request(meta.ackSubject, '+WPI', { timeout: this.timeoutMs }).then(() => {
          if (!hold.expired) hold.since = Date.now();
        }),
      term: () => settle('+TERM'),
    };
    this.holds.set(message, hold);
    this.buffer.push(message);
    this.wake();
  }

  /** Release the holds whose ack wait has run out (the service redelivers those messages). */
  private expire(): void {
    const now = Date.now();
    const wait = this.ackWaitMs;
    if (wait === undefined) return;
    for (const h of this.held) {
      if (h.since + wait > now) continue;
      h.expired = true;
      this.held.delete(h);
      this.unsettled--;
    }
    this.maybeRefill();
    this.armExpiry();
  }

  private armExpiry(): void {
    const wait = this.ackWaitMs;
    if (this.expiryTimer !== undefined || this.closed || this.held.size === 0 || wait === undefined) return;
    let first = Number.POSITIVE_INFINITY;
    for (const h of this.held) first = Math.min(first, h.since + wait);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.expire();
    }, Math.max(0, first - Date.now()) + 10);
    this.expiryTimer.unref();
  }

  /** Credit the client can still take: the window minus what it holds or is owed. */
  private free(): number {
    return Math.max(0, this.prefetch - this.granted - this.buffer.length - this.unsettled);
  }

  private maybeRefill(): void {
    if (this.closed || this.granting || this.needReset) return;
    const free = this.free();
    if (free >= Math.ceil(this.prefetch / 2)) void this.grant(free, false, false).catch(() => undefined);
  }

  private tick(): void {
    if (this.closed || this.granting) return;
    if (this.needReset || Date.now() - this.lastHeard > 3 * this.heartbeatMs) {
      // The service restarted or dropped us: start over with what we can take.
      this.granted = 0;
      void this.grant(this.free(), true, false).catch(() => undefined);
    } else {
      void this.grant(0, false, false).catch(() => undefined); // keep-alive
    }
  }

  /** Send a grant; the first one's errors reach the caller, later transient ones are retried. */
  private async grant(credit: number, reset: boolean, first: boolean): Promise<void> {
    this.granting = true;
    try {
      const body: PushGrant = { deliver: this.deliver, credit, reset, heartbeatMs: this.heartbeatMs };
      const reply = (await this.bus.request(this.subject, JSON.stringify(body), { timeout: this.timeoutMs })).json<PushGrantReply>();
      this.lastHeard = Date.now();
      // The service's own count: the reply comes after every message it sent before it
      // (one connection, in order), so this also heals credit lost with messages that
      // went nowhere during a reconnect — no window can leak away and stall us.
      this.granted = reply.credit;
      if (typeof reply.ackWaitMs === 'number' && this.ackWaitMs === undefined) {
        this.ackWaitMs = reply.ackWaitMs;
        this.armExpiry();
      }
      this.needReset = reply.created === true && !reset; // it forgot our earlier credit
    } catch (err) {
      if (TRANSIENT.has((err as PlexusError).code)) {
        this.needReset = true;
        // Try again soon (the service may be starting), not only at the next heartbeat.
        setTimeout(() => this.tick(), Math.min(this.heartbeatMs, 500)).unref();
      } else {
        this.fail(err);
        if (first) throw err;
      }
    } finally {
      this.granting = false;
    }
    if (this.needReset && !this.closed && credit > 0) return;
    this.maybeRefill();
  }
}

/**
 * Consume `stream`/`consumer` through a push session with a credit window. Iteration
 * waits for messages until `break`, `close()` or the signal; a fatal error (unknown
 * consumer, permission denied, connection closed) is thrown from the iterator. While the
 * service is unreachable it keeps trying every heartbeat.
 */
export function consume(bus: Connection, stream: string, consumer: string, options: ConsumeOptions = {}): MessageStream {
  return new PushConsumer(bus, stream, consumer, options);
}
