/**
 * Durable queue throughput, side by side in one run: Plexus (embedded durable service,
 * fsync always with group commit, and fsync every 100 ms) vs RabbitMQ, NATS JetStream
 * and Redis Streams on this machine's local servers.
 *
 *   node dist/bench/durable.js                        # 256 B and 4 KiB, 20000 msgs, 3 repeats
 *   node dist/bench/durable.js --count=5000 --repeat=1 --sizes=256
 *   node dist/bench/durable.js --window=256 --batch=256 --dir=/path/on/another/disk
 *   node dist/bench/durable.js --only=plexus-always,rabbitmq
 *   node dist/bench/durable.js --only=plexus-always --profile=/tmp/prof   # V8 profile of the broker process
 *
 * Publish: `count` messages, each acknowledged once stored (Plexus: the publish
 * request's reply after the fsync that covers it; RabbitMQ: publisher confirm;
 * JetStream: PubAck; Redis: XADD's reply), `window` in flight. Consume: every stored
 * message received and acked (Plexus: fetch of `batch` + an ack request per message,
 * all awaited; RabbitMQ: prefetch `batch`, ack per message; JetStream: fetch of
 * `batch`, ack per message (not awaited: nats.js acks are fire-and-forget);
 * Redis: XREADGROUP COUNT `batch` + one XACK per batch). Medians of the repeats.
 * Then KV: `count` puts and `count` gets of 256 B values over 1000 keys, `window` in
 * flight — Plexus KV (fsync always / 100 ms) vs Redis SET/GET (ioredis).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/index.js';
import { durable } from '../src/durable/index.js';
import { setProfileDir, startPeer, stopAll, killAllNow } from './lib/proc.js';
import { median, ratio, si, table, bytesLabel } from './lib/stats.js';
import { jetstreamTarget, plexusTarget, rabbitTarget, redisStreamsTarget, type QueueTarget } from './durable/targets.js';
import { measureKv, plexusKv, redisKv, type KvTarget } from './durable/kv.js';

interface Args {
  count: number;
  repeat: number;
  sizes: number[];
  window: number;
  batch: number;
  dir: string;
  only: Kind[] | undefined;
  profile: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { count: 20_000, repeat: 3, sizes: [256, 4096], window: 256, batch: 256, dir: os.tmpdir(), only: undefined, profile: undefined };
  for (const arg of argv) {
    const [k, v = ''] = arg.split('=', 2);
    const n = Number(v);
    if (k === '--count') a.count = n;
    else if (k === '--repeat') a.repeat = n;
    else if (k === '--sizes') a.sizes = v.split(',').map(Number);
    else if (k === '--window') a.window = n;
    else if (k === '--batch') a.batch = n;
    else if (k === '--dir') a.dir = v;
    else if (k === '--profile') a.profile = v;
    else if (k === '--only') a.only = v.split(',').map((x) => {
        if (!(KINDS as readonly string[]).includes(x) && x !== 'kv') throw new Error(`--only takes ${KINDS.join(',')},kv`);
        return x as Kind;
      });
    else throw new Error(`unknown argument ${arg}`);
  }
  if (![a.count, a.repeat, a.window, a.batch, ...a.sizes].every((x) => Number.isSafeInteger(x) && x > 0)) throw new Error('numbers must be positive integers');
  if (a.batch > 256) throw new Error('--batch is at most 256 (the durable service fetch limit)');
  return a;
}

type Kind = 'plexus-always' | 'plexus-interval' | 'rabbitmq' | 'jetstream' | 'redis' | 'kv';
const KINDS: readonly Exclude<Kind, 'kv'>[] = ['plexus-always', 'plexus-interval', 'rabbitmq', 'jetstream', 'redis'];
const LABEL: Record<Exclude<Kind, 'kv'>, string> = {
  'plexus-always': 'Plexus, fsync always (group commit)',
  'plexus-interval': 'Plexus, fsync every 100 ms',
  rabbitmq: 'RabbitMQ (durable queue, persistent, confirms)',
  jetstream: 'NATS JetStream (file storage, default sync)',
  redis: 'Redis Streams (no disk here)',
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = await mkdtemp(join(args.dir, 'plexus-durable-bench-'));
  setProfileDir(args.profile);
  const sock = `unix://${join(root, 'broker.sock')}`;
  const { ready } = await startPeer('broker', 'broker-process.js', { listen: [sock], durable: join(root, 'data') });
  const url = (ready as unknown as { urls: string[] }).urls[0]!;
  const bus = await connect(url, { timeoutMs: 10_000 });
  const ds = durable(bus, { timeoutMs: 30_000 });
  const unavailable = new Map<Exclude<Kind, 'kv'>, string>();
  let seq = 0;
  const make = async (kind: Exclude<Kind, 'kv'>): Promise<QueueTarget> => {
    const id = `${process.pid}_${seq++}`;
    switch (kind) {
      case 'plexus-always':
        return plexusTarget(LABEL[kind], ds, 'always', id);
      case 'plexus-interval':
        return plexusTarget(LABEL[kind], ds, { intervalMs: 100 }, id);
      case 'rabbitmq':
        return rabbitTarget(id);
      case 'jetstream':
        return jetstreamTarget(id);
      case 'redis':
        return redisStreamsTarget(id);
    }
  };
  const results = new Map<string, { pub: number[]; con: number[] }>();
  const kvResults = new Map<string, { put: number[]; get: number[] }>();
  try {
    console.log(`durable queue bench: ${args.count} msgs per cell, window ${args.window}, batch ${args.batch}, ${args.repeat} repeat(s); data under ${root}`);
    for (let r = 0; r < args.repeat; r++) {
      for (const size of args.sizes) {
        const payload = new Uint8Array(size).fill(0x61);
        // Rotate the order each repeat so no target always runs on a warmer (or busier) machine.
        const order = KINDS.map((_, i) => KINDS[(i + r) % KINDS.length]!);
        for (const kind of order) {
          if (unavailable.has(kind) || (args.only && !args.only.includes(kind))) continue;
          let target: QueueTarget;
          try {
            target = await make(kind);
          } catch (err) {
            unavailable.set(kind, (err as Error).message);
            console.log(`  ${LABEL[kind]}: unavailable (${(err as Error).message})`);
            continue;
          }
          try {
            let t0 = performance.now();
            await target.publish(payload, args.count, args.window);
            const pub = args.count / ((performance.now() - t0) / 1000);
            t0 = performance.now();
            await target.consume(args.count, args.batch);
            const con = args.count / ((performance.now() - t0) / 1000);
            const key = `${kind}|${size}`;
            const cell = results.get(key) ?? { pub: [], con: [] };
            cell.pub.push(pub);
            cell.con.push(con);
            results.set(key, cell);
            console.log(`  [${r + 1}/${args.repeat}] ${bytesLabel(size)} ${LABEL[kind]}: publish ${si(pub)}/s, consume+ack ${si(con)}/s`);
          } finally {
            await target.close().catch(() => undefined);
          }
        }
      }
    }
    if (!args.only || args.only.includes('kv' as Kind)) await runKv(args, bus, kvResults);
  } finally {
    await bus.close();
    await stopAll();
    await rm(root, { recursive: true, force: true });
  }
  report(args, results, unavailable);
  reportKv(kvResults);
}

async function runKv(args: Args, bus: Awaited<ReturnType<typeof connect>>, out: Map<string, { put: number[]; get: number[] }>): Promise<void> {
  const value = new Uint8Array(256).fill(0x62);
  const makers: (() => Promise<KvTarget>)[] = [
    () => plexusKv(bus, 'always', `${process.pid}_a`),
    () => plexusKv(bus, { intervalMs: 100 }, `${process.pid}_i`),
    () => redisKv(String(process.pid)),
  ];
  for (let r = 0; r < args.repeat; r++) {
    for (const make of makers) {
      let target: KvTarget;
      try {
        target = await make();
      } catch (err) {
        console.log(`  kv target unavailable: ${(err as Error).message}`);
        continue;
      }
      try {
        const m = await measureKv(target, value, args.count, 64);
        const cell = out.get(target.name) ?? { put: [], get: [] };
        cell.put.push(m.put);
        cell.get.push(m.get);
        out.set(target.name, cell);
        console.log(`  [${r + 1}/${args.repeat}] ${target.name}: put ${si(m.put)}/s, get ${si(m.get)}/s`);
      } finally {
        await target.close().catch(() => undefined);
      }
    }
  }
}

function reportKv(out: Map<string, { put: number[]; get: number[] }>): void {
  if (out.size === 0) return;
  const rows = [...out].map(([name, c]) => [name, `${si(median(c.put))}/s`, `${si(median(c.get))}/s`]);
  console.log(`\n${table(['KV, 256 B values, 64 in flight', 'put', 'get'], rows, [false, true, true])}`);
  const redis = [...out].find(([n]) => n.startsWith('Redis'))?.[1];
  const always = [...out].find(([n]) => n.includes('always'))?.[1];
  if (redis && always) {
    console.log(`KV put, fsync always vs Redis SET (target ≥ 0.5×): ${ratio(median(always.put), median(redis.put))}; get vs Redis GET: ${ratio(median(always.get), median(redis.get))}`);
  }
}

function report(args: Args, results: Map<string, { pub: number[]; con: number[] }>, unavailable: Map<Kind, string>): void {
  const med = (kind: Kind, size: number, which: 'pub' | 'con'): number | undefined => median(results.get(`${kind}|${size}`)?.[which] ?? []);
  const rows: string[][] = [];
  for (const size of args.sizes) {
    for (const kind of KINDS) {
      if (unavailable.has(kind)) {
        rows.push([bytesLabel(size), LABEL[kind], 'unavailable', '', '']);
        continue;
      }
      rows.push([bytesLabel(size), LABEL[kind], `${si(med(kind, size, 'pub'))}/s`, `${si(med(kind, size, 'con'))}/s`, '']);
    }
  }
  console.log(`\n${table(['size', 'target', 'publish (acked)', 'consume+ack', ''], rows, [false, false, true, true, false])}`);
  const targets: string[][] = [];
  for (const size of args.sizes) {
    const a = (k: Kind, w: 'pub' | 'con'): number | undefined => med(k, size, w);
    targets.push([bytesLabel(size), 'publish, fsync always ≥ 3× RabbitMQ', ratio(a('plexus-always', 'pub'), a('rabbitmq', 'pub'))]);
    targets.push([bytesLabel(size), 'publish, fsync always ≥ 5× JetStream', ratio(a('plexus-always', 'pub'), a('jetstream', 'pub'))]);
    targets.push([bytesLabel(size), 'consume+ack ≥ 1× Redis Streams', ratio(a('plexus-always', 'con'), a('redis', 'con'))]);
    targets.push([bytesLabel(size), '(publish, fsync 100 ms vs JetStream)', ratio(a('plexus-interval', 'pub'), a('jetstream', 'pub'))]);
  }
  console.log(`\n${table(['size', 'target', 'ratio'], targets, [false, false, true])}`);
}

process.on('SIGINT', () => {
  killAllNow();
  process.exit(130);
});
main().catch((err: unknown) => {
  console.error(err);
  killAllNow();
  process.exit(1);
});
