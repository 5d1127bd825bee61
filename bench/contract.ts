/**
 * Typed RPC (src/contract) against the untyped core request/reply and @grpc/grpc-js
 * unary, with schema validation on and off.
 *
 *   node dist/bench/contract.js                          # 20000 calls per variant, 64 in flight
 *   node dist/bench/contract.js --count=200 --inflight=8 # smoke run
 *   node dist/bench/contract.js --variants=typed-json,grpc
 *
 * Variants (each on a fresh broker / gRPC server in this process, after a warm-up):
 *   core          bus.request/bus.serve with JSON text: the floor typed calls build on
 *   typed-json    serviceClient → serveService, zod validation of input (client and
 *                 server) and output (server), JSON codec
 *   typed-json-novalidate   the same with validation off on both sides
 *   typed-msgpack typed, validation on, msgpack codec
 *   grpc          @grpc/grpc-js unary Echo (bench/echo.proto) carrying the same JSON bytes
 *                 (no schema validation; protobuf framing of one bytes field)
 *
 * Everything runs in one process (broker, server, client): on a 2-core machine this
 * measures the CPU cost per call more than the network. Prints a Markdown table with
 * p50/p99 latency and throughput; ratios are against grpc.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { connect, defineService, serveService, serviceClient, startBroker, type Connection } from '../src/index.js';
import { grpcRequester, grpcResponder } from './peers/grpc.js';
import { percentile } from './lib/stats.js';

interface Args {
  count: number;
  inflight: number;
  variants: string[] | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { count: 20_000, inflight: 64, variants: undefined };
  for (const a of argv) {
    const [k, v = ''] = a.split('=', 2);
    if (k === '--count') args.count = Number(v);
    else if (k === '--inflight') args.inflight = Number(v);
    else if (k === '--variants') args.variants = v.split(',');
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(args.count > 0 && args.inflight > 0)) throw new Error('--count and --inflight must be positive');
  return args;
}

const Point = z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });
const routing = defineService('benchrouting', {
  version: '1.0.0',
  methods: {
    shortestPath: {
      input: z.object({ from: Point, to: Point, avoid: z.array(z.string()).max(8) }),
      output: z.object({ km: z.number().nonnegative(), via: z.array(z.string()) }),
    },
  },
});
const INPUT = { from: { lat: 52.52, lon: 13.405 }, to: { lat: 48.1351, lon: 11.582 }, avoid: ['tolls'] };
const answer = (i: typeof INPUT): { km: number; via: string[] } => ({ km: Math.hypot(i.to.lat - i.from.lat, i.to.lon - i.from.lon) * 111, via: ['A9', 'A3'] });

/** A call under test and how to tear its setup down. */
interface Target {
  call(): Promise<unknown>;
  close(): Promise<void>;
}

async function plexusPair(): Promise<{ server: Connection; client: Connection; close(): Promise<void> }> {
  const broker = await startBroker({ listen: ['tcp://127.0.0.1:0'] });
  const server = await connect(broker.urls[0]!);
  const client = await connect(broker.urls[0]!);
  return {
    server,
    client,
    close: async () => {
      await client.close();
      await server.close();
      await broker.close({ drainMs: 100 });
    },
  };
}

async function typed(codec: 'json' | 'msgpack', validate: boolean): Promise<Target> {
  const p = await plexusPair();
  const srv = serveService(p.server, routing, { shortestPath: answer }, { validate, register: false });
  await srv.ready();
  const client = serviceClient(p.client, routing, { codec, validate });
  return {
    call: () => client.shortestPath(INPUT),
    close: async () => {
      await srv.close();
      await p.close();
    },
  };
}

const variants: Record<string, () => Promise<Target>> = {
  core: async () => {
    const p = await plexusPair();
    p.server.serve('bench.route', (msg) => JSON.stringify(answer(msg.json())));
    await p.server.flush();
    const body = JSON.stringify(INPUT);
    return { call: async () => (await p.client.request('bench.route', body)).json(), close: p.close };
  },
  'typed-json': () => typed('json', true),
  'typed-json-novalidate': () => typed('json', false),
  'typed-msgpack': () => typed('msgpack', true),
  grpc: async () => {
    const server = await grpcResponder();
    const client = await grpcRequester(server.address);
    const body = new TextEncoder().encode(JSON.stringify(INPUT));
    return {
      call: () => client.call(body),
      close: async () => {
        await client.close();
        await server.close();
      },
    };
  },
};

interface Result {
  name: string;
  p50us: number;
  p99us: number;
  rps: number;
}

async function measure(name: string, target: Target, count: number, inflight: number): Promise<Result> {
  // Warm-up: a tenth of the calls, at least 100.
  await run(target, Math.max(100, Math.floor(count / 10)), inflight, undefined);
  const lat = new Float64Array(count);
  const t0 = performance.now();
  await run(target, count, inflight, lat);
  const elapsed = performance.now() - t0;
  lat.sort();
  return { name, p50us: percentile(lat, 50) * 1000, p99us: percentile(lat, 99) * 1000, rps: count / (elapsed / 1000) };
}

async function run(target: Target, count: number, inflight: number, lat: Float64Array | undefined): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const s = performance.now();
      await target.call();
      if (lat) lat[i] = performance.now() - s;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inflight, count) }, worker));
}

const args = parseArgs(process.argv.slice(2));
const names = args.variants ?? Object.keys(variants);
const results: Result[] = [];
for (const name of names) {
  const make = variants[name];
  if (!make) throw new Error(`unknown variant ${name} (${Object.keys(variants).join(', ')})`);
  const target = await make();
  try {
    results.push(await measure(name, target, args.count, args.inflight));
  } finally {
    await target.close();
  }
}
const grpc = results.find((r) => r.name === 'grpc');
console.log(`typed RPC, ${args.count} calls, ${args.inflight} in flight, Node ${process.version}`);
console.log('');
console.log('| variant | p50 µs | p99 µs | calls/s | throughput vs grpc | p50 vs grpc |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  const tv = grpc ? `${(r.rps / grpc.rps).toFixed(2)}×` : '—';
  const pv = grpc ? `${(r.p50us / grpc.p50us).toFixed(2)}×` : '—';
  console.log(`| ${r.name} | ${r.p50us.toFixed(0)} | ${r.p99us.toFixed(0)} | ${Math.round(r.rps)} | ${tv} | ${pv} |`);
}
