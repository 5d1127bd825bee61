/**
 * Plexus on RabbitMQ vs raw amqplib doing the same thing, in one run:
 *   - publish → subscribe throughput (one publisher connection, one subscriber connection)
 *   - request/reply p50 with 1 in flight (direct reply-to on both sides)
 * Prints each pair and the ratio. Needs RabbitMQ on 127.0.0.1:5672 (guest/guest).
 * Run: npx tsc -p . && node dist/bench/backends/amqp.js [messages]
 *   - queue: send with publisher confirms (100 in flight), then consume + ack (prefetch 64)
 */
import { randomUUID } from 'node:crypto';
import amqplib, { type Channel } from 'amqplib';
import { connectBus, queue } from '../../src/index.js';
import { busPubSubRate, countdown } from '../lib/bus-bench.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const N = Number(process.argv[2] ?? 20000);
const RR = Math.max(200, Math.floor(N / 20));
const PAYLOAD = Buffer.alloc(128, 1);

/** Publish n messages honouring write backpressure (amqplib returns false when its buffer is full). */
async function publishAll(ch: Channel, key: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (!ch.publish('plexus', key, PAYLOAD)) await new Promise((r) => ch.once('drain', r));
  }
}

async function rawPubSub(): Promise<number> {
  const [pc, sc] = [await amqplib.connect(URL), await amqplib.connect(URL)];
  const [pub, sub] = [await pc.createChannel(), await sc.createChannel()];
  await pub.assertExchange('plexus', 'topic', { durable: true });
  const key = `bench.${randomUUID()}`;
  const q = (await sub.assertQueue('', { exclusive: true, autoDelete: true })).queue;
  await sub.bindQueue(q, 'plexus', key);
  const d = countdown(N);
  await sub.consume(q, () => d.hit(), { noAck: true });
  const t0 = performance.now();
  await publishAll(pub, key, N);
  await d.promise;
  const rate = N / ((performance.now() - t0) / 1000);
  await pc.close();
  await sc.close();
  return rate;
}

function plexusPubSub(): Promise<number> {
  return busPubSubRate(URL, N, PAYLOAD, 1000);
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function rawRequestReply(): Promise<number> {
  const [cc, sc] = [await amqplib.connect(URL), await amqplib.connect(URL)];
  const [caller, server] = [await cc.createChannel(), await sc.createChannel()];
  await caller.assertExchange('plexus', 'topic', { durable: true });
  const key = `bench.${randomUUID()}`;
  const q = (await server.assertQueue('', { exclusive: true, autoDelete: true })).queue;
  await server.bindQueue(q, 'plexus', key);
  await server.consume(q, (m) => m && server.publish('', m.properties.replyTo as string, m.content, { correlationId: m.properties.correlationId as string }), { noAck: true });
  let waiting: (() => void) | undefined;
  await caller.consume('amq.rabbitmq.reply-to', () => waiting?.(), { noAck: true });
  const times: number[] = [];
  for (let i = 0; i < RR; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      waiting = r;
      caller.publish('plexus', key, PAYLOAD, { replyTo: 'amq.rabbitmq.reply-to', correlationId: String(i) });
    });
    times.push(performance.now() - t0);
  }
  await cc.close();
  await sc.close();
  return p50(times);
}

async function plexusRequestReply(): Promise<number> {
  const [caller, server] = [await connectBus(URL), await connectBus(URL)];
  const key = `bench.${randomUUID()}`;
  server.serve(key, (m) => m.data);
  await server.flush();
  const times: number[] = [];
  for (let i = 0; i < RR; i++) {
    const t0 = performance.now();
    await caller.request(key, PAYLOAD, { timeout: 10_000 });
    times.push(performance.now() - t0);
  }
  await caller.close();
  await server.close();
  return p50(times);
}

const Q = Math.max(500, Math.floor(N / 10));
const WINDOW = 100;

/** Raw: confirm channel, 100 sends in flight; then consume with acks. Returns [send/s, consume/s]. */
async function rawQueue(): Promise<[number, number]> {
  const conn = await amqplib.connect(URL);
  const ch = await conn.createConfirmChannel();
  const name = `plexus.queue.bench${randomUUID().slice(0, 8)}`;
  await ch.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  let t0 = performance.now();
  for (let i = 0; i < Q; i += WINDOW) {
    await Promise.all(
      Array.from({ length: Math.min(WINDOW, Q - i) }, () => new Promise<void>((res, rej) => ch.sendToQueue(name, PAYLOAD, { persistent: true }, (err: unknown) => (err ? rej(err) : res())))),
    );
  }
  const sendRate = Q / ((performance.now() - t0) / 1000);
  const cch = await conn.createChannel();
  await cch.prefetch(64);
  const d = countdown(Q);
  t0 = performance.now();
  await cch.consume(name, (m) => {
    if (m) {
      cch.ack(m);
      d.hit();
    }
  });
  await d.promise;
  const consumeRate = Q / ((performance.now() - t0) / 1000);
  await cch.deleteQueue(name);
  await conn.close();
  return [sendRate, consumeRate];
}

async function plexusQueue(): Promise<[number, number]> {
  const bus = await connectBus(URL);
  const name = `bench${randomUUID().slice(0, 8)}`;
  const q = queue(bus, name);
  let t0 = performance.now();
  for (let i = 0; i < Q; i += WINDOW) await Promise.all(Array.from({ length: Math.min(WINDOW, Q - i) }, () => q.send(PAYLOAD)));
  const sendRate = Q / ((performance.now() - t0) / 1000);
  const c = q.consume({ prefetch: 64 });
  t0 = performance.now();
  // Acks are not awaited one by one (each resolves after a channel round trip), only at the end.
  const acks: Promise<void>[] = [];
  for (let i = 0; i < Q; i++) acks.push((await c.next()).value!.ack());
  await Promise.all(acks);
  const consumeRate = Q / ((performance.now() - t0) / 1000);
  await c.close();
  await bus.close();
  const raw = await amqplib.connect(URL);
  await (await raw.createChannel()).deleteQueue(`plexus.queue.${name}`);
  await raw.close();
  return [sendRate, consumeRate];
}

const rawRate = await rawPubSub();
const plexusRate = await plexusPubSub();
const rawP50 = await rawRequestReply();
const plexusP50 = await plexusRequestReply();
const [rawSend, rawConsume] = await rawQueue();
const [plexusSend, plexusConsume] = await plexusQueue();
console.log(`amqp bench (${N} messages of ${PAYLOAD.length} B, ${RR} requests)`);
console.log(`pub→sub msgs/s   raw ${rawRate.toFixed(0)}  plexus ${plexusRate.toFixed(0)}  plexus/raw ${(plexusRate / rawRate).toFixed(2)}`);
console.log(`req/rep p50 ms   raw ${rawP50.toFixed(3)}  plexus ${plexusP50.toFixed(3)}  plexus/raw ${(plexusP50 / rawP50).toFixed(2)}`);
console.log(`queue send/s     raw ${rawSend.toFixed(0)}  plexus ${plexusSend.toFixed(0)}  plexus/raw ${(plexusSend / rawSend).toFixed(2)}  (${Q} confirmed sends, ${WINDOW} in flight)`);
console.log(`queue consume/s  raw ${rawConsume.toFixed(0)}  plexus ${plexusConsume.toFixed(0)}  plexus/raw ${(plexusConsume / rawConsume).toFixed(2)}  (ack + prefetch 64)`);
