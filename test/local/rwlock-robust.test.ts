/**
 * RWLock on the write side is robust: a writer process SIGKILLed while holding the lock
 * is detected by the next waiter (reader or writer), who learns `ownerDied`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/errors/index.js';
import { RWLock, SharedSegment } from '../../src/local/index.js';
import { waitFor } from '../helpers/wait.js';
import { Cleanup, delay, needsShm, startHolder, uniqueName, within, type Holder } from './helpers.js';

function holdWriteLock(cleanup: Cleanup, segment: string): Promise<Holder> {
  return startHolder(cleanup, 'rwlock-hold.js', [segment]);
}

test('RWLock: a writer SIGKILLed holding it — a waiting writer takes it over with ownerDied, a waiting reader releases it', async (t) => {
  if (!needsShm(t)) return;
  const cleanup = new Cleanup(t);
  const seg = SharedSegment.create(uniqueName('rw-died'), { size: 4096 });
  cleanup.defer(() => seg.close());
  const rw = RWLock.create(seg.buffer, seg.dataOffset, { wake: 'futex', sleepSliceMs: 50 });
  const dirty = new Int32Array(seg.buffer, seg.dataOffset + 64, 1);

  // 1. A writer already waiting when the holder dies takes the lock over.
  const first = await holdWriteLock(cleanup, seg.name);
  assert.equal(rw.tryWriteLock(), false);
  assert.equal(rw.tryReadLock(), false);
  const waitingWriter = rw.writeLock({ timeoutMs: 5000 });
  await delay(30);
  process.kill(first.pid, 'SIGKILL');
  await first.exited;
  const w = await within(waitingWriter, 4000, 'the writer after the holder died');
  assert.equal(w.ownerDied, true);
  assert.equal(w.code, ErrorCode.OWNER_DIED);
  assert.equal(w.previousOwner?.pid, first.pid);
  assert.equal(rw.writeLocked, true, 'held by the taker now');
  assert.equal(dirty[0], 1, 'the state the dead writer left');
  dirty[0] = 0;
  rw.writeUnlock();
  assert.equal(rw.writeLocked, false);
  assert.equal((await rw.writeLock({ timeoutMs: 1000 })).ownerDied, false, 'an ordinary lock afterwards');
  rw.writeUnlock();

  // 2. A reader (async) finds the dead writer: the write lock is released, the reader enters.
  const second = await holdWriteLock(cleanup, seg.name);
  process.kill(second.pid, 'SIGKILL');
  await second.exited;
  const r = await within(rw.readLock({ timeoutMs: 5000 }), 4000, 'the reader after the holder died');
  assert.equal(r.ownerDied, true);
  assert.equal(r.previousOwner?.pid, second.pid);
  assert.equal(rw.readers, 1);
  assert.equal(rw.writeLocked, false);
  rw.readUnlock();

  // 3. The blocking forms recover the same way.
  const third = await holdWriteLock(cleanup, seg.name);
  process.kill(third.pid, 'SIGKILL');
  await third.exited;
  const ws = rw.writeLockSync(3000);
  assert.equal(ws.ownerDied, true);
  assert.equal(ws.previousOwner?.pid, third.pid);
  rw.writeUnlock();
  assert.equal(rw.readLockSync(1000).ownerDied, false);
  rw.readUnlock();
});

test('RWLock: a live writer in another process is not mistaken for a dead one', async (t) => {
  if (!needsShm(t)) return;
  const cleanup = new Cleanup(t);
  const seg = SharedSegment.create(uniqueName('rw-alive'), { size: 4096 });
  cleanup.defer(() => seg.close());
  const rw = RWLock.create(seg.buffer, seg.dataOffset, { wake: 'futex', sleepSliceMs: 20 });
  await holdWriteLock(cleanup, seg.name);
  await assert.rejects(rw.readLock({ timeoutMs: 300 }), { code: ErrorCode.TIMEOUT });
  await assert.rejects(rw.writeLock({ timeoutMs: 300 }), { code: ErrorCode.TIMEOUT });
  assert.equal(rw.writeLocked, true);
});

test('RWLock with reader slots: read locks of SIGKILLed readers are released for a waiting writer', async (t) => {
  if (!needsShm(t)) return;
  const cleanup = new Cleanup(t);
  const seg = SharedSegment.create(uniqueName('rw-readers'), { size: 4096 });
  cleanup.defer(() => seg.close());
  const rw = RWLock.create(seg.buffer, seg.dataOffset, { readers: 4, wake: 'futex', sleepSliceMs: 50 });
  assert.equal(rw.robustReaders, true);
  const readers = await Promise.all([0, 1].map(() => startHolder(cleanup, 'rwlock-hold.js', [seg.name, 'read'])));
  assert.equal(rw.readers, 2);
  const writing = rw.writeLock({ timeoutMs: 10_000 });

  // One reader dies: the other still holds its read lock, so the writer keeps waiting.
  process.kill(readers[0]!.pid, 'SIGKILL');
  await readers[0]!.exited;
  await waitFor(() => rw.readers === 1, 6000, 'the dead reader released by the waiting writer');
  await delay(200); // a few more sleep slices of the writer
  assert.equal(rw.writeLocked, false, 'a live reader still holds the lock');
  assert.equal(rw.readers, 1);

  process.kill(readers[1]!.pid, 'SIGKILL');
  await readers[1]!.exited;
  const w = await within(writing, 6000, 'the writer after both readers died');
  assert.equal(w.ownerDied, true);
  assert.equal(w.previousOwner?.pid, readers[1]!.pid);
  assert.equal(rw.readers, 0);
  rw.writeUnlock();

  // This thread's own read locks are tracked too: only a holder may release one.
  assert.equal((await rw.readLock({ timeoutMs: 1000 })).ownerDied, false);
  rw.readUnlock();
  assert.throws(() => rw.readUnlock(), { code: ErrorCode.INVALID_ARGUMENT });
  assert.throws(() => RWLock.create(new SharedArrayBuffer(RWLock.bytesFor(1)), 0, { readers: 2 }), { code: ErrorCode.INVALID_ARGUMENT });
});
