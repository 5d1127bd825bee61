/**
 * Plexus on NATS vs the raw `nats` client doing the same thing, in one run:
 *   - publish → subscribe throughput (one publisher connection, one subscriber connection)
 *   - request/reply p50 with 1 in flight
 *   - JetStream KV put, 1 in flight (each put awaits the server's acknowledgement), p50
 * Prints each pair and the ratio. Needs nats-server with JetStream on 127.0.0.1:4222.
 * Run: npx tsc -p . && node dist/bench/backends/nats.js [messages]
 * Queue send/consume is not measured: the nats:// adapter has no queues yet.
 */
import { randomUUID } from 'node:crypto';
import { connect as natsConnect, type NatsConnection } from 'nats';
import { connectBus, kv } from '../../src/index.js';
import { busPubSubRate, countdown } from '../lib/bus-bench.js';
import { percentile } from '../lib/stats.js';

const URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const N = Number(process.argv[2] ?? 50000);
const RR = Math.max(200, Math.floor(N / 50));
const PAYLOAD = new Uint8Array(128).fill(1);

async function timed(n: number, f: (i: number) => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f(i);
    samples.push(performance.now() - t0);
  }
  return percentile(samples.sort((a, b) => a - b), 50);
}

const raw = (): Promise<NatsConnection> => natsConnect({ servers: URL });

async function rawPubSub(): Promise<number> {
  const [pub, sub] = [await raw(), await raw()];
  const subject = `bench.${randomUUID()}`;
  const d = countdown(N);
  sub.subscribe(subject, { callback: () => d.hit() });
  await sub.flush();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    pub.publish(subject, PAYLOAD);
    if (i % 1000 === 999) await pub.flush();
  }
  await d.promise;
  const rate = N / ((performance.now() - t0) / 1000);
  await pub.close();
  await sub.close();
  return rate;
}

function plexusPubSub(): Promise<number> {
  return busPubSubRate(URL, N, PAYLOAD, 1000);
}

async function rawRequest(): Promise<number> {
  const [caller, server] = [await raw(), await raw()];
  const subject = `svc.${randomUUID()}`;
  server.subscribe(subject, { callback: (_err, m) => m.respond(m.data) });
  await server.flush();
  const r = await timed(RR, () => caller.request(subject, PAYLOAD, { timeout: 5000 }));
  await caller.close();
  await server.close();
  return r;
}

async function plexusRequest(): Promise<number> {
  const [caller, server] = [await connectBus(URL), await connectBus(URL)];
  const subject = `svc.${randomUUID()}`;
  server.serve(subject, (m) => m.data);
  await server.flush();
  const r = await timed(RR, () => caller.request(subject, PAYLOAD, { timeout: 5000 }));
  await caller.close();
  await server.close();
  return r;
}

async function rawKvPut(): Promise<number> {
  const nc = await raw();
  const name = `bench-raw-${randomUUID().slice(0, 8)}`;
  const b = await nc.jetstream().views.kv(name);
  const r = await timed(RR, (i) => b.put(`k${i % 100}`, PAYLOAD));
  await b.destroy();
  await nc.close();
  return r;
}

async function plexusKvPut(): Promise<number> {
  const bus = await connectBus(URL);
  const b = kv(bus, `bench-plx-${randomUUID().slice(0, 8)}`);
  const r = await timed(RR, (i) => b.put(`k${i % 100}`, PAYLOAD));
  await b.destroy();
  await bus.close();
  return r;
}

const ps = [await rawPubSub(), await plexusPubSub()];
console.log(`pub→sub msgs/s   raw ${ps[0]!.toFixed(0)}  plexus ${ps[1]!.toFixed(0)}  plexus/raw ${(ps[1]! / ps[0]!).toFixed(2)}`);
const rr = [await rawRequest(), await plexusRequest()];
console.log(`request p50 ms   raw ${rr[0]!.toFixed(3)}  plexus ${rr[1]!.toFixed(3)}  plexus/raw ${(rr[1]! / rr[0]!).toFixed(2)}`);
const kp = [await rawKvPut(), await plexusKvPut()];
console.log(`kv put p50 ms    raw ${kp[0]!.toFixed(3)}  plexus ${kp[1]!.toFixed(3)}  plexus/raw ${(kp[1]! / kp[0]!).toFixed(2)}`);
