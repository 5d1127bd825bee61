import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { nodeStoreFs, openLog, type Log, type StoreFs } from '../../src/store/index.js';
import { SEGMENT_HEADER_BYTES } from '../../src/store/format.js';
import { rejection, rejectionCode, waitFor, within } from '../helpers/wait.js';
import { faultyFs, open, payloadFor, tempDir } from './helpers.js';

void describe('durability: group commit', () => {
  void it('1000 concurrent appends need far fewer fsyncs than appends', async (t) => {
    const log = await open(t, await tempDir(t));
    const acks = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append({ subject: 'g', payload: payloadFor(i, 256) })));
    assert.deepEqual(
      acks.map((a) => a.seq),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    const s = log.stats();
    assert.equal(s.appends, 1000);
    assert.ok(s.fsyncs >= 1 && s.fsyncs <= 10, `fsyncs: ${s.fsyncs}`);
    assert.equal(s.bytes, 1000 * (32 + 1 + 256));
  });

  void it('appenders that each wait for their ack share fsyncs (arrivals during an fsync join the next)', async (t) => {
    const log = await open(t, await tempDir(t));
    const appenders = 50;
    const each = 20;
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        for (let i = 0; i < each; i++) await log.append({ subject: `a.${a}`, payload: payloadFor(i, 100) });
      }),
    );
    const s = log.stats();
    assert.equal(s.appends, appenders * each);
    assert.ok(s.fsyncs * 5 <= s.appends, `fsyncs ${s.fsyncs} for ${s.appends} appends`);
    assert.equal(s.fsyncs, s.batches);
  });

  void it("fsync 'always': an append resolves only after an fsync that covers its bytes completed", async (t) => {
    const dir = await tempDir(t);
    let durable = 0; // File size covered by the last completed fdatasync.
    const fs: StoreFs = {
      ...nodeStoreFs,
      async fdatasync(fd) {
        const size = await nodeStoreFs.fsize(fd);
        await new Promise((r) => setTimeout(r, 3));
        await nodeStoreFs.fdatasync(fd);
        durable = Math.max(durable, size);
      },
    };
    const log = await open(t, dir, { fs });
    const size = 32 + 1 + 64;
    const checks = Array.from({ length: 200 }, (_, i) =>
      log.append({ subject: 'd', payload: payloadFor(i, 64) }).then(({ seq }) => {
        assert.ok(SEGMENT_HEADER_BYTES + seq * size <= durable, `seq ${seq} acknowledged before its fsync`);
      }),
    );
    await Promise.all(checks);
  });

  void it('interval mode acknowledges after the write and fsyncs within the interval', async (t) => {
    const log = await open(t, await tempDir(t), { fsync: { intervalMs: 30 } });
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ subject: 'i', payload: payloadFor(i, 32) })));
    assert.equal(log.stats().fsyncs, 0, 'acknowledged before any fsync');
    assert.equal((await log.read(100))!.seq, 100, 'visible once acknowledged');
    await waitFor(() => log.stats().fsyncs >= 1, 2000, 'interval fsync');
    await log.append({ subject: 'i' });
    const before = log.stats().fsyncs;
    await log.sync();
    assert.equal(log.stats().fsyncs, before + 1);
  });

  void it('interval mode: a failed background fsync is reported by the next sync()', async (t) => {
    const { fs, faults } = faultyFs();
    const log = await open(t, await tempDir(t), { fsync: { intervalMs: 20 }, fs });
    faults.failSyncs = 1;
    await log.append({ subject: 'x' });
    await waitFor(() => log.stats().fsyncFailures === 1, 2000, 'failed interval fsync');
    const err = await rejection(log.sync(), 2000);
    assert.equal((err as PlexusError).code, ErrorCode.STORE_WRITE_FAILED);
    assert.equal(((err as PlexusError).details as { code: string }).code, 'EIO');
    await log.sync(); // reported once
  });
});

