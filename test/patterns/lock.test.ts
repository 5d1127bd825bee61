import { it } from 'node:test';
import assert from 'node:assert/strict';
import { kv, lock } from '../../src/patterns/index.js';
import { rejection, rejectionCode, sleep, waitFor, within } from '../helpers/wait.js';
import { coordFixture } from './lock-helpers.js';

void it('acquire / release: one holder at a time, strictly increasing fencing tokens, a waiter woken by the release', async (t) => {
  const f = await coordFixture(t);
  // A long TTL: only a release can hand the lock over within this test.
  const orders = lock(f.bus, 'orders', { ttlMs: 60_000 });
  const a = await orders.acquire({ timeoutMs: 3000 });
  assert.ok(a.token >= 1);
  assert.equal(await orders.tryAcquire(), undefined);
  let bDone = false;
  const b = orders.acquire({ timeoutMs: 20_000 }).then((l) => ((bDone = true), l));
  await waitFor(async () => (await orders.info()).waiting === 1, 5000, 'the second acquire is queued');
  assert.equal(bDone, false, 'the second acquire waits while the lock is held');
  await a.release();
  assert.equal(a.lost, true);
  assert.equal(a.signal.aborted, true);
  const lb = await within(b, 3000, 'waiter woken by the release');
  assert.ok(lb.token > a.token);
  await lb.release();
  const c = await orders.acquire();
  assert.ok(c.token > lb.token);
  const info = await orders.info();
  assert.equal(info.lastToken, c.token);
  assert.deepEqual(info.holders.map((h) => h.token), [c.token]);
  await c.release();
  await a.release(); // idempotent
});

void it('a lease that is not renewed expires: the holder is told (LEASE_LOST) and a waiter gets the lock', async (t) => {
  const f = await coordFixture(t);
  const l = lock(f.bus, 'exp', { ttlMs: 300, autoRenew: false });
  const a = await l.acquire();
  const other = lock(f.bus, 'exp', { ttlMs: 5000 });
  const b = await within(other.acquire({ timeoutMs: 5000 }), 5000, 'acquire after expiry');
  assert.ok(b.token > a.token);
  await waitFor(() => a.signal.aborted, 2000, 'lost signal');
  assert.equal((a.signal.reason as { code?: string }).code, 'PLEXUS_ERR_LEASE_LOST');
  assert.equal(await rejectionCode(a.renew(), 2000), 'PLEXUS_ERR_LEASE_LOST');
  await b.release();
});

void it('automatic renewal keeps a lease well past its TTL', async (t) => {
  const f = await coordFixture(t);
  const l = lock(f.bus, 'renew', { ttlMs: 800 });
  const a = await l.acquire();
  await sleep(2500);
  assert.equal(a.lost, false);
  assert.equal(await l.tryAcquire(), undefined);
  await a.release();
  const b = await l.tryAcquire();
  assert.ok(b);
  await b.release();
});

