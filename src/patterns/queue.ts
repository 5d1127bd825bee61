/**
 * Durable work queues (S4): `queue(bus, 'hello')` → `send`, `consume`, `dlq`, `stat`.
 * A queue is the stream `queue-<name>` (work-queue retention) capturing `queue.<name>`,
 * with one shared consumer `workers`: every consumer competes for its messages. See
 * docs/queues.md.
 *
 * ```ts
 * const q = queue(bus, 'hello');
 * await q.send('Hello World!');                     // resolves once stored durably
 * for await (const m of q.consume({ ack: 'manual', prefetch: 1 })) {
 *   console.log(m.string());
 *   await m.ack();
 * }
 * ```
 */
import type { Bus, Payload } from '../client/index.js';
import { durable, type DurableClientOptions } from '../durable/index.js';
import {
  DurableQueue,
  checkName,
  type DeadLetters,
  type QueueConsumeOptions,
  type QueueConsumer,
  type QueueOptions,
  type QueueStat,
  type SendOptions,
  type SendResult,
} from './queue-core.js';
import { patternTarget } from './provider.js';

/** Stream name prefix of queues. */
export const QUEUE_STREAM_PREFIX = 'queue-';
/** Subject prefix of queues: a plain publish to `queue.<name>` is stored too (no ack). */
export const QUEUE_SUBJECT_PREFIX = 'queue.';
/** The shared consumer every queue consumer competes on. */
export const QUEUE_CONSUMER = 'workers';

/** A durable work queue. */
export interface Queue {
  readonly name: string;
  /** Store a message; resolves once it is durable per the queue's fsync (the publisher ack). */
  send(data?: Payload, options?: SendOptions): Promise<SendResult>;
  /** Receive messages, competing with every other consumer of this queue. */
  consume(options?: QueueConsumeOptions): QueueConsumer;
  /** Messages that used up `maxDeliver`, with the reason. */
  dlq(): DeadLetters;
  stat(): Promise<QueueStat>;
}

/**
 * The queue `name` (1-58 of `[A-Za-z0-9_-]`), created on first use with `options`; an
 * existing queue keeps the configuration it was created with.
 */
export function queue(bus: Bus, name: string, options: QueueOptions = {}): Queue {
  checkName('queue', name);
  const target = patternTarget(bus, 'queue');
  if (target.kind === 'backend') return target.impl(name, options);
  const q = new DurableQueue(target.conn, { name, stream: `${QUEUE_STREAM_PREFIX}${name}`, subject: `${QUEUE_SUBJECT_PREFIX}${name}`, consumer: QUEUE_CONSUMER, senderCreatesConsumer: true }, options);
  return {
    name,
    send: (data, o) => q.send(data, o),
    consume: (o) => q.consume(o),
    dlq: () => q.dlq(),
    stat: () => q.stat(),
  };
}

/** Names of the queues the service holds. */
export async function listQueues(bus: Bus, options: DurableClientOptions = {}): Promise<string[]> {
  const target = patternTarget(bus, 'listQueues');
  if (target.kind === 'backend') return target.impl();
  const streams = await durable(target.conn, options).listStreams();
  return streams.filter((s) => s.startsWith(QUEUE_STREAM_PREFIX)).map((s) => s.slice(QUEUE_STREAM_PREFIX.length));
}