/** Every segment file's size adds up to the headers plus the records that were acknowledged. */
async function assertNoGarbage(dir: string, log: Log, ackedBytes: number): Promise<void> {
  const segs = (await readdir(dir)).filter((f) => f.endsWith('.log'));
  let total = 0;
  for (const s of segs) total += (await stat(join(dir, s))).size;
  assert.equal(total, segs.length * SEGMENT_HEADER_BYTES + ackedBytes, 'segment files hold exactly the acknowledged records');
  assert.equal(log.stats().storedBytes, ackedBytes);
}

async function fillUntilFull(log: Log, recordBytes: number, cap: number): Promise<{ acked: Map<number, number>; failure: unknown; ackedBytes: number }> {
  const acked = new Map<number, number>();
  let ackedBytes = 0;
  for (let i = 0; i < cap; i++) {
    // Eight at a time, so failures hit whole batches as well as single appends.
    const round = await Promise.allSettled(
      Array.from({ length: 8 }, (_, k) => {
        const n = i * 8 + k;
        return log.append({ subject: 'f', payload: payloadFor(n, recordBytes) }).then((r) => ({ ...r, n }));
      }),
    );
    for (const r of round) {
      if (r.status === 'fulfilled') {
        acked.set(r.value.seq, r.value.n);
        ackedBytes += 32 + 1 + recordBytes;
      }
    }
    const failed = round.find((r) => r.status === 'rejected');
    if (failed !== undefined) return { acked, failure: (failed as PromiseRejectedResult).reason, ackedBytes };
  }
  throw new Error('the disk never filled up');
}

async function assertAcked(log: Log, acked: Map<number, number>, recordBytes: number): Promise<void> {
  for (const [seq, n] of acked) {
    const r = await log.read(seq);
    assert.ok(r !== undefined && Buffer.from(r.payload).equals(payloadFor(n, recordBytes)), `acknowledged seq ${seq} intact`);
  }
}

function assertWriteFailed(err: unknown, errno: string): void {
  assert.ok(err instanceof PlexusError, String(err));
  assert.equal(err.code, ErrorCode.STORE_WRITE_FAILED);
  assert.equal((err.details as { code: string }).code, errno);
}

