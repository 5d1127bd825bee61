/**
 * What queues and mailboxes share: a durable stream with work-queue retention and one
 * shared durable consumer, created on first use; sending with publisher acks, dedup,
 * delay and TTL; consuming through a push session with a credit window; dead letters
 * and statistics. `queue.ts` and `mailbox.ts` only choose the names.
 */
import type { Connection, Payload } from '../client/index.js';
import {
  DELAY_HEADER,
  DELIVER_AT_HEADER,
  MAX_DELAY_MS,
  MAX_TTL_MS,
  TTL_HEADER,
  consume,
  durable,
  type DurableClient,
  type DurableFsync,
  type DurableMessage,
  type MessageStream,
  type StoredMessage,
} from '../durable/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** Options for the stream and consumer behind a queue or mailbox; they apply when it is first created. */
export interface QueueOptions {
  /** How durable an acknowledged send is (see docs/store.md). @default 'always' */
  readonly fsync?: DurableFsync;
  /** Redeliver a message not settled within this long. @default 30000 */
  readonly ackWaitMs?: number;
  /** Deliveries before a message is dead-lettered. @default 5 */
  readonly maxDeliver?: number;
  /** Oldest messages are dropped beyond these limits (unset: unlimited). */
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  readonly maxAgeMs?: number;
  /** Window in which a repeated `msgId` stores nothing. @default 120000 */
  readonly dedupWindowMs?: number;
  /** Timeout of every call to the service. @default 5000 */
  readonly timeoutMs?: number;
}

/** Options of `send`. */
export interface SendOptions {
  /** Dedup id: a repeat within the dedup window stores nothing and resolves with the first sequence. */
  readonly msgId?: string;
  /** Deliver no earlier than this many ms from now (≤ 30 days). */
  readonly delayMs?: number;
  /** Deliver no earlier than this time. */
  readonly deliverAt?: Date | number;
  /** Never deliver once this many ms have passed (≤ 365 days); expired messages are dropped. */
  readonly ttlMs?: number;
  /** Application headers (names starting with `ds-` are reserved). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** What a stored send resolves with. */
export interface SendResult {
  /** Sequence in the queue's stream. */
  readonly seq: number;
  /** The `msgId` was seen before: nothing new was stored. */
  readonly duplicate: boolean;
}

/** Options of `consume` / `read`. */
export interface QueueConsumeOptions {
  /**
   * `'manual'` (default): settle every message with ack / nack / term, or it is
   * redelivered after the ack wait. `'auto'`: acknowledged as it is handed out
   * (at-most-once processing).
   */
  readonly ack?: 'manual' | 'auto';
  /** Most messages held by this consumer and not yet settled (1-10000). @default 64 */
  readonly prefetch?: number;
  /** Ends the iteration. */
  readonly signal?: AbortSignal;
  /** Liveness beat between this consumer and the service (100-60000 ms). @default 5000 */
  readonly heartbeatMs?: number;
}

/** A received message; settle it with one of ack / nack / term. */
export interface QueueMessage {
  readonly seq: number;
  readonly subject: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly data: Uint8Array;
  /** The sender's identity, as the broker stamped it (cannot be forged). */
  readonly from: string;
  /** When it was stored (epoch ms). */
  readonly timestamp: number;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  string(): string;
  json<T = unknown>(): T;
  /** Done: never delivered again. Resolves once the service saved it. */
  ack(): Promise<void>;
  /** Give it back for redelivery, now or after `delayMs`. */
  nack(options?: { delayMs?: number }): Promise<void>;
  /** Still working: restart the ack wait. */
  inProgress(): Promise<void>;
  /** Drop it: never delivered again, not dead-lettered. */
  term(): Promise<void>;
}

/** An async iterable of messages; `break` or `close()` ends it (and gives back what was on its way). */
export interface QueueConsumer extends AsyncIterableIterator<QueueMessage> {
  close(): Promise<void>;
}

/** A dead-lettered message with why and where from. */
export interface DeadLetter extends StoredMessage {
  /** `max-deliver`. */
  readonly reason: string;
  /** Sequence it had in the queue's stream. */
  readonly originalSeq: number;
  /** Times it was delivered. */
  readonly deliveries: number;
}

/** The dead letters of a queue or mailbox. */
export interface DeadLetters {
  /** Read up to `limit` (≤ 256) dead letters from `fromSeq` (DLQ sequence) on, oldest first; nothing is removed. */
  read(options?: { fromSeq?: number; limit?: number }): Promise<DeadLetter[]>;
  /** Dead letters stored. */
  count(): Promise<number>;
}

/** A queue's or mailbox's numbers. */
export interface QueueStat {
  readonly name: string;
  /** Messages stored (not yet acknowledged, or acknowledged out of order above the ack floor). */
  readonly stored: number;
  readonly bytes: number;
  /** Stored, never handed out. */
  readonly ready: number;
  /** Handed out, not yet settled. */
  readonly unacked: number;
  /** Delayed, not yet due (counted only once the consumer has read past them). */
  readonly scheduled: number;
  readonly deadLetters: number;
}

/** The names behind a queue or mailbox. */
export interface Layout {
  readonly name: string;
  readonly stream: string;
  readonly subject: string;
  readonly consumer: string;
  /**
   * A queue's first sender creates the consumer too, so the options of whoever creates
   * the queue set its ack wait and max-deliver; a mailbox's sender cannot (owner only).
   */
  readonly senderCreatesConsumer: boolean;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,58}$/;

/** Queue and mailbox names: 1-58 of `[A-Za-z0-9_-]` (they become stream names). */
export function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${kind} name must be 1-58 of [A-Za-z0-9_-]`, { details: { name } });
  }
}

function codeOf(err: unknown): string | undefined {
  return err instanceof PlexusError ? err.code : (err as { code?: string } | undefined)?.code;
}

function checkMs(what: string, v: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${what} must be an integer from 0 to ${max}`);
}

