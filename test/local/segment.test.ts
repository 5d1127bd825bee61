/**
 * Shared segments between processes: created here, opened in a child (and the other way
 * round), each side sees the other's writes, Atomics.add from two processes loses no
 * update, a futex wait in one process is woken from the other (and times out when not),
 * mode 0600, unlink on close, a crashed creator is detected, rings cross processes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { loadShm, MpscRing, SEGMENT_HEADER_BYTES, SharedSegment, SpscRing, futexWaiter, ringByteLength } from '../../src/local/index.js';
import { Cleanup, delay, forkChild, needsShm, runWorker, uniqueName, within } from './helpers.js';
import { isRecord } from './fixtures/records.js';

const shmPath = (name: string): string => `/dev/shm/${name}`;

function createSegment(cleanup: Cleanup, tag: string, size = 64 * 1024): SharedSegment {
  const name = uniqueName(tag);
  const seg = SharedSegment.create(name, { size });
  cleanup.defer(() => {
    seg.close();
    SharedSegment.unlink(name);
  });
  return seg;
}

void describe('shared segments: one process', () => {
  void it('creates a 0600 segment with a header, opens it again, unlinks it on close', (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'basic', 10_000);
    assert.ok(seg.buffer instanceof SharedArrayBuffer);
    assert.equal(seg.isOwner, true);
    assert.equal(seg.slot, 0);
    assert.equal(seg.dataOffset, SEGMENT_HEADER_BYTES);
    assert.equal(seg.buffer.byteLength % 4096, 0, 'whole pages');
    assert.ok(seg.dataSize >= 10_000);
    assert.equal(statSync(shmPath(seg.name)).mode & 0o777, 0o600);

    const other = SharedSegment.open(seg.name);
    cleanup.defer(() => other.close());
    assert.equal(other.isOwner, false);
    assert.equal(other.slot, 1);
    assert.notEqual(other.buffer, seg.buffer, 'a second mapping');
    other.data[5] = 42;
    assert.equal(seg.data[5], 42, 'both mappings are the same memory');
    assert.deepEqual(
      seg.peers().map((p) => [p.slot, p.pid, p.owner, p.alive]),
      [
        [0, process.pid, true, true],
        [1, process.pid, false, true],
      ],
    );
    seg.checkPeers();

    other.close();
    assert.equal(seg.peers().length, 1, 'closing frees the slot');
    seg.close();
    assert.equal(existsSync(shmPath(seg.name)), false, 'the creator unlinks on close');
    assert.throws(() => SharedSegment.open(seg.name), (e: PlexusError) => e.code === ErrorCode.SHM_FAILED && (e.details as { code: string }).code === 'ENOENT');
    seg.close(); // idempotent
  });

  void it('validates names and sizes, refuses taken names, foreign modes and foreign data', (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    for (const bad of ['', '../x', 'a/b', '.hidden', '-x', 'x'.repeat(201), 'sp ace']) {
      assert.throws(() => SharedSegment.create(bad, { size: 10 }), { code: ErrorCode.INVALID_ARGUMENT }, bad);
    }
    for (const size of [0, -1, 1.5, 2 ** 30 + 1, NaN]) {
      assert.throws(() => SharedSegment.create(uniqueName('size'), { size }), { code: ErrorCode.INVALID_ARGUMENT }, String(size));
    }
    const seg = createSegment(cleanup, 'taken', 100);
    assert.throws(
      () => SharedSegment.create(seg.name, { size: 100 }),
      (e: PlexusError) => e.code === ErrorCode.SHM_FAILED && (e.details as { code: string }).code === 'EEXIST',
    );
    assert.throws(() => SharedSegment.open(uniqueName('absent')), { code: ErrorCode.SHM_FAILED });

    // Someone widened the mode: refuse to trust it.
    chmodSync(shmPath(seg.name), 0o644);
    assert.throws(() => SharedSegment.open(seg.name), (e: PlexusError) => e.code === ErrorCode.SHM_FAILED && /mode 644/.test(e.message));
    chmodSync(shmPath(seg.name), 0o600);

    // A segment that is not Plexus's: refused as incompatible.
    const addon = loadShm();
    const foreign = uniqueName('foreign');
    const raw = addon.create(foreign, 8192);
    cleanup.defer(() => addon.unlink(foreign));
    new Int32Array(raw)[0] = 0x12345678;
    assert.throws(() => SharedSegment.open(foreign), { code: ErrorCode.SHM_INCOMPATIBLE });
    // Created but never set up (magic and state still 0): "still being set up", retryable.
    const blank = uniqueName('blank');
    addon.create(blank, 8192);
    cleanup.defer(() => addon.unlink(blank));
    assert.throws(() => SharedSegment.open(blank), (e: PlexusError) => (e.details as { code: string }).code === 'EAGAIN');
  });

  void it('judges a peer in another pid namespace by its heartbeat', (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'pidns');
    const other = SharedSegment.open(seg.name, { heartbeatMs: 1000 });
    cleanup.defer(() => other.close());
    // Make slot 1 look like a process of another pid namespace (header layout: slots of
    // 32 bytes from byte 32; +0 pid, +4 pid-namespace inode, +16 heartbeat ms).
    const slot = 32 + other.slot * 32;
    const h = new Int32Array(seg.buffer);
    h[(slot + 4) / 4] = 12345;
    h[slot / 4] = 1; // a pid that means nothing here
    const beat = new BigInt64Array(seg.buffer, slot + 16, 1);
    Atomics.store(beat, 0, BigInt(Date.now()));
    seg.checkPeers(); // fresh heartbeat: alive
    Atomics.store(beat, 0, BigInt(Date.now() - 60_000));
    assert.throws(() => seg.checkPeers(), { code: ErrorCode.PEER_DIED });
    h[slot / 4] = process.pid; // let close() free the slot
  });

  void it('a segment buffer posted to a worker is the same memory there', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'worker');
    const w = runWorker(cleanup, { role: 'segment-view', buffer: seg.buffer, offset: seg.dataOffset + 8 });
    for (let i = 0; i < 1000; i++) Atomics.add(new Int32Array(seg.buffer), (seg.dataOffset + 8) / 4, 1);
    await w.result;
    assert.equal(Atomics.load(new Int32Array(seg.buffer), (seg.dataOffset + 8) / 4), 2000);
  });
});

void describe('shared segments: two processes', () => {
  void it('a child opens our segment; both see each other\'s writes; no lost Atomics.add updates', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'xproc');
    const i32 = new Int32Array(seg.buffer, seg.dataOffset);
    const child = forkChild(cleanup, ['peer', seg.name]);
    const ready = await child.message((m) => m.type === 'ready');
    assert.equal(ready.slot, 1);
    assert.ok(seg.peers().some((p) => p.pid === child.pid && p.alive));

    Atomics.store(i32, 0, 1234);
    assert.equal((await child.request({ cmd: 'load', offset: 0 })).value, 1234);
    await child.request({ cmd: 'store', offset: 4, value: -77 });
    assert.equal(Atomics.load(i32, 1), -77);

    // 2 processes × 1e6 increments of the same word.
    const n = 1_000_000;
    const theirs = child.request({ cmd: 'add', offset: 8, count: n }, 30_000);
    for (let i = 0; i < n; i++) Atomics.add(i32, 2, 1);
    await theirs;
    assert.equal(Atomics.load(i32, 2), 2 * n);

    await child.request({ cmd: 'close' });
    await within(child.exited, 5000, 'child exit');
    assert.equal(seg.peers().length, 1, 'the child detached');
    seg.checkPeers();
  });

  void it('a segment created in a child is opened here', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const name = uniqueName('childowned');
    cleanup.defer(() => SharedSegment.unlink(name));
    const child = forkChild(cleanup, ['owner', name, '8192']);
    // Opening may start before the child has created it.
    const seg = await SharedSegment.openAsync(name, { timeoutMs: 10_000 });
    cleanup.defer(() => seg.close());
    await child.message((m) => m.type === 'ready');
    assert.equal(seg.isOwner, false);
    await child.request({ cmd: 'store', offset: 0, value: 99 });
    assert.equal(Atomics.load(new Int32Array(seg.buffer, seg.dataOffset), 0), 99);
    await child.request({ cmd: 'close' });
    await within(child.exited, 5000, 'child exit');
    assert.equal(seg.ownerClosed, true);
    assert.equal(existsSync(shmPath(name)), false, 'the creator unlinked it on close');
    seg.checkPeers(); // closed cleanly is not "died"
  });

  void it('futex: a wait in one process is woken from the other, and times out when not woken', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'futex');
    const i32 = new Int32Array(seg.buffer, seg.dataOffset);
    const waiter = futexWaiter();
    const child = forkChild(cleanup, ['peer', seg.name]);
    await child.message((m) => m.type === 'ready');

    // Child blocks (its main thread) in FUTEX_WAIT; we wake it (until the kernel reports
    // a waiter woken: the child may not be inside the wait yet when we first try).
    const { reply } = await child.requestLater({ cmd: 'futexWait', offset: 16, expected: 0, timeoutMs: 10_000 });
    let woken = 0;
    for (let i = 0; i < 200 && woken === 0; i++) {
      woken = waiter.wake(i32, 4);
      if (woken === 0) await delay(5);
    }
    assert.equal(woken, 1);
    const r = await reply;
    assert.equal(r.result, 'ok');
    assert.ok((r.ms as number) < 5000);

    // We wait asynchronously; the child wakes us.
    const ours = waiter.waitAsync(i32, 5, 0, 10_000);
    let theirWakes = 0;
    for (let i = 0; i < 300 && theirWakes === 0; i++) {
      await delay(5);
      theirWakes = (await child.request({ cmd: 'wake', offset: 20 })).woken as number;
    }
    assert.equal(theirWakes, 1);
    assert.equal(await within(ours, 5000, 'our wait'), 'ok');

    // Nobody wakes: both forms time out on time.
    const t0 = performance.now();
    assert.equal(await waiter.waitAsync(i32, 6, 0, 80), 'timed-out');
    assert.ok(performance.now() - t0 >= 75);
    const theirs = await child.request({ cmd: 'futexWait', offset: 24, expected: 0, timeoutMs: 80 });
    assert.equal(theirs.result, 'timed-out');
    assert.ok((theirs.ms as number) >= 75);
  });

  void it('Atomics.waitAsync in another process is NOT woken by a futex wake (documented limit)', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'atomicswait');
    const i32 = new Int32Array(seg.buffer, seg.dataOffset);
    const child = forkChild(cleanup, ['peer', seg.name]);
    await child.message((m) => m.type === 'ready');
    const { reply } = await child.requestLater({ cmd: 'atomicsWaitAsync', offset: 32, expected: 0, timeoutMs: 300 });
    await delay(30);
    Atomics.store(i32, 8, 1);
    Atomics.notify(i32, 8); // V8's waiter list is per process: reaches nobody there
    futexWaiter().wake(i32, 8); // and V8 does not sleep in a futex: reaches nobody either
    const r = await reply;
    assert.equal(r.result, 'timed-out', 'V8 keeps its waiters inside the process');
    assert.ok((r.ms as number) >= 250);
  });

  void it('a crashed creator is detected (PEER_DIED), a stale name is reclaimed', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const name = uniqueName('crash');
    cleanup.defer(() => SharedSegment.unlink(name));
    const child = forkChild(cleanup, ['owner', name, '8192']);
    await child.message((m) => m.type === 'ready');
    const seg = SharedSegment.open(name);
    cleanup.defer(() => seg.close());
    seg.checkPeers();
    assert.deepEqual(
      (await child.request({ cmd: 'checkPeers' })).ok,
      true,
      'the creator sees us alive too',
    );
    await child.kill(); // SIGKILL: no cleanup, no unlink
    assert.equal(existsSync(shmPath(name)), true, 'a crash leaves the name behind');
    assert.throws(
      () => seg.checkPeers(),
      (e: PlexusError) => e.code === ErrorCode.PEER_DIED && (e.details as { pid: number }).pid === child.pid && (e.details as { owner: boolean }).owner,
    );
    assert.equal(seg.peers().find((p) => p.owner)?.alive, false);
    // Creating the name again fails unless stale names may be reclaimed.
    assert.throws(() => SharedSegment.create(name, { size: 100 }), { code: ErrorCode.SHM_FAILED });
    const fresh = SharedSegment.create(name, { size: 100, reclaimStale: true });
    cleanup.defer(() => fresh.close());
    assert.equal(fresh.isOwner, true);
    assert.notEqual(fresh.buffer.byteLength, 0);
  });

  void it('MPSC ring across processes: 2 producer processes, every record exactly once, per-producer order kept', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const capacity = 8 * 1024;
    const seg = createSegment(cleanup, 'mpsc', ringByteLength(capacity));
    const ring = MpscRing.create(seg.buffer, { byteOffset: seg.dataOffset, capacity, wake: 'futex', sleepSliceMs: 50, checkPeer: () => seg.checkPeers() });
    const count = 10_000;
    const seed = 99;
    const producers = [0, 1].map((p) => forkChild(cleanup, ['mpsc-producer', seg.name, String(p), String(count), String(seed)]));
    const next = [0, 0];
    const bad: string[] = [];
    let total = 0;
    while (total < 2 * count && bad.length === 0) {
      await ring.waitReadable({ timeoutMs: 20_000 });
      total += ring.poll((view, tag) => {
        const p = tag >>> 24;
        const i = tag & 0xffffff;
        if (p > 1 || i !== next[p]) bad.push(`producer ${p}: expected ${next[p]}, got ${i}`);
        else if (!isRecord(seed + p, i, view, ring.maxRecordBytes)) bad.push(`producer ${p} record ${i}: wrong bytes`);
        if (p <= 1) next[p] = i + 1;
      });
    }
    assert.deepEqual(bad, []);
    assert.deepEqual(next, [count, count]);
    await Promise.all(producers.map((c) => within(c.exited, 5000, 'producer exit')));
    assert.equal(ring.tryRead(), undefined, 'nothing extra');
  });

  void it('SPSC ring across processes: every record arrives in order; a crashed writer gives PEER_DIED, not a hang', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const capacity = 16 * 1024;
    const seg = createSegment(cleanup, 'ring', ringByteLength(capacity));
    const ring = SpscRing.create(seg.buffer, { byteOffset: seg.dataOffset, capacity, wake: 'futex', sleepSliceMs: 50, checkPeer: () => seg.checkPeers() });
    assert.equal(ring.layout.wake, 'futex');
    const count = 30_000;
    const seed = 77;
    const child = forkChild(cleanup, ['ring-producer', seg.name, String(count), String(seed)]);
    let i = 0;
    for (;;) {
      const r = await ring.read({ timeoutMs: 20_000 });
      if (r === null) break;
      assert.equal(ring.lastTag, i);
      assert.ok(isRecord(seed, i, r, ring.maxRecordBytes), `record ${i}`);
      i++;
    }
    assert.equal(i, count);
    await child.message((m) => m.type === 'done');
    await within(child.exited, 5000, 'producer exit');

    // Second round: the producer SIGKILLs itself part-way; the reader must not hang.
    const seg2 = createSegment(cleanup, 'ringcrash', ringByteLength(capacity));
    const ring2 = SpscRing.create(seg2.buffer, { byteOffset: seg2.dataOffset, capacity, wake: 'futex', sleepSliceMs: 50, checkPeer: () => seg2.checkPeers() });
    const dying = forkChild(cleanup, ['ring-producer', seg2.name, String(count), String(seed), '500']);
    let got = 0;
    const err = await within(
      (async () => {
        try {
          for (;;) {
            const r = await ring2.read({ timeoutMs: 20_000 });
            if (r === null) return undefined;
            got++;
          }
        } catch (e) {
          return e;
        }
      })(),
      10_000,
      'reader after the writer crashed',
    );
    assert.equal(got, 500);
    assert.equal((err as PlexusError).code, ErrorCode.PEER_DIED);
    await within(dying.exited, 5000, 'crashed producer');
  });
});
