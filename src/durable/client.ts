/**
 * A thin typed helper over the durable service's `$PLX.DS.*` request/reply API.
 *
 * ```ts
 * const ds = durable(bus);
 * await ds.createStream({ name: 'orders', subjects: ['orders.>'] });
 * const { seq } = await ds.publish('orders.new', JSON.stringify(order), { msgId: order.id });
 * await ds.createConsumer({ stream: 'orders', name: 'billing' });
 * for (const m of await ds.fetch('orders', 'billing', { batch: 10, expiresMs: 1000 })) { handle(m); await m.ack(); }
 * ```
 */
import type { Connection, Payload } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { AckBatcher } from './ack-batch.js';
import { decodeBatch } from './batch-format.js';
import {
  DS,
  MAX_BATCH,
  MAX_EXPIRES_MS,
  MSG_ID_HEADER,
  type ConsumerConfig,
  type ConsumerInfo,
  type DeliverPolicy,
  type DurableFsync,
  type PublishAck,
  type StreamInfo,
  type WireDurableMessage,
} from './config.js';

/** What `createStream` takes (defaults filled in by the service). */
export interface StreamConfigInput {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly fsync?: DurableFsync;
  readonly retention?: 'limits' | 'workqueue';
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  readonly maxAgeMs?: number;
  readonly dedupWindowMs?: number;
}

/** What `createConsumer` takes. */
export interface ConsumerConfigInput {
  readonly stream: string;
  readonly name: string;
  readonly ackWaitMs?: number;
  readonly maxDeliver?: number;
  readonly filterSubject?: string;
  readonly deliverPolicy?: DeliverPolicy;
  readonly maxAckPending?: number;
}

/** Options of {@link durable}. */
export interface DurableClientOptions {
  /** Timeout of every control call and acked publish. @default 5000 */
  readonly timeoutMs?: number;
}

/** A fetched message; settle it with exactly one of ack / nak / term (inProgress any time before). */
export interface DurableMessage {
  readonly seq: number;
  readonly subject: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly data: Uint8Array;
  /** Who published it (stamped by the broker). */
  readonly from: string;
  readonly timestamp: number;
  readonly deliveryCount: number;
  readonly ackSubject: string;
  string(): string;
  json<T = unknown>(): T;
  /**
   * Acknowledge; resolves once the service has saved it. Acks issued in the same tick for
   * one consumer travel as one batched request (one save).
   */
  ack(): Promise<void>;
  /** Ask for redelivery, now or after `delayMs`. */
  nak(options?: { delayMs?: number }): Promise<void>;
  /** Still working on it: restart the ack wait. */
  inProgress(): Promise<void>;
  /** Never deliver it again. */
  term(): Promise<void>;
}

/** The client helper returned by {@link durable}. */
export interface DurableClient {
  createStream(config: StreamConfigInput): Promise<StreamInfo>;
  streamInfo(name: string): Promise<StreamInfo>;
  deleteStream(name: string): Promise<void>;
  listStreams(): Promise<string[]>;
  /** Publish and wait until the message is durably stored (per its stream's fsync). */
  publish(
    subject: string,
    data?: Payload,
    options?: { msgId?: string; headers?: Readonly<Record<string, string>>; timeoutMs?: number },
  ): Promise<{ stream: string; seq: number; duplicate: boolean }>;
  createConsumer(config: ConsumerConfigInput): Promise<ConsumerInfo>;
  consumerInfo(stream: string, name: string): Promise<ConsumerInfo>;
  /**
   * Pull up to `batch` (≤ 256) messages and about `maxBytes` (always at least one),
   * waiting up to `expiresMs` (≤ 60000) for the first.
   */
  fetch(stream: string, consumer: string, options?: { batch?: number; expiresMs?: number; maxBytes?: number }): Promise<DurableMessage[]>;
  /** Read up to `batch` stored messages from `startSeq` on, without a consumer (nothing to settle). */
  read(stream: string, options?: { startSeq?: number; batch?: number }): Promise<StoredMessage[]>;
}

