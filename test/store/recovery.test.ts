import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../../src/errors/index.js';
import { openLog, type CorruptRange, type Log } from '../../src/store/index.js';
import { encodeIndexFile, readU32, SEGMENT_HEADER_BYTES, type SparseIndex } from '../../src/store/format.js';
import { codeOf, rejection, rejectionCode } from '../helpers/wait.js';
import { open, payloadFor, tempDir } from './helpers.js';

const SUBJECT = 'rec';

/** Bytes record `i` takes when written by {@link fill}. */
function recSize(i: number): number {
  return 32 + SUBJECT.length + lenOf(i);
}

function lenOf(i: number): number {
  return 20 + ((i * 13) % 90);
}

/** Append records 1..n with deterministic payloads. */
async function fill(log: Log, n: number, from = 1): Promise<void> {
  for (let i = from; i < from + n; i++) await log.append({ subject: SUBJECT, payload: payloadFor(i, lenOf(i)) });
}

async function assertIntact(log: Log, seqs: Iterable<number>): Promise<void> {
  for (const i of seqs) {
    const r = await log.read(i);
    assert.ok(r !== undefined, `record ${i} present`);
    assert.equal(r.subject, SUBJECT);
    assert.ok(Buffer.from(r.payload).equals(payloadFor(i, lenOf(i))), `record ${i} intact`);
  }
}

/** File offset of record `seq` in a single-segment log written by {@link fill}. */
function offsetOf(seq: number): number {
  let o = SEGMENT_HEADER_BYTES;
  for (let i = 1; i < seq; i++) o += recSize(i);
  return o;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
}

void describe('recovery: index files', () => {
  void it('rebuilds an index that is deleted, truncated, damaged or inconsistent', async (t) => {
    const dir = await tempDir(t);
    const opts = { segmentBytes: 2048, indexIntervalBytes: 256 };
    const log = await openLog(dir, opts);
    await fill(log, 200);
    await log.close();
    const segs = await segmentFiles(dir);
    assert.ok(segs.length >= 6);
    const idx = (i: number): string => join(dir, segs[i]!.replace('.log', '.idx'));
    const originals = await Promise.all(segs.map((_, i) => readFile(idx(i))));

    await rm(idx(1));
    await truncate(idx(2), 40);
    const damaged = Buffer.from(originals[3]!);
    damaged[40] = damaged[40]! ^ 0xff;
    await writeFile(idx(3), damaged);
    // A well-formed index (valid CRC) whose positions do not point at records.
    const base = Number(segs[4]!.slice(0, 20));
    const size = (await readFile(join(dir, segs[4]!))).length;
    const lying: SparseIndex = { seqs: [base, base + 3], positions: [SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + 10], ordinals: [0, 3], timestamps: [0, 0] };
    await writeFile(idx(4), encodeIndexFile(base, size, 256, lying));

    const again = await open(t, dir, opts);
    assert.deepEqual([...again.recovery.indexesRebuilt].sort(), [segs[1], segs[2], segs[3], segs[4]]);
    assert.deepEqual(again.recovery.corruptRanges, []);
    await assertIntact(again, range(1, 200));
    for (let i = 1; i <= 4; i++) assert.ok((await readFile(idx(i))).equals(originals[i]!), `index ${i} rewritten as before`);
  });
});

void describe('recovery: index cache', () => {
  void it('keeps few sealed indexes in memory and reloads (or rebuilds) them on demand', async (t) => {
    const dir = await tempDir(t);
    const opts = { segmentBytes: 1024, indexIntervalBytes: 128, cachedIndexes: 2 };
    const log = await open(t, dir, opts);
    await fill(log, 200);
    assert.ok(log.stats().segments > 15);
    await assertIntact(log, range(1, 200));
    // An index file that disappears while its index is out of memory is rebuilt on use.
    const segs = await segmentFiles(dir);
    const idx = join(dir, segs[1]!.replace('.log', '.idx'));
    const before = await readFile(idx);
    await rm(idx);
    await assertIntact(log, range(1, 200).reverse());
    assert.ok((await readFile(idx)).equals(before));
    assert.deepEqual(log.corruptRanges(), []);
  });
});

