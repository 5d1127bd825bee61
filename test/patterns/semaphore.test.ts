import { it } from 'node:test';
import assert from 'node:assert/strict';
import { kv, semaphore } from '../../src/patterns/index.js';
import { rejectionCode, sleep, waitFor, within } from '../helpers/wait.js';
import { coordFixture } from './lock-helpers.js';

void it('N permits: the N+1th waits until one is released', async (t) => {
  const f = await coordFixture(t);
  const s = semaphore(f.bus, 'pool', { permits: 3, ttlMs: 60_000 });
  const held = [await s.acquire(), await s.acquire(), await s.acquire()];
  assert.equal(new Set(held.map((l) => l.token)).size, 3);
  assert.equal(await s.tryAcquire(), undefined);
  let done = false;
  const fourth = s.acquire({ timeoutMs: 20_000 }).then((l) => ((done = true), l));
  await sleep(200);
  assert.equal(done, false);
  assert.equal((await s.info()).holders.length, 3);
  await held[1]!.release();
  const l4 = await within(fourth, 3000, 'woken by the release');
  assert.ok(l4.token > Math.max(...held.map((l) => l.token)));
  assert.equal((await s.info()).holders.length, 3);
  for (const l of [held[0]!, held[2]!, l4]) await l.release();
  assert.equal((await s.info()).holders.length, 0);
  // Disagreeing about the permits while it is in use is refused.
  const one = await s.acquire();
  assert.equal(await rejectionCode(semaphore(f.bus, 'pool', { permits: 5 }).acquire({ timeoutMs: 100 }), 3000), 'PLEXUS_ERR_DURABLE_EXISTS');
  await one.release();
  assert.throws(() => semaphore(f.bus, 'pool', { permits: 0 }), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
});

void it('a permit holder that is killed gives its permit back when its lease expires; renewal keeps the others', async (t) => {
  const f = await coordFixture(t);
  const s = semaphore(f.bus, 'workers', { permits: 2, ttlMs: 1000 });
  const mine = await s.acquire();
  const child = await f.child('hold', 'sem', 'workers', '2', '1000');
  await child.waitLine(/^acquired \d+$/, 10_000);
  await sleep(2500); // both renew past two TTLs
  assert.equal(mine.lost, false);
  assert.equal(await s.tryAcquire(), undefined);
  await child.kill();
  const next = await within(s.acquire({ timeoutMs: 5000 }), 6000, 'permit freed by expiry');
  assert.equal((await s.info()).holders.length, 2);
  await next.release();
  await mine.release();
});

void it('a permit carries a fencing token: KV writes fenced by it are refused once its lease expired', async (t) => {
  const f = await coordFixture(t);
  const s = semaphore(f.bus, 'fenced-pool', { permits: 2, ttlMs: 1500, autoRenew: false });
  const store = kv(f.bus, 'sem-fenced');
  await store.info(); // the bucket exists before the leases' clocks start
  const a = await s.acquire();
  const b = await s.acquire();
  assert.ok(b.token > a.token, 'tokens are monotonic per semaphore');
  assert.equal(a.fence.kind, 'semaphore');
  await store.put('x', 'a', { fence: a.fence });
  await waitFor(async () => (await s.info()).holders.length === 0, 5000, 'the service expired both permits');
  assert.equal(await rejectionCode(store.put('x', 'a-late', { fence: a.fence }), 3000), 'PLEXUS_ERR_FENCE_STALE');
  assert.equal(await rejectionCode(store.delete('x', { fence: b.fence }), 3000), 'PLEXUS_ERR_FENCE_STALE');
  // A live permit's token is accepted even though another permit holder exists.
  const live = semaphore(f.bus, 'fenced-pool', { permits: 2, ttlMs: 60_000 });
  const c = await live.acquire();
  const d = await live.acquire();
  assert.ok(c.token > b.token && d.token > c.token);
  await store.put('x', 'c', { fence: c.fence });
  await store.put('x', 'd', { fence: d.fence });
  assert.equal((await store.get('x'))?.string(), 'd');
  // A semaphore token is not a lock token of the same name.
  assert.equal(await rejectionCode(store.put('x', 'y', { fence: { lock: 'fenced-pool', token: d.token } }), 3000), 'PLEXUS_ERR_FENCE_STALE');
  await c.release();
  assert.equal(await rejectionCode(store.put('x', 'c-late', { fence: c.fence }), 3000), 'PLEXUS_ERR_FENCE_STALE');
  await d.release();
});