/** The headers a send puts on the message. */
export function sendHeaders(o: SendOptions): Record<string, string> | undefined {
  const h: Record<string, string> = { ...o.headers };
  if (o.delayMs !== undefined) {
    checkMs('delayMs', o.delayMs, MAX_DELAY_MS);
    h[DELAY_HEADER] = String(o.delayMs);
  }
  if (o.deliverAt !== undefined) h[DELIVER_AT_HEADER] = String(Math.max(0, Math.floor(+o.deliverAt)));
  if (o.ttlMs !== undefined) {
    checkMs('ttlMs', o.ttlMs, MAX_TTL_MS);
    h[TTL_HEADER] = String(o.ttlMs);
  }
  return Object.keys(h).length > 0 ? h : undefined;
}

function wrap(m: DurableMessage): QueueMessage {
  return {
    seq: m.seq,
    subject: m.subject,
    headers: m.headers,
    data: m.data,
    from: m.from,
    timestamp: m.timestamp,
    deliveryCount: m.deliveryCount,
    string: () => m.string(),
    json: <T>() => m.json<T>(),
    ack: () => m.ack(),
    nack: (o) => m.nak(o),
    inProgress: () => m.inProgress(),
    term: () => m.term(),
  };
}

class Consumer implements QueueConsumer {
  constructor(private readonly inner: Promise<MessageStream>) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<QueueMessage>> {
    const r = await (await this.inner).next();
    return r.done ? { value: undefined, done: true } : { value: wrap(r.value), done: false };
  }

  async return(): Promise<IteratorResult<QueueMessage>> {
    await this.close();
    return { value: undefined, done: true };
  }

  async close(): Promise<void> {
    await this.inner.then(
      (s) => s.close(),
      () => undefined,
    );
  }
}

/** A stream with work-queue retention and one shared consumer, created on first use. */
export class DurableQueue {
  private readonly ds: DurableClient;
  private streamReady: Promise<void> | undefined;
  private consumerReady: Promise<void> | undefined;

  constructor(
    private readonly bus: Connection,
    readonly layout: Layout,
    private readonly options: QueueOptions,
  ) {
    this.ds = durable(bus, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {});
  }

