import { it } from 'node:test';
import assert from 'node:assert/strict';
import { condvar, kv, lock } from '../../src/patterns/index.js';
import { rejectionCode, waitFor, within } from '../helpers/wait.js';
import { coordFixture } from './lock-helpers.js';

void it('wait releases the lock atomically; notify wakes the waiter, which holds the lock again', async (t) => {
  const f = await coordFixture(t);
  const other = await f.client();
  const m = lock(f.bus, 'jobs', { ttlMs: 10_000 });
  const store = kv(f.bus, 'jobs');
  await store.put('count', '0');
  const cv = condvar(f.bus, 'jobs-ready', m);
  // Consumer: wait until count > 0, under the lock.
  const consumer = (async () => {
    let lease = await m.acquire();
    let wakes = 0;
    // Bounded: each pass waits at most 5 s, and the test stops after 10 passes.
    while (Number((await store.get('count'))!.string()) === 0 && wakes < 10) {
      ({ lease } = await cv.wait(lease, { timeoutMs: 5000 }));
      wakes++;
    }
    const seen = (await store.get('count'))!.string();
    await store.put('count', '0', { fence: lease.fence });
    await lease.release();
    return { seen, token: lease.token };
  })();
  // The consumer took the lock (token 1) and its wait gave it back.
  await waitFor(async () => {
    const i = await m.info();
    return i.lastToken === 1 && i.holders.length === 0;
  }, 5000, 'consumer waiting');
  // Producer: the wait released the lock, so it can be taken; then notify under it.
  const om = lock(other, 'jobs', { ttlMs: 10_000 });
  const pl = await within(om.acquire({ timeoutMs: 3000 }), 3000, 'lock free while the consumer waits');
  await kv(other, 'jobs').put('count', '5', { fence: pl.fence });
  assert.equal(await condvar(other, 'jobs-ready', om).notify(), 1);
  await pl.release();
  const r = await within(consumer, 5000, 'consumer woke');
  assert.equal(r.seen, '5');
  assert.ok(r.token > pl.token, 'the consumer re-acquired after the producer');
  assert.equal((await store.get('count'))!.string(), '0');
});

void it('notifyAll wakes every waiter; a wait without notify times out holding the lock again', async (t) => {
  const f = await coordFixture(t);
  const m = lock(f.bus, 'm', { ttlMs: 10_000 });
  const cv = condvar(f.bus, 'cv', m);
  const waiter = async (): Promise<boolean> => {
    const l = await m.acquire({ timeoutMs: 5000 });
    const r = await cv.wait(l, { timeoutMs: 8000 });
    await r.lease.release();
    return r.notified;
  };
  const ws = [waiter(), waiter(), waiter()];
  // All three took the lock in turn and gave it back by waiting.
  await waitFor(async () => {
    const i = await m.info();
    return i.lastToken === 3 && i.holders.length === 0;
  }, 5000, 'three waiters');
  assert.equal(await cv.notifyAll(), 3);
  assert.deepEqual(await within(Promise.all(ws), 8000, 'all woken'), [true, true, true]);
  assert.equal(await cv.notify(), 0);
  const l = await m.acquire();
  const r = await cv.wait(l, { timeoutMs: 200 });
  assert.equal(r.notified, false);
  assert.equal(r.lease.lost, false);
  assert.equal(await m.tryAcquire(), undefined, 'holding the lock again after the timeout');
  await r.lease.release();
  // Waiting with a lease that is no longer held is refused.
  assert.equal(await rejectionCode(cv.wait(r.lease, { timeoutMs: 100 }), 3000), 'PLEXUS_ERR_LEASE_LOST');
});
