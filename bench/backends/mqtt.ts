/**
 * Plexus on MQTT (Mosquitto) vs the raw mqtt client doing the same thing, in one run:
 *   - publish → subscribe throughput (QoS 1 publishes, QoS 0 subscription, as the adapter does)
 *   - request/reply p50 with 1 in flight (MQTT 5 response topic on both sides)
 * Prints each pair and the ratio. Needs an MQTT 5 broker on 127.0.0.1:1883.
 * Run: npx tsc -p . && node dist/bench/backends/mqtt.js [messages]
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { connectBus } from '../../src/index.js';
import { busPubSubRate, countdown } from '../lib/bus-bench.js';

const URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const N = Number(process.argv[2] ?? 20000);
const RR = Math.max(200, Math.floor(N / 20));
const PAYLOAD = Buffer.alloc(128, 1);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const rawClient = (): Promise<MqttClient> => mqtt.connectAsync(URL, { protocolVersion: 5 });

async function rawPubSub(): Promise<number> {
  const [pub, sub] = [await rawClient(), await rawClient()];
  const topic = `bench/${randomUUID()}`;
  const d = countdown(N);
  sub.on('message', () => d.hit());
  await sub.subscribeAsync(topic, { qos: 0 });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) pub.publish(topic, PAYLOAD, { qos: 1 });
  await d.promise;
  const rate = N / ((performance.now() - t0) / 1000);
  await Promise.all([pub.endAsync(), sub.endAsync()]);
  return rate;
}

function plexusPubSub(): Promise<number> {
  return busPubSubRate(URL, N, PAYLOAD);
}

async function rawRequestP50(): Promise<number> {
  const [caller, server] = [await rawClient(), await rawClient()];
  const topic = `bench/rr/${randomUUID()}`;
  const inbox = `bench/inbox/${randomUUID()}`;
  server.on('message', (_t, payload, packet) => {
    const p = packet.properties;
    if (p?.responseTopic) server.publish(p.responseTopic, payload, { qos: 1, properties: { correlationData: p.correlationData! } });
  });
  await server.subscribeAsync(topic, { qos: 0 });
  let waiting: (() => void) | undefined;
  caller.on('message', () => waiting?.());
  await caller.subscribeAsync(inbox, { qos: 0 });
  const times: number[] = [];
  for (let i = 0; i < RR; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      waiting = resolve;
      caller.publish(topic, PAYLOAD, { qos: 1, properties: { responseTopic: inbox, correlationData: Buffer.from(String(i)) } });
    });
    times.push(performance.now() - t0);
  }
  await Promise.all([caller.endAsync(), server.endAsync()]);
  return median(times);
}

async function plexusRequestP50(): Promise<number> {
  const [caller, server] = [await connectBus(URL), await connectBus(URL)];
  const subject = `bench.rr.${randomUUID()}`;
  server.serve(subject, (m) => m.data);
  await server.flush();
  const times: number[] = [];
  for (let i = 0; i < RR; i++) {
    const t0 = performance.now();
    await caller.request(subject, PAYLOAD, { timeout: 10_000 });
    times.push(performance.now() - t0);
  }
  await Promise.all([caller.close(), server.close()]);
  return median(times);
}

const fmt = (n: number): string => n.toFixed(n < 10 ? 3 : 0);
const rawRate = await rawPubSub();
const plexusRate = await plexusPubSub();
console.log(`pub→sub msgs/s   raw ${fmt(rawRate)}  plexus ${fmt(plexusRate)}  plexus/raw ${(plexusRate / rawRate).toFixed(2)}`);
const rawP50 = await rawRequestP50();
const plexusP50 = await plexusRequestP50();
console.log(`req/reply p50 ms raw ${fmt(rawP50)}  plexus ${fmt(plexusP50)}  plexus/raw ${(plexusP50 / rawP50).toFixed(2)}`);