void it('acquire gives up with PLEXUS_ERR_TIMEOUT or on abort, leaving nothing held behind', async (t) => {
  const f = await coordFixture(t);
  const l = lock(f.bus, 'busy', { ttlMs: 60_000 });
  const a = await l.acquire();
  assert.equal(await rejectionCode(l.acquire({ timeoutMs: 300 }), 3000), 'PLEXUS_ERR_TIMEOUT');
  const ac = new AbortController();
  const p = l.acquire({ timeoutMs: 20_000, signal: ac.signal });
  await sleep(100);
  ac.abort(new Error('stop'));
  assert.equal(((await rejection(p, 3000)) as Error).message, 'stop');
  await waitFor(async () => (await l.info()).waiting === 0, 2000, 'waiters gone');
  await a.release();
  assert.deepEqual((await l.info()).holders, []);
  await assert.rejects(async () => lock(f.bus, 'x', { ttlMs: 10 }), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  assert.throws(() => lock(f.bus, 'bad name'), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
});

void it('fencing: KV writes with a stale or released token are refused, the live one is accepted', async (t) => {
  const f = await coordFixture(t);
  const l = lock(f.bus, 'fence', { ttlMs: 1000, autoRenew: false });
  const store = kv(f.bus, 'fenced');
  await store.info(); // the bucket exists before the lease's clock starts
  const a = await l.acquire();
  await store.put('x', 'a', { fence: a.fence });
  await waitFor(async () => (await l.info()).holders.length === 0, 5000, 'the service expired a');
  assert.equal(await rejectionCode(store.put('x', 'a-late', { fence: a.fence }), 3000), 'PLEXUS_ERR_FENCE_STALE');
  const b = await lock(f.bus, 'fence', { ttlMs: 10_000 }).acquire();
  const err = (await rejection(store.put('x', 'a-later', { fence: a.fence }), 3000)) as { code: string; details: { current: number } };
  assert.equal(err.code, 'PLEXUS_ERR_FENCE_STALE');
  assert.equal(err.details.current, b.token);
  assert.equal(await rejectionCode(store.delete('x', { fence: a.fence }), 3000), 'PLEXUS_ERR_FENCE_STALE');
  await store.put('x', 'b', { fence: b.fence });
  assert.equal((await store.get('x'))?.string(), 'b');
  await b.release();
  assert.equal(await rejectionCode(store.put('x', 'b-late', { fence: b.fence }), 3000), 'PLEXUS_ERR_FENCE_STALE');
  assert.equal(await rejectionCode(store.put('x', 'y', { fence: { lock: 'never', token: 1 } }), 3000), 'PLEXUS_ERR_FENCE_STALE');
  assert.equal((await store.get('x'))?.string(), 'b');
});

void it('tokens and held leases survive a service restart', async (t) => {
  const f = await coordFixture(t);
  const l = lock(f.bus, 'durable', { ttlMs: 5000 });
  const a = await l.acquire();
  await f.restart();
  // Still held: renewal succeeds against the new service, nobody else gets it.
  await waitFor(async () => {
    try {
      await a.renew();
      return true;
    } catch {
      return false;
    }
  }, 5000, 'renew after restart');
  assert.equal(await l.tryAcquire(), undefined);
  await a.release();
  const b = await l.acquire();
  assert.ok(b.token > a.token, 'no token is handed out twice across a restart');
  await b.release();
});

void it('a restart never shortens a lease: every saved lease gets a full TTL from the restart', async (t) => {
  const f = await coordFixture(t);
  const l = lock(f.bus, 'grace', { ttlMs: 3000, autoRenew: false });
  const a = await l.acquire();
  const grantedBy = Date.now(); // the service's deadline is at most grantedBy + 3000
  await sleep(600);
  await f.restart(); // loads the lease at least 600 ms after the grant: new deadline ≥ grantedBy + 3600
  await sleep(Math.max(0, grantedBy + 3100 - Date.now()));
  assert.deepEqual((await l.info()).holders.map((h) => h.token), [a.token], 'still held past the original deadline');
  await waitFor(async () => (await l.info()).holders.length === 0, 6000, 'expires after the extension');
});

void it('SIGSTOP: a paused holder whose lease expired cannot write with its stale token; the new holder can', async (t) => {
  const f = await coordFixture(t);
  const store = kv(f.bus, 'paused', { history: 64 });
  await store.info(); // created here, with history, before the child opens it
  const ttl = 1000;
  const child = await f.child('fenced-writer', 'orders', 'paused', String(ttl));
  const acquired = await child.waitLine(/^acquired \d+$/, 10_000);
  const childToken = Number(acquired.split(' ')[1]);
  await child.waitLine(/^write ok$/, 5000);
  process.kill(child.pid, 'SIGSTOP');
  let stopped = true;
  t.after(() => {
    if (stopped) process.kill(child.pid, 'SIGCONT');
  });
  // The paused child cannot renew: after its TTL the lock is ours.
  const mine = await lock(f.bus, 'orders', { ttlMs: 10_000 }).acquire({ timeoutMs: 5000 });
  assert.ok(mine.token > childToken);
  const parentRev = await store.put('owner', 'parent', { fence: mine.fence });
  process.kill(child.pid, 'SIGCONT');
  stopped = false;
  const failed = await child.waitLine(/^write failed /, 10_000);
  assert.equal(failed, 'write failed PLEXUS_ERR_FENCE_STALE');
  // No write of the child landed after the new holder's: the value is still the parent's.
  assert.equal((await store.get('owner'))?.string(), 'parent');
  const history = await store.history('owner');
  assert.ok(history.some((e) => e.string() === `child:${childToken}`), 'the child did write while it held the lock');
  assert.deepEqual(history.filter((e) => e.revision > parentRev).map((e) => e.string()), []);
  await store.put('owner', 'parent-2', { fence: mine.fence });
  assert.equal((await store.get('owner'))?.string(), 'parent-2');
  await mine.release();
  await child.kill();
});

void it('a holder that dies (SIGKILL) frees the lock when its lease expires', async (t) => {
  const f = await coordFixture(t);
  const child = await f.child('hold', 'lock', 'dies', '1', '500');
  const tok = Number((await child.waitLine(/^acquired \d+$/, 10_000)).split(' ')[1]);
  const l = lock(f.bus, 'dies', { ttlMs: 5000 });
  assert.equal(await l.tryAcquire(), undefined);
  await child.kill();
  const mine = await within(l.acquire({ timeoutMs: 5000 }), 6000, 'acquire after the holder died');
  assert.ok(mine.token > tok);
  await mine.release();
});
