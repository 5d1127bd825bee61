/**
 * Encode and decode cost of each codec (src/codec) for typical payloads.
 *
 *   node dist/bench/codec.js                   # every codec × payload, 500 ms per measurement
 *   node dist/bench/codec.js --duration=2000   # longer runs, steadier numbers
 *   node dist/bench/codec.js --repeat=5        # best of 5 runs per measurement (default 3)
 *   node dist/bench/codec.js --codecs=json,cbor --payloads=small
 *
 * Payloads: `small` (an event object, ~100 B as JSON), `medium` (an order with 20 line
 * items, ~2 KB as JSON) and `blob` (a 64 KiB binary field; JSON carries it as a base64
 * string, since JSON has no binary type). Protobuf uses a schema per payload (below).
 * Each measurement runs batches until `duration` ms have passed after a warm-up and
 * reports the mean ns per operation; the best of `repeat` such runs is shown, which
 * filters out time lost to other load on the machine. Prints a Markdown table (docs/codecs.md has one).
 */
import { cbor, json, msgpack, protobufCodec, protoFromJson } from '../src/codec/index.js';
import type { Codec } from '../src/codec/index.js';

interface Args {
  duration: number;
  repeat: number;
  codecs: string[] | undefined;
  payloads: string[] | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { duration: 500, repeat: 3, codecs: undefined, payloads: undefined };
  for (const a of argv) {
    const [k, v = ''] = a.split('=', 2);
    if (k === '--duration') args.duration = Number(v);
    else if (k === '--repeat') args.repeat = Number(v);
    else if (k === '--codecs') args.codecs = v.split(',');
    else if (k === '--payloads') args.payloads = v.split(',');
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const schema = protoFromJson({
  nested: {
    bench: {
      nested: {
        Event: {
          fields: {
            id: { type: 'int32', id: 1 },
            user: { type: 'string', id: 2 },
            action: { type: 'string', id: 3 },
            ok: { type: 'bool', id: 4 },
            ts: { type: 'double', id: 5 },
            tags: { rule: 'repeated', type: 'string', id: 6 },
          },
        },
        Address: {
          fields: {
            street: { type: 'string', id: 1 },
            city: { type: 'string', id: 2 },
            zip: { type: 'string', id: 3 },
            country: { type: 'string', id: 4 },
          },
        },
        Item: {
          fields: {
            sku: { type: 'string', id: 1 },
            name: { type: 'string', id: 2 },
            qty: { type: 'int32', id: 3 },
            price: { type: 'double', id: 4 },
          },
        },
        Order: {
          fields: {
            orderId: { type: 'string', id: 1 },
            customerId: { type: 'int32', id: 2 },
            email: { type: 'string', id: 3 },
            shipTo: { type: 'Address', id: 4 },
            items: { rule: 'repeated', type: 'Item', id: 5 },
            total: { type: 'double', id: 6 },
            currency: { type: 'string', id: 7 },
            placedAt: { type: 'double', id: 8 },
            notes: { type: 'string', id: 9 },
          },
        },
        Blob: { fields: { name: { type: 'string', id: 1 }, data: { type: 'bytes', id: 2 } } },
      },
    },
  },
});

const small = { id: 48213, user: 'alice', action: 'login', ok: true, ts: 1763780000123, tags: ['web', 'eu-west'] };

const medium = {
  orderId: 'ord-2026-11-000481',
  customerId: 99120,
  email: 'customer@example.com',
  shipTo: { street: '12 Long Road', city: 'Springfield', zip: '40211', country: 'NL' },
  items: Array.from({ length: 20 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: `Widget model ${i}`, qty: 1 + (i % 4), price: 9.99 + i })),
  total: 1234.56,
  currency: 'EUR',
  placedAt: 1763780000123,
  notes: 'Leave at the front door.',
};

const blobBytes = new Uint8Array(64 * 1024);
for (let i = 0; i < blobBytes.length; i++) blobBytes[i] = (i * 2654435761) >>> 24;
const blob = { name: 'thumbnail.png', data: blobBytes };
const blobJson = { name: 'thumbnail.png', data: Buffer.from(blobBytes).toString('base64') };

interface Case {
  codec: Codec;
  payload: string;
  value: unknown;
}

function cases(): Case[] {
  const pb = (t: string): Codec => protobufCodec(schema, `bench.${t}`, { maxBytes: 4 * 1024 * 1024 });
  const out: Case[] = [];
  const payloads: [string, unknown, unknown, string][] = [
    ['small', small, small, 'Event'],
    ['medium', medium, medium, 'Order'],
    ['blob', blob, blobJson, 'Blob'],
  ];
  for (const [name, value, jsonValue, type] of payloads) {
    out.push({ codec: json, payload: name, value: jsonValue });
    out.push({ codec: msgpack, payload: name, value });
    out.push({ codec: cbor, payload: name, value });
    out.push({ codec: pb(type), payload: name, value });
  }
  return out;
}

let sink = 0;

/** Mean ns per call of `fn`, run in batches (~10 ms each) for `duration` ms after a warm-up. */
function measure(fn: () => unknown, duration: number): number {
  let batch = 1;
  const warmEnd = performance.now() + Math.min(200, duration / 2);
  while (performance.now() < warmEnd) {
    const t = performance.now();
    for (let i = 0; i < batch; i++) if (fn() !== undefined) sink++;
    if (performance.now() - t < 10) batch *= 2;
  }
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = performance.now() + duration;
  while (performance.now() < end) {
    for (let i = 0; i < batch; i++) if (fn() !== undefined) sink++;
    ops += batch;
  }
  return Number(process.hrtime.bigint() - start) / ops;
}

function fmt(ns: number): string {
  return ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${Math.round(ns)} ns`;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const rows: string[] = [];
  rows.push('| payload | codec | bytes | encode | decode | encode+decode |');
  rows.push('|---|---|---:|---:|---:|---:|');
  for (const c of cases()) {
    if (args.codecs && !args.codecs.includes(c.codec.name)) continue;
    if (args.payloads && !args.payloads.includes(c.payload)) continue;
    const bytes = c.codec.encode(c.value);
    c.codec.decode(bytes); // fail fast if the case is broken
    let enc = Infinity;
    let dec = Infinity;
    for (let r = 0; r < args.repeat; r++) {
      enc = Math.min(enc, measure(() => c.codec.encode(c.value), args.duration));
      dec = Math.min(dec, measure(() => c.codec.decode(bytes), args.duration));
    }
    const row = `| ${c.payload} | ${c.codec.name} | ${bytes.byteLength} | ${fmt(enc)} | ${fmt(dec)} | ${fmt(enc + dec)} |`;
    rows.push(row);
    process.stderr.write(`${row}\n`);
  }
  process.stdout.write(`\nNode ${process.version}, best of ${args.repeat} × ${args.duration} ms per measurement\n\n${rows.join('\n')}\n`);
  if (sink < 0) process.stdout.write('');
}

main();
