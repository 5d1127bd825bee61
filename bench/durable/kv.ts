/**
 * KV put/get throughput: a Plexus KV bucket (embedded durable service; puts durable per
 * the bucket's fsync) vs Redis SET/GET through ioredis (Redis here keeps nothing on
 * disk). `count` operations over 1000 keys, `window` in flight.
 */
import type { Connection } from '../../src/index.js';
import { kv } from '../../src/index.js';
import { windowed } from './targets.js';

export interface KvTarget {
  readonly name: string;
  put(i: number, value: Uint8Array): Promise<unknown>;
  get(i: number): Promise<unknown>;
  close(): Promise<void>;
}

const KEYS = 1000;

export async function plexusKv(bus: Connection, fsync: 'always' | { intervalMs: number }, id: string): Promise<KvTarget> {
  const bucket = kv(bus, `bench_${id}`, { fsync, timeoutMs: 30_000 });
  return {
    name: `Plexus KV, fsync ${fsync === 'always' ? 'always' : `every ${fsync.intervalMs} ms`}`,
    put: (i, value) => bucket.put(`k${i % KEYS}`, value),
    get: (i) => bucket.get(`k${i % KEYS}`),
    close: () => bucket.destroy(),
  };
}

export async function redisKv(id: string): Promise<KvTarget> {
  const { Redis } = await import('ioredis');
  const r = new Redis({ host: '127.0.0.1', port: 6379, enableAutoPipelining: true, maxRetriesPerRequest: 0, lazyConnect: true });
  await r.connect();
  const key = (i: number): string => `plexus-bench-${id}-${i % KEYS}`;
  return {
    name: 'Redis SET/GET (ioredis, no disk here)',
    put: (i, value) => r.set(key(i), Buffer.from(value)),
    get: (i) => r.getBuffer(key(i)),
    async close() {
      for (let i = 0; i < KEYS; i += 500) await r.del(...Array.from({ length: Math.min(500, KEYS - i) }, (_, j) => key(i + j)));
      r.disconnect();
    },
  };
}

/** ops/s of `count` puts, then `count` gets, `window` in flight. */
export async function measureKv(t: KvTarget, value: Uint8Array, count: number, window: number): Promise<{ put: number; get: number }> {
  let t0 = performance.now();
  await windowed(count, window, (i) => t.put(i, value));
  const put = count / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  await windowed(count, window, (i) => t.get(i));
  const get = count / ((performance.now() - t0) / 1000);
  return { put, get };
}
