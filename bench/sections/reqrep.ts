/**
 * Request/reply: sequential latency (p50/p99) and throughput with 64 requests in flight.
 * The responder (and, for Plexus, the broker) each run in their own process.
 */
import { brief, newSample, startBrokerProcess, wanted, type RunContext, type Sample } from '../lib/context.js';
import { startPeer, type Peer } from '../lib/proc.js';
import { fixed, median, ratio, si, spread, table } from '../lib/stats.js';
import type { RrPeerConfig, RrSystem } from '../rr-client.js';

export const RR_SYSTEMS: readonly { id: RrSystem; label: string }[] = [
  { id: 'plexus-unix', label: 'plexus (unix)' },
  { id: 'plexus-tcp', label: 'plexus (tcp)' },
  { id: 'nats', label: 'nats request → nats-server' },
  { id: 'grpc', label: '@grpc/grpc-js unary (tcp)' },
  { id: 'http', label: 'HTTP/1.1 keep-alive, undici Pool (tcp)' },
  { id: 'ipc', label: 'child_process process.send' },
];

export const RR_PAYLOAD = 16;
export const INFLIGHT = 64;

export interface RrSample {
  readonly p50: Sample;
  readonly p99: Sample;
  readonly rps: Sample;
}

export type RrResults = Map<RrSystem, RrSample>;

function params(ctx: RunContext): Pick<RrPeerConfig, 'warmup' | 'samples' | 'inflight' | 'seconds' | 'size'> {
  return ctx.quick
    ? { size: RR_PAYLOAD, warmup: 300, samples: 1000, inflight: INFLIGHT, seconds: 0.5 }
    : { size: RR_PAYLOAD, warmup: 2000, samples: 10_000, inflight: INFLIGHT, seconds: 2 };
}

async function setUp(ctx: RunContext, system: RrSystem): Promise<{ target: string; peers: Peer[] }> {
  const peers: Peer[] = [];
  try {
    let target = '';
    if (system === 'plexus-unix' || system === 'plexus-tcp') {
      const b = await startBrokerProcess(ctx);
      peers.push(b.peer);
      target = system === 'plexus-unix' ? b.unix : b.tcp;
    }
    if (system !== 'ipc') {
      const { peer, ready } = await startPeer('responder', 'rr-server.js', { system, target, ...params(ctx) } satisfies RrPeerConfig);
      peers.push(peer);
      if (system === 'grpc' || system === 'http') target = ready['address'] as string;
    }
    return { target, peers };
  } catch (err) {
    await Promise.all(peers.map((p) => p.stop()));
    throw err;
  }
}

/** Runs are interleaved (repeat → system), responders stay up for the whole section. */
export async function runReqRep(ctx: RunContext): Promise<RrResults> {
  const results: RrResults = new Map();
  const setups = new Map<RrSystem, { target: string; peers: Peer[] }>();
  try {
    for (const { id } of RR_SYSTEMS) {
      if (!wanted(ctx, id)) continue;
      const sample: RrSample = { p50: newSample(), p99: newSample(), rps: newSample() };
      results.set(id, sample);
      if (id === 'nats' && !ctx.nats.ok) {
        for (const s of [sample.p50, sample.p99, sample.rps]) s.failures.push('unavailable');
        continue;
      }
      try {
        setups.set(id, await setUp(ctx, id));
      } catch (err) {
        for (const s of [sample.p50, sample.p99, sample.rps]) s.failures.push(brief(err));
        ctx.log(`reqrep ${id}: FAILED to start: ${brief(err)}`);
      }
    }
    for (let r = 0; r < ctx.repeat; r++) {
      for (const [id, setup] of setups) {
        const sample = results.get(id)!;
        const what = `reqrep ${id} run ${r + 1}/${ctx.repeat}`;
        let client: Peer | undefined;
        try {
          client = (await startPeer('requester', 'rr-client.js', { system: id, target: setup.target, ...params(ctx) } satisfies RrPeerConfig)).peer;
          const res = await client.next('result', ctx.quick ? 60_000 : 180_000);
          sample.p50.values.push(res['p50'] as number);
          sample.p99.values.push(res['p99'] as number);
          sample.rps.values.push(res['rps'] as number);
          ctx.log(`${what}: p50 ${fixed(res['p50'] as number, 1)} µs, p99 ${fixed(res['p99'] as number, 1)} µs, ${si(res['rps'] as number)} req/s @${INFLIGHT}`);
        } catch (err) {
          for (const s of [sample.p50, sample.p99, sample.rps]) s.failures.push(brief(err));
          ctx.log(`${what}: FAILED ${brief(err)}`);
        } finally {
          await client?.stop();
        }
      }
    }
  } finally {
    await Promise.all([...setups.values()].flatMap((s) => s.peers.map((p) => p.stop())));
  }
  return results;
}

export function reqRepTable(ctx: RunContext, results: RrResults): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  const nats = results.get('nats');
  const grpc = results.get('grpc');
  const m = (s: Sample | undefined): number | undefined => (s ? median(s.values) : undefined);
  for (const { id, label } of RR_SYSTEMS) {
    const s = results.get(id);
    if (!s) continue;
    if (s.rps.failures[0] === 'unavailable') {
      rows.push([label, 'unavailable', '', '', '', '', '', '', '']);
      continue;
    }
    const mark = s.rps.failures.length > 0 ? ' *' : '';
    if (s.rps.failures.length > 0) notes.push(`${label}: ${s.rps.failures.length}/${s.rps.failures.length + s.rps.values.length} runs failed — ${s.rps.failures[0]}`);
    const p50 = m(s.p50);
    const rps = m(s.rps);
    rows.push([
      label,
      fixed(p50, 1) + mark,
      spread(s.p50.values),
      fixed(m(s.p99), 1),
      si(rps) + mark,
      spread(s.rps.values),
      ratio(p50, m(nats?.p50)),
      ratio(rps, m(nats?.rps)),
      ratio(rps, m(grpc?.rps)),
    ]);
  }
  const out = [
    table(
      ['system', 'p50 µs', 'runs', 'p99 µs', `req/s @${INFLIGHT} in flight`, 'runs', 'p50 vs nats', 'req/s vs nats', 'req/s vs grpc-js'],
      rows,
      [false, true, true, true, true, true, true, true, true],
    ),
  ];
  if (results.has('nats') && !ctx.nats.ok) out.push(`\nnats: unavailable (not running on 127.0.0.1:4222)`);
  if (notes.length > 0) out.push(`\n${notes.map((n) => `\\* ${n}`).join('\n')}`);
  return out.join('\n');
}
