/**
 * Barrier in robust mode (`members: n`): a member process SIGKILLed before arriving
 * breaks the barrier — the waiter fails with `PLEXUS_ERR_OWNER_DIED` instead of waiting
 * for it — and `reset()` makes it usable again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/errors/index.js';
import { Barrier, SharedSegment } from '../../src/local/index.js';
import { Cleanup, needsShm, startHolder, uniqueName, within } from './helpers.js';

test('Barrier (robust): a member SIGKILLed before arriving breaks it; reset() repairs it', async (t) => {
  if (!needsShm(t)) return;
  const cleanup = new Cleanup(t);
  const seg = SharedSegment.create(uniqueName('barrier-died'), { size: 4096 });
  cleanup.defer(() => seg.close());
  const barrier = Barrier.create(seg.buffer, seg.dataOffset, { parties: 2, members: 4, wake: 'futex', sleepSliceMs: 50 });
  assert.equal(barrier.robust, true);

  const member = await startHolder(cleanup, 'barrier-member.js', [seg.name]);
  const waiting = barrier.wait({ timeoutMs: 10_000 });
  process.kill(member.pid, 'SIGKILL');
  await member.exited;
  await within(
    assert.rejects(waiting, (err: { code?: string; details?: { pid?: number } }) => err.code === ErrorCode.OWNER_DIED && err.details?.pid === member.pid),
    6000,
    'the waiter noticing the dead member',
  );
  assert.equal(barrier.brokenBy, member.pid);
  await assert.rejects(barrier.wait({ timeoutMs: 1000 }), { code: ErrorCode.OWNER_DIED }, 'a broken barrier stays broken');

  barrier.reset();
  assert.equal(barrier.brokenBy, 0);
  await startHolder(cleanup, 'barrier-member.js', [seg.name, 'wait']);
  const r = await within(barrier.wait({ timeoutMs: 10_000 }), 8000, 'the barrier after reset');
  assert.equal(typeof r.serial, 'boolean');
  assert.equal(barrier.brokenBy, 0, 'a live member does not break it');
});

test('Barrier: members is validated and needs room in the buffer', () => {
  const buf = new SharedArrayBuffer(Barrier.bytesFor(1));
  assert.throws(() => Barrier.create(buf, 0, { parties: 2, members: 2 }), { code: ErrorCode.INVALID_ARGUMENT });
  assert.throws(() => Barrier.create(buf, 0, { parties: 2, members: 1.5 }), { code: ErrorCode.INVALID_ARGUMENT });
  const b = Barrier.create(buf, 0, { parties: 2, members: 1 });
  b.join();
  b.join(); // once per thread
  assert.equal(Barrier.attach(buf, 0).robust, true);
  b.leave();
  assert.equal(Barrier.create(new SharedArrayBuffer(64), 0, { parties: 2 }).robust, false);
});