/** Mount a 1 MiB tmpfs (needs root); returns undefined when this machine does not allow it. */
async function smallFs(t: TestContext): Promise<string | undefined> {
  const mnt = await mkdtemp(join(tmpdir(), 'plexus-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { timeout: 5000, encoding: 'utf8' });
  if (r.status !== 0) {
    await rmdir(mnt);
    return undefined;
  }
  t.after(async () => {
    // Lazy: after hooks run in registration order, so logs opened later may still be open.
    spawnSync('umount', ['-l', mnt], { timeout: 5000 });
    await rm(mnt, { recursive: true, force: true });
  });
  return mnt;
}

void describe('durability: disk full', () => {
  void it('on a real 1 MiB tmpfs: ENOSPC rejects, nothing acknowledged is lost, appends resume when space returns', async (t) => {
    const mnt = await smallFs(t);
    if (mnt === undefined) {
      t.skip('mounting a tmpfs is not permitted here; the injected-fault test below covers ENOSPC');
      return;
    }
    const filler = join(mnt, 'filler');
    await writeFile(filler, Buffer.alloc(192 * 1024, 1));
    const dir = join(mnt, 'log');
    const opts = { segmentBytes: 160 * 1024 };
    const log = await openLog(dir, opts);
    let closed = false;
    t.after(() => (closed ? undefined : log.close().catch(() => undefined)));
    const { acked, failure, ackedBytes } = await fillUntilFull(log, 3000, 1000);
    assertWriteFailed(failure, 'ENOSPC');
    assert.ok(acked.size > 100, `acked ${acked.size}`);
    assert.equal(log.lastSeq, Math.max(...acked.keys()));
    assertWriteFailed(await rejection(log.append({ subject: 'f', payload: payloadFor(0, 200_000) }), 5000), 'ENOSPC');
    await assertAcked(log, acked, 3000);
    await assertNoGarbage(dir, log, ackedBytes);

    await unlink(filler);
    const more = await Promise.all(Array.from({ length: 20 }, (_, k) => log.append({ subject: 'f', payload: payloadFor(100_000 + k, 3000) })));
    more.forEach((r, k) => acked.set(r.seq, 100_000 + k));
    assert.equal(more[0]!.seq, Math.max(...acked.keys()) - 19);
    await log.close();
    closed = true;

    const again = await open(t, dir, opts);
    assert.equal(again.recovery.truncatedBytes, 0);
    assert.deepEqual(again.recovery.corruptRanges, []);
    await assertAcked(again, acked, 3000);
  });

  void it('with an injected full disk (short write, then ENOSPC) the partial batch is truncated away', async (t) => {
    const { fs, faults } = faultyFs();
    const dir = await tempDir(t);
    const log = await open(t, dir, { fs, segmentBytes: 64 * 1024 });
    faults.space = 100_000;
    const { acked, failure, ackedBytes } = await fillUntilFull(log, 1000, 1000);
    assertWriteFailed(failure, 'ENOSPC');
    await assertAcked(log, acked, 1000);
    await assertNoGarbage(dir, log, ackedBytes);
    faults.space = Infinity;
    const r = await log.append({ subject: 'f', payload: payloadFor(7, 1000) });
    assert.equal(r.seq, log.lastSeq);
    assert.equal(r.seq, Math.max(...acked.keys()) + 1);
  });

  void it('a failed fsync rejects the batch, keeps it from being served, and the sequence is reused', async (t) => {
    const { fs, faults } = faultyFs();
    const dir = await tempDir(t);
    const log = await open(t, dir, { fs });
    await log.append({ subject: 'ok' });
    faults.failSyncs = 1;
    const failed = await Promise.allSettled([log.append({ subject: 'lost1' }), log.append({ subject: 'lost2' })]);
    for (const f of failed) assertWriteFailed((f as PromiseRejectedResult).reason, 'EIO');
    assert.equal(log.lastSeq, 1);
    assert.equal(await log.read(2), undefined);
    const r = await log.append({ subject: 'next' });
    assert.equal(r.seq, 2);
    assert.equal((await log.read(2))!.subject, 'next');
    assert.equal(log.stats().writeFailures, 1);
  });

  void it('a segment that cannot be created fails the append; the log keeps going afterwards', async (t) => {
    const { fs, faults } = faultyFs();
    const log = await open(t, await tempDir(t), { fs, segmentBytes: 1024 });
    for (let i = 0; i < 5; i++) await log.append({ subject: 's', payload: payloadFor(i, 150) });
    faults.failCreate = true;
    assertWriteFailed(await rejection(log.append({ subject: 's', payload: payloadFor(5, 900) }), 2000), 'ENOSPC');
    assert.equal(log.stats().segments, 1);
    faults.failCreate = false;
    const r = await log.append({ subject: 's', payload: payloadFor(5, 900) });
    assert.equal(r.seq, 6);
    assert.equal(log.stats().segments, 2);
    assert.ok(Buffer.from((await log.read(6))!.payload).equals(payloadFor(5, 900)));
  });

  void it('close waits for in-flight fsyncs', async (t) => {
    let inFlight = 0;
    const fs: StoreFs = {
      ...nodeStoreFs,
      async fdatasync(fd) {
        inFlight++;
        await new Promise((r) => setTimeout(r, 50));
        await nodeStoreFs.fdatasync(fd);
        inFlight--;
      },
    };
    const log = await openLog(await tempDir(t), { fs });
    const p = log.append({ subject: 'slow' });
    await new Promise((r) => setTimeout(r, 10));
    await within(log.close(), 3000, 'close');
    assert.equal(inFlight, 0);
    assert.equal((await p).seq, 1);
    assert.equal(await rejectionCode(log.append({ subject: 'x' }), 1000), ErrorCode.STORE_CLOSED);
  });
});