void describe('recovery: torn tail', () => {
  void it('truncates the last record torn at every byte offset; earlier records intact', async (t) => {
    const dir = await tempDir(t);
    const N = 12;
    const log = await openLog(dir);
    await fill(log, N);
    await log.close();
    const [seg] = await segmentFiles(dir);
    const path = join(dir, seg!);
    const original = await readFile(path);
    const start = offsetOf(N);
    assert.equal(original.length, start + recSize(N));
    for (let cut = start; cut < original.length; cut++) {
      await writeFile(path, original.subarray(0, cut));
      const torn = await openLog(dir);
      try {
        assert.equal(torn.lastSeq, N - 1, `cut at ${cut}`);
        assert.equal(torn.recovery.truncatedBytes, cut - start);
        assert.deepEqual(torn.recovery.corruptRanges, []);
        assert.equal(await torn.read(N), undefined);
        assert.deepEqual(await torn.readRange(N), []);
        if (cut % 7 === 0) await assertIntact(torn, range(1, N - 1));
        else await assertIntact(torn, [1, N - 1]);
        // The next append takes the torn record's place.
        assert.equal((await torn.append({ subject: SUBJECT, payload: payloadFor(N, lenOf(N)) })).seq, N);
      } finally {
        await torn.close();
      }
    }
    // The log after the last iteration is whole again.
    const whole = await open(t, dir);
    assert.equal(whole.lastSeq, N);
    await assertIntact(whole, range(1, N));
  });

  void it('treats zeros or garbage after the last record as a torn tail', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir);
    await fill(log, 5);
    await log.close();
    const path = join(dir, (await segmentFiles(dir))[0]!);
    const original = await readFile(path);
    for (const tail of [Buffer.alloc(4096), Buffer.from(payloadFor(99, 777)), Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3])]) {
      await writeFile(path, Buffer.concat([original, tail]));
      const again = await openLog(dir);
      try {
        assert.equal(again.recovery.truncatedBytes, tail.length);
        assert.equal(again.lastSeq, 5);
        await assertIntact(again, range(1, 5));
      } finally {
        await again.close();
      }
    }
  });

  void it('a huge length field is refused before allocation', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, { maxRecordBytes: 4096 });
    await fill(log, 10);
    await log.close();
    const path = join(dir, (await segmentFiles(dir))[0]!);
    const bytes = await readFile(path);
    bytes.writeUInt32BE(0xfffffff0, offsetOf(10));
    await writeFile(path, bytes);
    const before = process.memoryUsage().arrayBuffers;
    const again = await open(t, dir, { maxRecordBytes: 4096 });
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no giant buffer');
    assert.equal(again.lastSeq, 9);
    assert.equal(again.recovery.truncatedBytes, recSize(10));
  });
});

