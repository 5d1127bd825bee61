/**
 * A worker that increments the shared counter `counters/orders.count` `n` times, each
 * time under the `orders` lock: acquire, read, write the value + 1 fenced by the lease's
 * token, release. `node worker.js <url> <name> <n>`.
 */
import { connect, kv, lock } from '../../src/index.js';

const [url, name, n] = process.argv.slice(2);
const bus = await connect(url!, { name: `worker-${name}`, timeoutMs: 3000 });
const orders = lock(bus, 'orders', { ttlMs: 2000 });
const counters = kv(bus, 'counters');
let first = 0;
let last = 0;
for (let i = 0; i < Number(n); i++) {
  const lease = await orders.acquire({ timeoutMs: 30_000 });
  try {
    first ||= lease.token;
    last = lease.token;
    const cur = Number((await counters.get('orders.count'))?.string() ?? '0');
    // Yield while holding the lock: without it, other workers would interleave here.
    await new Promise((r) => setImmediate(r));
    // Refused (PLEXUS_ERR_FENCE_STALE) if our lease were lost by now.
    await counters.put('orders.count', String(cur + 1), { fence: lease.fence });
  } finally {
    await lease.release();
  }
}
console.log(`did ${n} increments with fencing tokens ${first}..${last}`);
await bus.close();
