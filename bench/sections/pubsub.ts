/**
 * Pub/sub one-way throughput: publisher process → broker → subscriber process, counted
 * at the receiver from its first to its last message.
 */
import { brief, newSample, socketPath, startBrokerProcess, wanted, type RunContext, type Sample } from '../lib/context.js';
import { startPeer, type Peer } from '../lib/proc.js';
import { bytesLabel, median, ratio, si, spread, table } from '../lib/stats.js';
import type { PubSubPeerConfig, PubSubSystem } from '../pubsub-pub.js';
import { SUBJECT } from '../peers/types.js';

export const PUBSUB_SYSTEMS: readonly { id: PubSubSystem; label: string }[] = [
  { id: 'plexus-unix', label: 'plexus (unix)' },
  { id: 'plexus-tcp', label: 'plexus (tcp)' },
  { id: 'nats', label: 'nats client → nats-server' },
  { id: 'redis', label: 'ioredis → redis pub/sub' },
  { id: 'raw-relay', label: 'raw unix, via relay process' },
  { id: 'raw-direct', label: 'raw unix, direct pub→sub' },
];

export const DEFAULT_SIZES = [16, 256, 4096, 65536] as const;

/**
 * Messages per run, by payload size: about 1–3 s for Plexus and nats here. Redis is
 * 4–10× slower on this path, so its runs send a quarter as many (a rate measured at the
 * receiver does not depend on the count once it runs for a second or so).
 */
function countFor(system: PubSubSystem, size: number, quick: boolean): number {
  const full = size <= 16 ? 400_000 : size <= 256 ? 300_000 : size <= 4096 ? 100_000 : 8_000;
  const n = system === 'redis' ? full / 4 : full;
  return Math.round(quick ? Math.max(500, n / 10) : n);
}

/** msgs/s per system per size. */
export type PubSubResults = Map<PubSubSystem, Map<number, Sample>>;

interface Setup {
  pubTarget: string;
  subTarget: () => string;
  peers: Peer[];
}

async function setUp(ctx: RunContext, system: PubSubSystem): Promise<Setup> {
  switch (system) {
    case 'plexus-unix':
    case 'plexus-tcp': {
      const b = await startBrokerProcess(ctx);
      const url = system === 'plexus-unix' ? b.unix : b.tcp;
      return { pubTarget: url, subTarget: () => url, peers: [b.peer] };
    }
    case 'raw-relay': {
      const inPath = socketPath(ctx, 'relay-in');
      const outPath = socketPath(ctx, 'relay-out');
      const { peer } = await startPeer('relay', 'raw-relay.js', { inPath, outPath, framed: true });
      return { pubTarget: inPath, subTarget: () => outPath, peers: [peer] };
    }
    case 'raw-direct': {
      // The subscriber listens; a fresh path per run. pubTarget is filled in per run.
      return { pubTarget: '', subTarget: () => socketPath(ctx, 'raw-sub'), peers: [] };
    }
    case 'nats':
    case 'redis':
      return { pubTarget: '', subTarget: () => '', peers: [] };
  }
}

async function oneRun(ctx: RunContext, system: PubSubSystem, setup: Setup, size: number, count: number): Promise<number> {
  const subTarget = setup.subTarget();
  const base: PubSubPeerConfig = { system, target: subTarget, subject: SUBJECT, size, count };
  const timeoutMs = (ctx.quick ? 30_000 : 90_000) + count / 50; // generous: a stall is reported by the subscriber
  let sub: Peer | undefined;
  let pub: Peer | undefined;
  try {
    sub = (await startPeer('subscriber', 'pubsub-sub.js', base)).peer;
    const pubTarget = system === 'raw-direct' ? subTarget : setup.pubTarget;
    pub = (await startPeer('publisher', 'pubsub-pub.js', { ...base, target: pubTarget })).peer;
    pub.send({ t: 'go' });
    const result = await sub.next('result', timeoutMs);
    if (result['partial']) throw new Error(`stalled: received ${String(result['received'])} of ${count} messages`);
    await pub.next('done', 30_000);
    if (result['bytes'] !== size * count) throw new Error(`received ${String(result['bytes'])} payload bytes, expected ${size * count}`);
    return (count - 1) / (result['seconds'] as number);
  } finally {
    await Promise.all([pub?.stop(), sub?.stop()]);
  }
}

