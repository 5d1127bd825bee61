import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../../src/errors/index.js';
import { nodeStoreFs, openLog, type Log, type StoreFs } from '../../src/store/index.js';
import { SEGMENT_HEADER_BYTES } from '../../src/store/format.js';
import { rejectionCode } from '../helpers/wait.js';
import { open, payloadFor, tempDir } from './helpers.js';

const SMALL = { segmentBytes: 2048, indexIntervalBytes: 256 };

async function fill(log: Log, n: number, len = 40): Promise<void> {
  for (let i = 0; i < n; i++) await log.append({ subject: `k.${i % 10}`, payload: payloadFor(log.lastSeq + 1, len) });
}

async function segmentCount(dir: string): Promise<number> {
  return (await readdir(dir)).filter((f) => f.endsWith('.log')).length;
}

void describe('retention: truncateBefore', () => {
  void it('moves firstSeq, deletes whole segments below it, and persists across reopen', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, SMALL);
    await fill(log, 200);
    const segsBefore = await segmentCount(dir);
    const res = await log.truncateBefore(120);
    assert.equal(res.firstSeq, 120);
    assert.ok(res.removedSegments > 0);
    assert.equal(await segmentCount(dir), segsBefore - res.removedSegments);
    assert.equal(log.firstSeq, 120);
    assert.equal(await log.read(119), undefined);
    assert.equal(await log.read(1), undefined);
    assert.equal((await log.read(120))!.seq, 120);
    assert.equal((await log.readRange(1, { maxRecords: 1 }))[0]!.seq, 120);
    assert.equal(log.stats().records, 81);
    // Never moves backwards.
    await log.truncateBefore(50);
    assert.equal(log.firstSeq, 120);
    await log.close();

    const again = await open(t, dir, SMALL);
    assert.equal(again.firstSeq, 120);
    assert.equal(await again.read(119), undefined);
    assert.equal(again.stats().records, 81);
  });

  void it('truncating everything keeps the sequence going', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, SMALL);
    await fill(log, 100);
    const res = await log.truncateBefore(1_000_000);
    assert.equal(res.firstSeq, 101, 'clamped to lastSeq + 1');
    assert.equal(log.lastSeq, 100);
    assert.equal(log.stats().records, 0);
    assert.equal(await segmentCount(dir), 1, 'only the new active segment is left');
    assert.deepEqual(await log.readRange(1), []);
    assert.equal((await log.append({ subject: 'next' })).seq, 101);
    await log.close();
    const again = await open(t, dir, SMALL);
    assert.equal(again.firstSeq, 101);
    assert.equal(again.lastSeq, 101);
    assert.equal((await again.read(101))!.subject, 'next');
  });

  void it('truncating everything of an empty-after-reopen log does not reuse sequences', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, SMALL);
    await fill(log, 5);
    await log.truncateBefore(6);
    await log.close();
    const again = await open(t, dir, SMALL);
    assert.equal(again.lastSeq, 5);
    assert.equal((await again.append({ subject: 'x' })).seq, 6);
  });
});