/** A stored message read without a consumer. */
export type StoredMessage = Pick<DurableMessage, 'seq' | 'subject' | 'headers' | 'data' | 'from' | 'timestamp' | 'string' | 'json'>;

const decoder = new TextDecoder();

/** Typed access to the durable service through `bus`. */
export function durable(bus: Connection, options: DurableClientOptions = {}): DurableClient {
  const timeout = options.timeoutMs ?? 5000;
  const call = async <T>(subject: string, body: unknown, ms = timeout): Promise<T> => {
    const reply = await bus.request(subject, JSON.stringify(body), { timeout: ms });
    return reply.json<T>();
  };
  const acks = new AckBatcher(bus, timeout);
  const settle = async (subject: string, payload: string): Promise<void> => {
    await bus.request(subject, payload, { timeout });
  };
  const wrap = (w: Omit<WireDurableMessage, 'data'>, data: Uint8Array): DurableMessage => {
    return {
      seq: w.seq,
      subject: w.subject,
      headers: w.headers,
      data,
      from: w.from,
      timestamp: w.timestamp,
      deliveryCount: w.deliveryCount,
      ackSubject: w.ackSubject,
      string: () => decoder.decode(data),
      json: <T>() => JSON.parse(decoder.decode(data)) as T,
      ack: () => acks.ack(w.ackSubject),
      nak: (o) => settle(w.ackSubject, o?.delayMs !== undefined ? `-NAK ${JSON.stringify({ delayMs: o.delayMs })}` : '-NAK'),
      inProgress: () => settle(w.ackSubject, '+WPI'),
      term: () => settle(w.ackSubject, '+TERM'),
    };
  };
  return {
    createStream: (config) => call<StreamInfo>(DS.STREAM_CREATE, config),
    streamInfo: (name) => call<StreamInfo>(DS.STREAM_INFO, { name }),
    deleteStream: async (name) => {
      await call(DS.STREAM_DELETE, { name });
    },
    listStreams: async () => (await call<{ streams: string[] }>(DS.STREAM_LIST, {})).streams,
    async publish(subject, data, o = {}) {
      const headers = o.msgId !== undefined ? { ...o.headers, [MSG_ID_HEADER]: o.msgId } : o.headers;
      const reply = await bus.request(subject, data, { timeout: o.timeoutMs ?? timeout, ...(headers ? { headers } : {}) });
      const ack = reply.json<PublishAck>();
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true };
    },
    createConsumer: (config) => call<ConsumerInfo>(DS.CONSUMER_CREATE, config as Partial<ConsumerConfig>),
    consumerInfo: (stream, name) => call<ConsumerInfo>(DS.CONSUMER_INFO, { stream, name }),
    async fetch(stream, consumer, o = {}) {
      const batch = o.batch ?? 1;
      const expiresMs = o.expiresMs ?? 0;
      if (!Number.isSafeInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `batch must be 1-${MAX_BATCH}`);
      if (!Number.isSafeInteger(expiresMs) || expiresMs < 0 || expiresMs > MAX_EXPIRES_MS) {
        throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `expiresMs must be 0-${MAX_EXPIRES_MS}`);
      }
      if (o.maxBytes !== undefined && (!Number.isSafeInteger(o.maxBytes) || o.maxBytes < 1)) {
        throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'maxBytes must be a positive integer');
      }
      const body = { batch, expiresMs, binary: true, ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}) };
      const reply = await bus.request(`${DS.CONSUMER_NEXT}.${stream}.${consumer}`, JSON.stringify(body), { timeout: expiresMs + timeout });
      return decodeBatch(reply.data).map((e) => wrap(e.meta, e.data));
    },
    async read(stream, o = {}) {
      const reply = await bus.request(DS.STREAM_READ, JSON.stringify({ name: stream, binary: true, ...o }), { timeout });
      return decodeBatch(reply.data).map(({ meta: w, data }) => {
        return {
          seq: w.seq,
          subject: w.subject,
          headers: w.headers,
          data,
          from: w.from,
          timestamp: w.timestamp,
          string: () => decoder.decode(data),
          json: <T>() => JSON.parse(decoder.decode(data)) as T,
        };
      });
    },
  };
}