void describe('recovery: corruption', () => {
  async function corruptOneRecord(t: Parameters<typeof tempDir>[0], seq: number, at: (start: number) => number): Promise<{ dir: string; log: Log }> {
    const dir = await tempDir(t);
    const log = await openLog(dir);
    await fill(log, 40);
    await log.close();
    const path = join(dir, (await segmentFiles(dir))[0]!);
    const bytes = await readFile(path);
    const pos = at(offsetOf(seq));
    bytes[pos] = bytes[pos]! ^ 0x5a;
    await writeFile(path, bytes);
    return { dir, log: await open(t, dir) };
  }

  for (const [where, at] of [
    ['payload', (s: number) => s + 40],
    ['sequence field', (s: number) => s + 15],
    ['length field', (s: number) => s + 3],
    ['CRC field', (s: number) => s + 5],
  ] as const) {
    void it(`a flipped byte in a middle record's ${where} is reported, never served, and the rest is fine`, async (t) => {
      const { log } = await corruptOneRecord(t, 20, at);
      assert.equal(log.recovery.truncatedBytes, 0);
      assert.equal(log.recovery.corruptRanges.length, 1);
      const r: CorruptRange = log.recovery.corruptRanges[0]!;
      assert.equal(r.fromSeq, 20);
      assert.equal(r.toSeq, 20);
      assert.equal(r.fromOffset, offsetOf(20));
      assert.equal(r.toOffset, offsetOf(21));
      assert.equal(log.lastSeq, 40);

      const err = await rejection(log.read(20), 2000);
      assert.equal(codeOf(err), ErrorCode.STORE_CORRUPT);
      assert.equal((err as { details: CorruptRange }).details.toSeq, 20);
      await assertIntact(log, [...range(1, 19), ...range(21, 40)]);
      assert.deepEqual(
        (await log.readRange(15)).map((x) => x.seq),
        [15, 16, 17, 18, 19],
      );
      assert.equal(await rejectionCode(log.readRange(20), 2000), ErrorCode.STORE_CORRUPT);
      assert.equal((await log.readRange(21)).length, 20);
      // A tail stops with the coded error rather than skip silently.
      const tailErr = await rejection(
        (async () => {
          for await (const x of log.tail(18)) void x;
        })(),
        2000,
      );
      assert.equal(codeOf(tailErr), ErrorCode.STORE_CORRUPT);
      // Appends carry on after it.
      assert.equal((await log.append({ subject: SUBJECT, payload: payloadFor(41, lenOf(41)) })).seq, 41);
    });
  }

  void it('keeps reporting corruption across reopens (it is not truncated away)', async (t) => {
    const { dir, log } = await corruptOneRecord(t, 5, (s) => s + 40);
    await log.close();
    const again = await open(t, dir);
    assert.equal(again.recovery.corruptRanges.length, 1);
    assert.equal(again.recovery.corruptRanges[0]!.fromSeq, 5);
    assert.equal(await rejectionCode(again.read(5), 2000), ErrorCode.STORE_CORRUPT);
  });

  void it('corruption in a sealed segment: found on read (verify last) or on open (verify all)', async (t) => {
    const dir = await tempDir(t);
    const opts = { segmentBytes: 2048, indexIntervalBytes: 256 };
    const log = await openLog(dir, opts);
    await fill(log, 120);
    await log.close();
    const segs = await segmentFiles(dir);
    const path = join(dir, segs[1]!);
    const bytes = await readFile(path);
    // Find the third record in the second segment and flip a payload byte.
    let pos = SEGMENT_HEADER_BYTES;
    for (let k = 0; k < 2; k++) pos += 4 + readU32(bytes, pos);
    const victim = Number(bytes.readBigUInt64BE(pos + 8));
    bytes[pos + 40] = bytes[pos + 40]! ^ 1;
    await writeFile(path, bytes);

    const lazy = await openLog(dir, opts);
    try {
      assert.deepEqual(lazy.recovery.corruptRanges, []);
      assert.equal(await rejectionCode(lazy.read(victim), 2000), ErrorCode.STORE_CORRUPT);
      assert.deepEqual(
        lazy.corruptRanges().map((r) => [r.fromSeq, r.toSeq, r.segment]),
        [[victim, victim, segs[1]]],
      );
      await assertIntact(lazy, [...range(1, victim - 1), ...range(victim + 1, 120)]);
    } finally {
      await lazy.close();
    }

    const eager = await open(t, dir, { ...opts, verifyOnOpen: 'all' });
    assert.deepEqual(
      eager.recovery.corruptRanges.map((r) => [r.fromSeq, r.toSeq]),
      [[victim, victim]],
    );
    assert.equal(await rejectionCode(eager.read(victim), 2000), ErrorCode.STORE_CORRUPT);
    await assertIntact(eager, [victim - 1, victim + 1]);
  });

  void it('refuses to open over a damaged segment header or meta file', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir);
    await fill(log, 3);
    await log.truncateBefore(2);
    await log.close();
    const meta = join(dir, 'log.meta');
    const good = await readFile(meta);
    const bad = Buffer.from(good);
    bad[10] = bad[10]! ^ 1;
    await writeFile(meta, bad);
    assert.equal(await rejectionCode(openLog(dir), 2000), ErrorCode.STORE_CORRUPT);
    await writeFile(meta, good);
    const seg = join(dir, (await segmentFiles(dir))[0]!);
    const bytes = await readFile(seg);
    bytes[9] = bytes[9]! ^ 1;
    await writeFile(seg, bytes);
    assert.equal(await rejectionCode(openLog(dir), 2000), ErrorCode.STORE_CORRUPT);
  });
});