void describe('retention: limits', () => {
  void it('maxMessages keeps exactly the newest N records', async (t) => {
    const dir = await tempDir(t);
    const log = await open(t, dir, { ...SMALL, maxMessages: 50, retentionIntervalMs: 0 });
    await fill(log, 300);
    await log.enforceRetention();
    assert.equal(log.firstSeq, 251);
    assert.equal(log.stats().records, 50);
    assert.equal(await log.read(250), undefined);
    assert.equal((await log.read(251))!.seq, 251);
    assert.ok((await segmentCount(dir)) <= 4, 'old segments deleted');
  });

  void it('maxMessages is enforced after appends without being asked', async (t) => {
    const log = await open(t, await tempDir(t), { ...SMALL, maxMessages: 10, retentionIntervalMs: 0 });
    await fill(log, 100);
    await log.sync(); // lets a queued retention pass run
    assert.equal(log.stats().records, 10);
    assert.equal(log.firstSeq, 91);
  });

  void it('maxBytes keeps the newest records that fit, exactly', async (t) => {
    const log = await open(t, await tempDir(t), { ...SMALL, maxBytes: 1000, retentionIntervalMs: 0 });
    await fill(log, 200, 40); // 32 + 3 + 40 = 75 bytes each
    await log.enforceRetention();
    const s = log.stats();
    assert.equal(s.records, Math.floor(1000 / 75));
    assert.equal(s.storedBytes, s.records * 75);
    assert.equal(log.firstSeq, 200 - s.records + 1);
  });

  void it('maxAgeMs drops records older than the limit (timer driven)', async (t) => {
    const log = await open(t, await tempDir(t), { ...SMALL, maxAgeMs: 150, retentionIntervalMs: 20 });
    await fill(log, 30);
    await new Promise((r) => setTimeout(r, 200));
    await fill(log, 5);
    const deadline = Date.now() + 2000;
    while (log.firstSeq !== 31 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(log.firstSeq, 31);
    assert.equal(log.stats().records, 5);
  });

  void it('limits are applied again on open', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, SMALL);
    await fill(log, 100);
    await log.close();
    const again = await open(t, dir, { ...SMALL, maxMessages: 7 });
    assert.equal(again.firstSeq, 94);
    assert.equal(again.stats().records, 7);
  });
});

/** Slow reads, so compaction takes long enough to watch appends go on meanwhile. */
function slowReads(ms: number): StoreFs {
  return {
    ...nodeStoreFs,
    async read(fd, buffer, offset, length, position) {
      await new Promise((r) => setTimeout(r, ms));
      return nodeStoreFs.read(fd, buffer, offset, length, position);
    },
  };
}

void describe('retention: compaction', () => {
  void it('keeps the last value per subject in sealed segments; appends continue meanwhile', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, { ...SMALL, fs: slowReads(2) });
    let closed = false;
    t.after(() => (closed ? undefined : log.close()));
    for (let i = 1; i <= 400; i++) await log.append({ subject: `key.${i % 20}`, payload: payloadFor(i, 40) });
    const diskBefore = log.stats().storedBytes;
    // Last value per subject, as a KV layer would compute it.
    const latest = new Map<string, number>();
    for (const r of await log.readRange(1)) latest.set(r.subject, r.seq);

    let compacting = true;
    const compaction = log.compact((r) => latest.get(r.subject) === r.seq).finally(() => (compacting = false));
    const during: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { seq } = await log.append({ subject: 'during', payload: payloadFor(1000 + i, 10) });
      if (compacting) during.push(seq);
    }
    const res = await compaction;
    assert.ok(during.length >= 10, `appends acknowledged while compacting: ${during.length}`);
    assert.ok(res.rewritten > 0 && res.recordsAfter < res.recordsBefore, JSON.stringify(res));
    assert.ok(log.stats().storedBytes < diskBefore);

    const check = async (l: Log): Promise<void> => {
      for (let i = 1; i <= 400; i++) {
        const r = await l.read(i);
        if (latest.get(`key.${i % 20}`) === i) assert.ok(r && Buffer.from(r.payload).equals(payloadFor(i, 40)), `latest ${i} kept`);
        else if (r !== undefined) assert.ok(Buffer.from(r.payload).equals(payloadFor(i, 40)), `${i} unchanged if kept (active segment)`);
      }
      for (let i = 0; i < 20; i++) assert.ok((await l.read(401 + i))!.subject === 'during');
    };
    await check(log);
    const kept = (await log.readRange(1, { maxRecords: 10_000 })).length;
    await log.close();
    closed = true;
    const again = await open(t, dir, SMALL);
    assert.deepEqual(again.recovery.indexesRebuilt, []);
    assert.deepEqual(again.recovery.corruptRanges, []);
    await check(again);
    assert.equal((await again.readRange(1, { maxRecords: 10_000 })).length, kept);
    assert.equal(again.stats().records, kept);
  });

  void it('deletes a segment that keeps nothing and leaves corrupt segments alone', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, SMALL);
    await fill(log, 150);
    await log.close();
    const segs = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
    const victim = join(dir, segs[1]!);
    const bytes = await readFile(victim);
    bytes[SEGMENT_HEADER_BYTES + 50] = bytes[SEGMENT_HEADER_BYTES + 50]! ^ 1;
    await writeFile(victim, bytes);

    const again = await open(t, dir, { ...SMALL, verifyOnOpen: 'all' });
    assert.equal(again.recovery.corruptRanges.length, 1);
    const bad = again.recovery.corruptRanges[0]!;
    const res = await again.compact(() => false);
    assert.equal(res.skippedCorrupt, 1);
    assert.equal(await rejectionCode(again.read(bad.fromSeq), 2000), ErrorCode.STORE_CORRUPT, 'corruption still reported');
    const left = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
    assert.deepEqual(left, [segs[1], segs[segs.length - 1]], 'empty sealed segments deleted, corrupt and active kept');
    assert.ok((await again.read(150)) !== undefined, 'active segment untouched');
  });

  void it('compaction racing with truncateBefore stays consistent', async (t) => {
    const dir = await tempDir(t);
    const log = await open(t, dir, { ...SMALL, fs: slowReads(1) });
    await fill(log, 300);
    const [c, tr] = await Promise.all([log.compact((r) => r.seq % 3 === 0), log.truncateBefore(200)]);
    assert.equal(tr.firstSeq, 200);
    assert.ok(c.segments > 0);
    for (let i = 200; i <= 300; i++) {
      const r = await log.read(i);
      if (i % 3 === 0) assert.ok(r !== undefined, `${i} kept`);
      if (r !== undefined) assert.ok(Buffer.from(r.payload).equals(payloadFor(i, 40)));
    }
    assert.equal(await log.read(150), undefined);
  });
});

