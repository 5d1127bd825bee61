/**
 * Plexus on Redis vs raw ioredis doing the same thing, in one run:
 *   - publish → subscribe throughput (one publisher connection, one subscriber connection)
 *   - request/reply p50 with 1 in flight (raw: PUBLISH a request carrying a reply channel,
 *     the responder PUBLISHes the answer there; Plexus: bus.request / bus.serve)
 * Prints each pair and the ratio. Needs Redis on 127.0.0.1:6379.
 * Run: npx tsc -p . && node dist/bench/backends/redis.js [messages]
 * Queue send/consume is not measured: the redis:// adapter has no queues yet.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { connectBus } from '../../src/index.js';
import { busPubSubRate, countdown } from '../lib/bus-bench.js';

const URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const N = Number(process.argv[2] ?? 20000);
const RR = Math.max(200, Math.floor(N / 20));
const BATCH = 1000;
const PAYLOAD = Buffer.alloc(128, 1);

/** Resolves after `n` hits. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function rawPubSub(): Promise<number> {
  const [pub, sub] = [new Redis(URL), new Redis(URL)];
  const channel = `bench.${randomUUID()}`;
  const c = countdown(N);
  sub.on('messageBuffer', () => c.hit());
  await sub.subscribe(channel);
  const t0 = performance.now();
  // Await every BATCH so both sides keep bounded buffers (as Plexus's flush does).
  for (let i = 0; i < N; i++) {
    void pub.publish(channel, PAYLOAD);
    if (i % BATCH === BATCH - 1) await pub.ping();
  }
  await c.promise;
  const rate = N / ((performance.now() - t0) / 1000);
  pub.disconnect();
  sub.disconnect();
  return rate;
}

function plexusPubSub(): Promise<number> {
  return busPubSubRate(URL, N, PAYLOAD, BATCH);
}

async function rawRequestReply(): Promise<number> {
  const [caller, callerSub, responder, responderSub] = [new Redis(URL), new Redis(URL), new Redis(URL), new Redis(URL)];
  const subject = `bench.rr.${randomUUID()}`;
  const inbox = `bench.inbox.${randomUUID()}`;
  // Request = reply channel + '\n' + payload, the least a raw client must carry.
  responderSub.on('messageBuffer', (_ch: Buffer, data: Buffer) => {
    const nl = data.indexOf(10);
    void responder.publish(data.subarray(0, nl).toString(), data.subarray(nl + 1));
  });
  await responderSub.subscribe(subject);
  let waiting: (() => void) | undefined;
  callerSub.on('messageBuffer', () => waiting?.());
  await callerSub.subscribe(inbox);
  const head = Buffer.from(`${inbox}\n`);
  const times: number[] = [];
  for (let i = 0; i < RR; i++) {
    const t0 = performance.now();
    const answered = new Promise<void>((r) => (waiting = r));
    await caller.publish(subject, Buffer.concat([head, PAYLOAD]));
    await answered;
    times.push(performance.now() - t0);
  }
  for (const r of [caller, callerSub, responder, responderSub]) r.disconnect();
  return median(times);
}

async function plexusRequestReply(): Promise<number> {
  const [caller, server] = [await connectBus(URL), await connectBus(URL)];
  const subject = `bench.rr.${randomUUID()}`;
  server.serve(subject, (m) => m.data);
  await server.flush();
  const times: number[] = [];
  for (let i = 0; i < RR; i++) {
    const t0 = performance.now();
    await caller.request(subject, PAYLOAD, { timeout: 5000 });
    times.push(performance.now() - t0);
  }
  await caller.close();
  await server.close();
  return median(times);
}

const rawRate = await rawPubSub();
const plexusRate = await plexusPubSub();
console.log(`pub/sub ${N} x ${PAYLOAD.length} B: raw ioredis ${rawRate.toFixed(0)} msg/s, plexus ${plexusRate.toFixed(0)} msg/s, ratio ${(plexusRate / rawRate).toFixed(2)}`);
const rawP50 = await rawRequestReply();
const plexusP50 = await plexusRequestReply();
console.log(`request/reply p50 (${RR} calls, 1 in flight): raw ${rawP50.toFixed(3)} ms, plexus ${plexusP50.toFixed(3)} ms, ratio ${(plexusP50 / rawP50).toFixed(2)}`);
