/**
 * Work queues and mailboxes on RabbitMQ quorum queues: a durable quorum queue per Plexus
 * queue (`plexus.queue.<name>`) or mailbox (`plexus.mailbox.<owner>`), sends on a confirm
 * channel (resolved only after RabbitMQ's publisher confirm), consumers on their own
 * channel with a prefetch window and manual acks. An ack is followed by a channel round
 * trip, so it resolves only once RabbitMQ has processed it.
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import { toBytes } from '../../client/payload.js';
import type { Payload } from '../../client/message.js';
import type { DeadLetters, QueueConsumeOptions, QueueConsumer, QueueMessage, QueueOptions, QueueStat, SendOptions, SendResult } from '../../patterns/queue-core.js';
import { checkAppHeaders, withTimeout } from '../common/checks.js';

/** What a queue needs from its bus. */
export interface QueueHost {
  /** The live connection (it changes across reconnects). */
  model(): ChannelModel;
  readonly identity: string;
}

const textDecoder = new TextDecoder();

/** The not-given parts of queues on this adapter. */
export const QUEUE_LIMITS = {
  dlq: 'dead letters are not built yet on amqp (x-delivery-limit + a dead-letter exchange is the intended design)',
} as const;

/** One quorum queue: send with confirms, consume with acks, stat. */
export class AmqpQueue {
  private sender: Promise<ConfirmChannel> | undefined;
  private declared: Promise<unknown> | undefined;
  private seq = 0;

  constructor(
    private readonly host: QueueHost,
    readonly name: string,
    private readonly queueName: string,
    private readonly options: QueueOptions,
  ) {}

  /** Store a message; resolves after RabbitMQ's publisher confirm. */
  async send(data?: Payload, o: SendOptions = {}): Promise<SendResult> {
    checkAppHeaders(o.headers);
    if (o.msgId !== undefined || o.delayMs !== undefined || o.deliverAt !== undefined) {
      throw new PlexusError(ErrorCode.NOT_SUPPORTED, 'msgId dedup and delayed delivery are not supported by amqp: RabbitMQ has neither without plugins');
    }
    const ch = await this.confirmChannel();
    const seq = Date.now() * 1000 + (++this.seq % 1000);
    const body = toBytes(data);
    const work = new Promise<void>((resolve, reject) => {
      ch.sendToQueue(
        this.queueName,
        Buffer.from(body.buffer, body.byteOffset, body.length),
        {
          persistent: true,
          userId: this.host.identity,
          timestamp: Date.now(),
          headers: { ...o.headers, 'Plexus-Seq': String(seq) },
          ...(o.ttlMs !== undefined ? { expiration: String(o.ttlMs) } : {}),
        },
        (err: unknown) => (err ? reject(new PlexusError(ErrorCode.CONNECTION_LOST, `RabbitMQ did not confirm the send to ${this.name}`, { cause: err })) : resolve()),
      );
    });
    await withTimeout(work, o.timeoutMs ?? this.options.timeoutMs ?? 5000, `send to ${this.name}`);
    return { seq, duplicate: false };
  }

  consume(o: QueueConsumeOptions = {}): QueueConsumer {
    return new AmqpConsumer(this, o);
  }

  dlq(): DeadLetters {
    const refuse = (): Promise<never> => Promise.reject(new PlexusError(ErrorCode.NOT_SUPPORTED, QUEUE_LIMITS.dlq));
    return { read: refuse, count: refuse };
  }