void describe('retention: concurrent readers', () => {
  void it('reads racing with truncation and compaction return only correct records', async (t) => {
    const log = await open(t, await tempDir(t), { ...SMALL, fs: slowReads(1) });
    await fill(log, 300);
    const readers = Array.from({ length: 6 }, async (_, k) => {
      let checked = 0;
      for (let from = 1 + k * 7; from <= 300; from += 40) {
        for (const r of await log.readRange(from, { maxRecords: 60 })) {
          assert.ok(r.seq >= from);
          assert.ok(Buffer.from(r.payload).equals(payloadFor(r.seq, 40)), `seq ${r.seq} content`);
          checked++;
        }
      }
      return checked;
    });
    const mutators = [log.truncateBefore(100), log.compact((r) => r.seq % 2 === 0), log.truncateBefore(180)];
    const counts = await Promise.all(readers);
    await Promise.all(mutators);
    assert.ok(counts.every((c) => c > 0));
    assert.equal(log.firstSeq >= 180, true);
    for (let i = 180; i <= 300; i++) {
      const r = await log.read(i);
      if (r !== undefined) assert.ok(Buffer.from(r.payload).equals(payloadFor(i, 40)));
      else assert.ok(i % 2 === 1, `even seq ${i} kept`);
    }
  });
});

void describe('retention: truncateBefore without durability', () => {
  void it('cuts at once without writing the marker; close saves it; a crash falls back to the last saved one', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, SMALL);
    await fill(log, 200);
    const meta = (): Promise<boolean> =>
      readdir(dir).then((names) => names.some((n) => n.endsWith('.meta')));
    await log.truncateBefore(100, { durable: false });
    assert.equal(log.firstSeq, 100);
    assert.equal(await log.read(99), undefined);
    assert.equal(await meta(), false, 'no marker written');
    await log.truncateBefore(130);
    assert.equal(await meta(), true, 'a durable cut writes it');
    await log.truncateBefore(150, { durable: false });
    assert.equal(log.firstSeq, 150);
    // What a crash now leaves: a copy of the files as they are.
    const crashed = await tempDir(t);
    for (const n of await readdir(dir)) if (!n.startsWith('LOCK')) await writeFile(join(crashed, n), await readFile(join(dir, n)));
    const after = await open(t, crashed, SMALL);
    assert.ok(after.firstSeq >= 130 && after.firstSeq <= 150, `back to the saved marker or a segment start (${after.firstSeq})`);
    assert.equal((await after.read(150))!.seq, 150);
    await after.close();
    await log.close();
    const again = await open(t, dir, SMALL);
    assert.equal(again.firstSeq, 150, 'close saved the marker');
  });
});
