/**
 * One durable queue, five ways: Plexus (fsync always / interval) through the embedded
 * durable service in a broker process, RabbitMQ (amqplib, durable queue, persistent
 * messages, publisher confirms), NATS JetStream (file storage) and Redis Streams
 * (consumer group). Each target publishes `count` acknowledged messages with `window`
 * in flight, then consumes them all with an ack per message.
 */
import type { DurableClient } from '../../src/durable/index.js';

/** A durable queue implementation under test. */
export interface QueueTarget {
  readonly name: string;
  /** Publish `count` copies of `payload`, each acknowledged as stored, `window` in flight. */
  publish(payload: Uint8Array, count: number, window: number): Promise<void>;
  /** Receive and ack `count` messages (what publish stored). */
  consume(count: number, batch: number): Promise<void>;
  /** Remove the queue and close connections. */
  close(): Promise<void>;
}

/** Run `count` async operations with at most `window` in flight. */
export async function windowed(count: number, window: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
}

/** Plexus: stream + shared work-queue consumer on the embedded durable service. */
export async function plexusTarget(name: string, ds: DurableClient, fsync: 'always' | { intervalMs: number }, id: string): Promise<QueueTarget> {
  const stream = `bench_${id}`;
  await ds.createStream({ name: stream, subjects: [`bench.${id}`], fsync, retention: 'workqueue', dedupWindowMs: 0 });
  await ds.createConsumer({ stream, name: 'workers', ackWaitMs: 60_000, maxAckPending: 100_000 });
  return {
    name,
    publish: (payload, count, window) => windowed(count, window, () => ds.publish(`bench.${id}`, payload, { timeoutMs: 30_000 })),
    async consume(count, batch) {
      let got = 0;
      while (got < count) {
        const msgs = await ds.fetch(stream, 'workers', { batch, expiresMs: 5000 });
        if (msgs.length === 0) throw new Error(`plexus: fetch came back empty after ${got}/${count}`);
        got += msgs.length;
        await Promise.all(msgs.map((m) => m.ack()));
      }
    },
    async close() {
      await ds.deleteStream(stream);
    },
  };
}

/** RabbitMQ: classic durable queue, persistent messages, a confirm channel; manual acks. */
export async function rabbitTarget(id: string): Promise<QueueTarget> {
  const amqp = await import('amqplib');
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  const pub = await conn.createConfirmChannel();
  const queue = `plexus-bench-${id}`;
  await pub.assertQueue(queue, { durable: true });
  await pub.purgeQueue(queue);
  return {
    name: 'RabbitMQ (durable, persistent, confirms)',
    publish: (payload, count, window) =>
      windowed(
        count,
        window,
        () =>
          new Promise<void>((resolve, reject) => {
            pub.sendToQueue(queue, Buffer.from(payload), { persistent: true }, (err) => (err ? reject(err as Error) : resolve()));
          }),
      ),
    async consume(count, batch) {
      const ch = await conn.createChannel();
      await ch.prefetch(batch);
      let got = 0;
      await new Promise<void>((resolve, reject) => {
        ch.on('error', reject);
        void ch.consume(queue, (msg) => {
          if (!msg) return reject(new Error('rabbitmq: consumer cancelled'));
          ch.ack(msg);
          if (++got === count) resolve();
        });
      });
      await ch.close();
    },
    async close() {
      await pub.deleteQueue(queue);
      await conn.close();
    },
  };
}

/** NATS JetStream: file-storage stream, durable pull consumer with explicit acks. */
export async function jetstreamTarget(id: string): Promise<QueueTarget> {
  const nats = await import('nats');
  const nc = await nats.connect({ servers: '127.0.0.1:4222' });
  const jsm = await nc.jetstreamManager();
  const stream = `plexus_bench_${id}`;
  const subject = `plexusbench.${id}`;
  await jsm.streams.add({ name: stream, subjects: [subject], storage: nats.StorageType.File, retention: nats.RetentionPolicy.Workqueue });
  await jsm.consumers.add(stream, { durable_name: 'workers', ack_policy: nats.AckPolicy.Explicit, max_ack_pending: 100_000 });
  const js = nc.jetstream();
  return {
    name: 'NATS JetStream (file storage)',
    publish: (payload, count, window) => windowed(count, window, () => js.publish(subject, payload)),
    async consume(count, batch) {
      // Pull batches (fetch) like the Plexus target; acks are fire-and-forget in nats.js.
      const consumer = await js.consumers.get(stream, 'workers');
      let got = 0;
      while (got < count) {
        const before = got;
        const messages = await consumer.fetch({ max_messages: Math.min(batch, count - got), expires: 5000 });
        for await (const m of messages) {
          m.ack();
          got++;
        }
        if (got === before) throw new Error(`jetstream: fetch came back empty after ${got}/${count}`);
      }
    },
    async close() {
      await jsm.streams.delete(stream);
      await nc.drain();
    },
  };
}

/** Redis Streams: XADD, then XREADGROUP + XACK in a consumer group (no fsync: Redis here keeps nothing on disk). */
export async function redisStreamsTarget(id: string): Promise<QueueTarget> {
  const { Redis } = await import('ioredis');
  const r = new Redis({ host: '127.0.0.1', port: 6379, enableAutoPipelining: true, maxRetriesPerRequest: 0, lazyConnect: true });
  await r.connect();
  const key = `plexus-bench-${id}`;
  await r.del(key);
  return {
    name: 'Redis Streams (XADD / XREADGROUP+XACK)',
    publish: (payload, count, window) => windowed(count, window, () => r.xadd(key, '*', 'd', Buffer.from(payload))),
    async consume(count, batch) {
      await r.xgroup('CREATE', key, 'workers', '0');
      let got = 0;
      while (got < count) {
        const res = (await r.xreadgroup('GROUP', 'workers', 'c1', 'COUNT', batch, 'BLOCK', 5000, 'STREAMS', key, '>')) as [string, [string, string[]][]][] | null;
        const entries = res?.[0]?.[1] ?? [];
        if (entries.length === 0) throw new Error(`redis: XREADGROUP came back empty after ${got}/${count}`);
        got += entries.length;
        await r.xack(key, 'workers', ...entries.map((e) => e[0]));
      }
    },
    async close() {
      await r.del(key);
      r.disconnect();
    },
  };
}