  /** Create the stream unless it exists (an existing one keeps its configuration). */
  private ensureStream(): Promise<void> {
    this.streamReady ??= (async () => {
      const o = this.options;
      try {
        await this.ds.streamInfo(this.layout.stream);
        return;
      } catch (err) {
        if (codeOf(err) !== ErrorCode.DURABLE_NOT_FOUND) throw err;
      }
      try {
        await this.ds.createStream({
          name: this.layout.stream,
          subjects: [this.layout.subject],
          retention: 'workqueue',
          ...(o.fsync !== undefined ? { fsync: o.fsync } : {}),
          ...(o.maxMessages !== undefined ? { maxMessages: o.maxMessages } : {}),
          ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}),
          ...(o.maxAgeMs !== undefined ? { maxAgeMs: o.maxAgeMs } : {}),
          ...(o.dedupWindowMs !== undefined ? { dedupWindowMs: o.dedupWindowMs } : {}),
        });
      } catch (err) {
        if (codeOf(err) !== ErrorCode.DURABLE_EXISTS) throw err; // created meanwhile by another client
      }
    })();
    // A failure (the service not running yet) is not remembered: the next call tries again.
    this.streamReady.catch(() => (this.streamReady = undefined));
    return this.streamReady;
  }

  private ensureConsumer(): Promise<void> {
    this.consumerReady ??= (async () => {
      await this.ensureStream();
      try {
        await this.ds.consumerInfo(this.layout.stream, this.layout.consumer);
        return;
      } catch (err) {
        if (codeOf(err) !== ErrorCode.DURABLE_NOT_FOUND) throw err;
      }
      try {
        await this.ds.createConsumer({
          stream: this.layout.stream,
          name: this.layout.consumer,
          deliverPolicy: 'all',
          ...(this.options.ackWaitMs !== undefined ? { ackWaitMs: this.options.ackWaitMs } : {}),
          ...(this.options.maxDeliver !== undefined ? { maxDeliver: this.options.maxDeliver } : {}),
        });
      } catch (err) {
        if (codeOf(err) !== ErrorCode.DURABLE_EXISTS) throw err;
      }
    })();
    this.consumerReady.catch(() => (this.consumerReady = undefined));
    return this.consumerReady;
  }

  async send(data: Payload | undefined, o: SendOptions = {}): Promise<SendResult> {
    const headers = sendHeaders(o);
    await (this.layout.senderCreatesConsumer ? this.ensureConsumer() : this.ensureStream());
    const r = await this.ds.publish(this.layout.subject, data, {
      ...(o.msgId !== undefined ? { msgId: o.msgId } : {}),
      ...(headers ? { headers } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
    return { seq: r.seq, duplicate: r.duplicate };
  }

  consume(o: QueueConsumeOptions = {}): QueueConsumer {
    const inner = this.ensureConsumer().then(() =>
      consume(this.bus, this.layout.stream, this.layout.consumer, {
        ...(o.ack !== undefined ? { ack: o.ack } : {}),
        ...(o.prefetch !== undefined ? { prefetch: o.prefetch } : {}),
        ...(o.signal !== undefined ? { signal: o.signal } : {}),
        ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
        ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
      }),
    );
    inner.catch(() => undefined); // surfaced by next()
    return new Consumer(inner);
  }

  dlq(): DeadLetters {
    const name = `DLQ.${this.layout.stream}`;
    const missing = (err: unknown): boolean => codeOf(err) === ErrorCode.DURABLE_NOT_FOUND;
    return {
      read: async (o = {}) => {
        try {
          const list = await this.ds.read(name, { batch: o.limit ?? 100, ...(o.fromSeq !== undefined ? { startSeq: o.fromSeq } : {}) });
          return list.map((m) => ({
            ...m,
            reason: m.headers['dlq-reason'] ?? '',
            originalSeq: Number(m.headers['dlq-seq'] ?? 0),
            deliveries: Number(m.headers['dlq-deliveries'] ?? 0),
          }));
        } catch (err) {
          if (missing(err)) return [];
          throw err;
        }
      },
      count: async () => {
        try {
          return (await this.ds.streamInfo(name)).state.messages;
        } catch (err) {
          if (missing(err)) return 0;
          throw err;
        }
      },
    };
  }

  async stat(): Promise<QueueStat> {
    await this.ensureConsumer();
    const [s, c, dead] = await Promise.all([
      this.ds.streamInfo(this.layout.stream),
      this.ds.consumerInfo(this.layout.stream, this.layout.consumer),
      this.dlq().count(),
    ]);
    return {
      name: this.layout.name,
      stored: s.state.messages,
      bytes: s.state.bytes,
      ready: Math.max(0, s.state.lastSeq - c.state.delivered),
      unacked: c.state.pending,
      scheduled: c.state.scheduled,
      deadLetters: dead,
    };
  }
}