/**
 * Runs are interleaved (repeat → size → system) so that load from anything else on the
 * machine spreads over every system instead of skewing one of them.
 */
export async function runPubSub(ctx: RunContext): Promise<PubSubResults> {
  const sizes = ctx.sizes ?? DEFAULT_SIZES;
  const results: PubSubResults = new Map();
  const setups = new Map<PubSubSystem, Setup>();
  const systems: PubSubSystem[] = [];
  try {
    for (const { id } of PUBSUB_SYSTEMS) {
      if (!wanted(ctx, id)) continue;
      const perSize = new Map<number, Sample>();
      results.set(id, perSize);
      for (const size of sizes) perSize.set(size, newSample());
      const unavailable = id === 'nats' && !ctx.nats.ok ? ctx.nats : id === 'redis' && !ctx.redis.ok ? ctx.redis : undefined;
      if (unavailable) {
        for (const s of perSize.values()) s.failures.push('unavailable');
        continue;
      }
      try {
        setups.set(id, await setUp(ctx, id));
        systems.push(id);
      } catch (err) {
        for (const s of perSize.values()) s.failures.push(brief(err));
        ctx.log(`pubsub ${id}: FAILED to start: ${brief(err)}`);
      }
    }
    for (let r = 0; r < ctx.repeat; r++) {
      for (const size of sizes) {
        for (const id of systems) {
          const count = countFor(id, size, ctx.quick);
          const sample = results.get(id)!.get(size)!;
          const what = `pubsub ${bytesLabel(size)} ${id} run ${r + 1}/${ctx.repeat}`;
          try {
            const rate = await oneRun(ctx, id, setups.get(id)!, size, count);
            sample.values.push(rate);
            ctx.log(`${what}: ${si(rate)} msg/s`);
          } catch (err) {
            sample.failures.push(brief(err));
            ctx.log(`${what}: FAILED ${brief(err)}`);
          }
        }
      }
    }
  } finally {
    await Promise.all([...setups.values()].flatMap((s) => s.peers.map((p) => p.stop())));
  }
  return results;
}

export function pubSubTable(ctx: RunContext, results: PubSubResults): string {
  const sizes = ctx.sizes ?? DEFAULT_SIZES;
  const rows: string[][] = [];
  const notes: string[] = [];
  const med = (id: PubSubSystem, size: number): number | undefined => {
    const s = results.get(id)?.get(size);
    return s ? median(s.values) : undefined;
  };
  for (const size of sizes) {
    const nats = med('nats', size);
    const raw = med('raw-direct', size);
    for (const { id, label } of PUBSUB_SYSTEMS) {
      const s = results.get(id)?.get(size);
      if (!s) continue;
      const m = median(s.values);
      let cell = si(m);
      if (s.failures.length > 0) {
        if (s.failures[0] === 'unavailable') {
          cell = 'unavailable';
        } else {
          cell = m === undefined ? 'failed' : `${cell} *`;
          notes.push(`${label}, ${bytesLabel(size)}: ${s.failures.length}/${s.failures.length + s.values.length} runs failed — ${s.failures[0]}`);
        }
      }
      const mbs = m === undefined ? '—' : ((m * size) / 1e6).toFixed(size >= 4096 ? 0 : 1);
      rows.push([bytesLabel(size), label, cell, spread(s.values), mbs, ratio(m, nats), ratio(m, raw)]);
    }
  }
  const out = [table(['payload', 'system', 'msgs/s', 'runs', 'MB/s', 'vs nats', 'vs raw direct'], rows, [true, false, true, true, true, true, true])];
  if (results.has('nats') && !ctx.nats.ok) out.push(`\nnats: unavailable (not running on 127.0.0.1:4222)`);
  if (results.has('redis') && !ctx.redis.ok) out.push(`\nredis: unavailable (not running on 127.0.0.1:6379)`);
  if (notes.length > 0) out.push(`\n${notes.map((n) => `\\* ${n}`).join('\n')}`);
  return out.join('\n');
}