  async stat(): Promise<QueueStat> {
    const ch = await this.host.model().createChannel();
    try {
      await this.declare(ch);
      const q = await ch.checkQueue(this.queueName);
      // AMQP reports ready messages only: unacked and bytes are not available.
      return { name: this.name, stored: q.messageCount, bytes: 0, ready: q.messageCount, unacked: 0, scheduled: 0, deadLetters: 0 };
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** Declare the quorum queue (idempotent; the first declaration's arguments win). */
  declare(ch: Channel): Promise<unknown> {
    return ch.assertQueue(this.queueName, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': Math.max(0, (this.options.maxDeliver ?? 5) - 1) },
    });
  }

  private async confirmChannel(): Promise<ConfirmChannel> {
    this.sender ??= this.host
      .model()
      .createConfirmChannel()
      .then(async (ch) => {
        ch.on('error', () => undefined);
        ch.on('close', () => (this.sender = undefined));
        await (this.declared ??= this.declare(ch));
        return ch;
      });
    try {
      return await this.sender;
    } catch (err) {
      this.sender = undefined;
      this.declared = undefined;
      throw new PlexusError(ErrorCode.CONNECTION_LOST, `could not open ${this.name} on RabbitMQ: ${(err as Error).message}`, { cause: err });
    }
  }

  /** @internal */
  openConsumerChannel(prefetch: number): Promise<Channel> {
    return this.host
      .model()
      .createChannel()
      .then(async (ch) => {
        ch.on('error', () => undefined);
        await this.declare(ch);
        await ch.prefetch(prefetch);
        return ch;
      });
  }

  /** @internal */
  get amqpName(): string {
    return this.queueName;
  }
}

/** A consumer on its own channel: a prefetch window, messages settled with acks. */
class AmqpConsumer implements QueueConsumer {
  private readonly buffered: QueueMessage[] = [];
  private readonly waiters: ((r: IteratorResult<QueueMessage>) => void)[] = [];
  private ended = false;
  private readonly ready: Promise<{ ch: Channel; tag: string } | undefined>;

  constructor(
    queue: AmqpQueue,
    private readonly o: QueueConsumeOptions,
  ) {
    const prefetch = o.prefetch ?? 64;
    this.ready = queue
      .openConsumerChannel(prefetch)
      .then(async (ch) => {
        const { consumerTag } = await ch.consume(queue.amqpName, (m) => (m ? this.deliver(ch, m) : this.finish()), { noAck: o.ack === 'auto' });
        ch.on('close', () => this.finish());
        return { ch, tag: consumerTag };
      })
      .catch(() => {
        this.finish();
        return undefined;
      });
    o.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<QueueMessage> {
    return this;
  }

  next(): Promise<IteratorResult<QueueMessage>> {
    const m = this.buffered.shift();
    if (m) return Promise.resolve({ done: false, value: m });
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((r) => this.waiters.push(r));
  }

  async return(): Promise<IteratorResult<QueueMessage>> {
    await this.close();
    return { done: true, value: undefined };
  }

  async close(): Promise<void> {
    const r = await this.ready;
    this.finish();
    // Closing the channel gives every unsettled message back to the queue.
    await r?.ch.close().catch(() => undefined);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    for (const w of this.waiters.splice(0)) w({ done: true, value: undefined });
  }

  private barrier: AckBarrier | undefined;

  private deliver(ch: Channel, m: ConsumeMessage): void {
    this.barrier ??= new AckBarrier(() => ch.checkQueue(m.fields.routingKey));
    const msg = toQueueMessage(ch, m, this.o.ack === 'auto', this.barrier);
    const w = this.waiters.shift();
    if (w) w({ done: false, value: msg });
    else this.buffered.push(msg);
  }
}

/**
 * Proof that RabbitMQ processed a channel's acks: one channel round trip (methods on a
 * channel are handled in order). Acks issued while a round trip is in flight share the
 * next one, like a group commit, so a busy consumer pays one round trip per batch.
 */
class AckBarrier {
  private inflight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly roundTrip: () => Promise<unknown>) {}

  wait(): Promise<void> {
    if (this.inflight === undefined) {
      this.inflight = this.roundTrip().then(
        () => void (this.inflight = undefined),
        (err: unknown) => {
          this.inflight = undefined;
          throw new PlexusError(ErrorCode.CONNECTION_LOST, 'RabbitMQ did not confirm the ack (the channel closed)', { cause: err });
        },
      );
      return this.inflight;
    }
    this.queued ??= this.inflight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.wait();
      });
    return this.queued;
  }
}

function toQueueMessage(ch: Channel, m: ConsumeMessage, auto: boolean, barrier: AckBarrier): QueueMessage {
  const raw = (m.properties.headers ?? {}) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (!k.toLowerCase().startsWith('plexus-') && !k.startsWith('x-')) headers[k] = String(v);
  const redeliveries = Number(raw['x-delivery-count'] ?? 0);
  let settled = auto;
  /** Settle once, then wait for a channel round trip: AMQP acks have no reply of their own. */
  const settle = async (act: () => void): Promise<void> => {
    if (settled) return;
    settled = true;
    act();
    await barrier.wait();
  };
  return {
    seq: Number(raw['Plexus-Seq'] ?? 0),
    subject: m.fields.routingKey,
    headers,
    data: m.content,
    from: typeof m.properties.userId === 'string' ? m.properties.userId : '',
    timestamp: typeof m.properties.timestamp === 'number' ? m.properties.timestamp : 0,
    deliveryCount: (Number.isFinite(redeliveries) ? redeliveries : 0) + 1,
    string: () => textDecoder.decode(m.content),
    json: <T>() => JSON.parse(textDecoder.decode(m.content)) as T,
    ack: () => settle(() => ch.ack(m)),
    nack: () => settle(() => ch.nack(m, false, true)),
    inProgress: () => Promise.reject(new PlexusError(ErrorCode.NOT_SUPPORTED, 'inProgress is not supported by amqp: RabbitMQ has no per-message ack wait to extend')),
    term: () => settle(() => ch.nack(m, false, false)),
  };
}
