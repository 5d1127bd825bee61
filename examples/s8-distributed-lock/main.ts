/**
 * S8 (distributed) — a lock shared by processes, with fencing tokens.
 *
 * A broker runs with durable messaging on a temp directory. Several worker processes
 * increment one counter in a KV bucket, each increment a read-modify-write under the
 * `orders` lock; every write carries the lease's fencing token. The total is exact: no
 * update is lost. Then this process takes the lock with a short lease that it does not
 * renew, lets it expire, and shows that a write with that stale token is refused.
 *
 * Usage: node dist/examples/s8-distributed-lock/main.js [workers] [increments]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, ErrorCode, kv, lock, PlexusError, startBroker } from '../../src/index.js';

const workers = Number(process.argv[2] ?? 3);
const increments = Number(process.argv[3] ?? 50);
const dir = mkdtempSync(join(tmpdir(), 'plexus-s8d-'));
const broker = await startBroker({ listen: ['tcp://127.0.0.1:0'], durable: { dir: join(dir, 'data') } });
const url = broker.urls[0]!;
console.log(`broker on ${url} with durable data in a temp dir`);
const bus = await connect(url, { name: 'main' });
const counters = kv(bus, 'counters');
await counters.put('orders.count', '0');

let ok: boolean;
try {
  const started = Date.now();
  const codes = await Promise.all(
    Array.from({ length: workers }, async (_, i) => {
      const name = `w${i + 1}`;
      const proc = spawn(process.execPath, [fileURLToPath(new URL('./worker.js', import.meta.url)), url, name, String(increments)], { stdio: ['ignore', 'pipe', 'inherit'] });
      console.log(`started worker ${name} pid=${proc.pid}`);
      proc.stdout.setEncoding('utf8').on('data', (s: string) => {
        for (const line of s.split('\n').filter(Boolean)) console.log(`[${name}] ${line}`);
      });
      const [code] = (await once(proc, 'exit')) as [number | null];
      return code;
    }),
  );
  const total = Number((await counters.get('orders.count'))!.string());
  console.log(`${workers} workers x ${increments} increments under the lock: counter = ${total} (expected ${workers * increments}) in ${Date.now() - started} ms`);
  ok = codes.every((c) => c === 0) && total === workers * increments;

  // A holder that stops renewing (paused, partitioned) loses the lease; its token goes stale.
  const short = await lock(bus, 'orders', { ttlMs: 200, autoRenew: false }).acquire();
  console.log(`took the lock with token ${short.token} and a 200 ms lease, not renewed`);
  await new Promise((r) => setTimeout(r, 400));
  try {
    await counters.put('orders.count', '-1', { fence: short.fence });
    console.log('the stale write was accepted (wrong)');
    ok = false;
  } catch (err) {
    const code = err instanceof PlexusError ? err.code : String(err);
    console.log(`write with the expired token ${short.token} refused: ${code}`);
    ok &&= code === ErrorCode.FENCE_STALE;
  }
  const next = await lock(bus, 'orders').acquire();
  await counters.put('orders.count', String(total + 1), { fence: next.fence });
  console.log(`the next holder (token ${next.token}) writes: counter = ${(await counters.get('orders.count'))!.string()}`);
  await next.release();
} finally {
  await bus.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(ok ? 'OK' : 'FAILED');
process.exit(ok ? 0 : 1);
