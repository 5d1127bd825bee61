import { it } from 'node:test';
import assert from 'node:assert/strict';
import { condvar, lock } from '../../src/patterns/index.js';
import { sleep, waitFor, within } from '../helpers/wait.js';
import { killableService } from './lock-helpers.js';

void it('kill -9 of the service while a condition-variable waiter waits: the wait ends (notified: false) holding the lock again, it never hangs', async (t) => {
  const s = await killableService(t);
  const bus = await s.broker.connect();
  const l = lock(bus, 'monitor', { ttlMs: 2000 });
  const cv = condvar(bus, 'ready', l);
  const first = await l.acquire();
  let ended = false;
  const waiting = cv.wait(first, { timeoutMs: 50_000 }).finally(() => (ended = true));
  await sleep(300);
  assert.equal(ended, false, 'waiting for a notify');
  await s.crashAndRestart();
  // Well before its 50 s timeout: the lost wait is reported and the lock taken again.
  const r = await within(waiting, 20_000, 'the wait ends after the restart');
  assert.equal(r.notified, false, 'a notify cannot have happened: nobody sent one');
  assert.ok(r.lease.token > first.token, 'a new lease with a newer token');
  assert.equal(r.lease.lost, false);
  // The condition variable works against the restarted service.
  const again = cv.wait(r.lease, { timeoutMs: 20_000 });
  await waitFor(async () => (await cv.notify()) === 1, 10_000, 'the waiter is queued and woken');
  const woke = await within(again, 20_000, 'notified after the restart');
  assert.equal(woke.notified, true);
  await woke.lease.release();
});
