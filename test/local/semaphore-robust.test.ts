/**
 * Semaphore in robust mode (`holders: n`): permits held by a process that is SIGKILLed
 * come back to the waiters, who learn `ownerDied`; a live holder keeps its permits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/errors/index.js';
import { Semaphore, SharedSegment } from '../../src/local/index.js';
import { Cleanup, delay, needsShm, startHolder, uniqueName, within } from './helpers.js';

function robustSemaphore(cleanup: Cleanup, tag: string, permits: number, holders: number): { seg: SharedSegment; sem: Semaphore } {
  const seg = SharedSegment.create(uniqueName(tag), { size: 4096 });
  cleanup.defer(() => seg.close());
  const sem = Semaphore.create(seg.buffer, seg.dataOffset, { permits, holders, wake: 'futex', sleepSliceMs: 50 });
  return { seg, sem };
}

test('Semaphore (robust): permits of a SIGKILLed holder go to the waiter, with ownerDied', async (t) => {
  if (!needsShm(t)) return;
  const cleanup = new Cleanup(t);
  const { seg, sem } = robustSemaphore(cleanup, 'sem-died', 3, 8);
  assert.equal(sem.robust, true);
  const holder = await startHolder(cleanup, 'semaphore-hold.js', [seg.name, '2']);
  assert.equal(sem.available, 1);
  assert.equal(sem.tryAcquire(), true);
  const waiting = sem.acquire(2, { timeoutMs: 8000 });
  await delay(30);
  process.kill(holder.pid, 'SIGKILL');
  await holder.exited;
  const r = await within(waiting, 6000, 'the waiter after the holder died');
  assert.equal(r.ownerDied, true);
  assert.equal(r.code, ErrorCode.OWNER_DIED);
  assert.equal(r.previousOwner?.pid, holder.pid);
  assert.equal(sem.available, 0, 'the 2 reclaimed permits went to the waiter');
  sem.release(3);
  assert.equal(sem.available, 3);
  assert.throws(() => sem.release(1), { code: ErrorCode.INVALID_ARGUMENT }, 'a thread cannot release permits it does not hold');
  assert.equal((await sem.acquire(3, { timeoutMs: 1000 })).ownerDied, false, 'an ordinary acquire afterwards');
  sem.release(3);
});

test('Semaphore (robust): repeated SIGKILLs of several holders lose no permit', async (t) => {
  if (!needsShm(t)) return;
  const cleanup = new Cleanup(t);
  const { seg, sem } = robustSemaphore(cleanup, 'sem-stress', 3, 4);
  for (let round = 0; round < 3; round++) {
    const holders = await Promise.all([1, 1, 1].map((n) => startHolder(cleanup, 'semaphore-hold.js', [seg.name, String(n)])));
    assert.equal(sem.available, 0, `round ${round}: all permits held`);
    for (const h of holders) process.kill(h.pid, 'SIGKILL');
    await Promise.all(holders.map((h) => h.exited));
    const r = await within(sem.acquire(3, { timeoutMs: 8000 }), 6000, `round ${round}: taking all permits back`);
    assert.equal(r.ownerDied, true);
    assert.ok(holders.some((h) => h.pid === r.previousOwner?.pid));
    sem.release(3);
    assert.equal(sem.available, 3, `round ${round}: every permit is back`);
  }
});

test('Semaphore (robust): a live holder keeps its permits; full holder slots are a coded error', async (t) => {
  if (!needsShm(t)) return;
  const cleanup = new Cleanup(t);
  const { seg, sem } = robustSemaphore(cleanup, 'sem-alive', 2, 1);
  await startHolder(cleanup, 'semaphore-hold.js', [seg.name, '1']);
  assert.throws(() => sem.tryAcquire(), { code: ErrorCode.REGISTRY_LIMIT }, 'the only slot belongs to the other process');
  assert.equal(sem.available, 1, 'a refused acquire gives its permit back');
  const { seg: seg2, sem: busy } = robustSemaphore(cleanup, 'sem-busy', 1, 2);
  await startHolder(cleanup, 'semaphore-hold.js', [seg2.name, '1']);
  await assert.rejects(busy.acquire(1, { timeoutMs: 300 }), { code: ErrorCode.TIMEOUT }, 'a live holder is not reclaimed');
  assert.equal(busy.available, 0);
});

test('Semaphore: holders is validated and needs room in the buffer', () => {
  const buf = new SharedArrayBuffer(Semaphore.bytesFor(2));
  assert.throws(() => Semaphore.create(buf, 0, { holders: 3 }), { code: ErrorCode.INVALID_ARGUMENT });
  assert.throws(() => Semaphore.create(buf, 0, { holders: -1 }), { code: ErrorCode.INVALID_ARGUMENT });
  const sem = Semaphore.create(buf, 0, { holders: 2, permits: 2 });
  assert.equal(Semaphore.attach(buf, 0).robust, true);
  assert.equal(Semaphore.create(new SharedArrayBuffer(64), 0).robust, false);
  assert.equal(sem.tryAcquire(2), true);
  sem.release(2);
  assert.equal(sem.available, 2);
});
