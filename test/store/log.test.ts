import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeHeaders, encodeHeaders } from '../../src/wire/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { openLog, type StoredRecord } from '../../src/store/index.js';
import { rejectionCode, within } from '../helpers/wait.js';
import { open, payloadFor, tempDir } from './helpers.js';

void describe('log: append and read', () => {
  void it('round-trips subject, headers, payload, sequence and timestamp', async (t) => {
    const dir = await tempDir(t);
    const log = await open(t, dir);
    assert.equal(log.recovery.created, true);
    assert.equal(log.firstSeq, 1);
    assert.equal(log.lastSeq, 0);
    const headers = encodeHeaders({ 'msg-id': 'a1', kind: 'ünïcode ✓' });
    const before = Date.now();
    const a = await log.append({ subject: 'orders.new', headers, payload: Buffer.from('hello') });
    const b = await log.append({ subject: 'orders.empty' });
    assert.equal(a.seq, 1);
    assert.equal(b.seq, 2);
    assert.ok(a.timestamp >= before && b.timestamp >= a.timestamp);
    assert.equal(log.lastSeq, 2);

    const r1 = (await log.read(1))!;
    assert.equal(r1.seq, 1);
    assert.equal(r1.timestamp, a.timestamp);
    assert.equal(r1.subject, 'orders.new');
    assert.deepEqual({ ...decodeHeaders(r1.headers) }, { 'msg-id': 'a1', kind: 'ünïcode ✓' });
    assert.equal(Buffer.from(r1.payload).toString(), 'hello');
    assert.equal(r1.size, 32 + 'orders.new'.length + headers!.length + 5);
    const r2 = (await log.read(2))!;
    assert.equal(r2.headers, undefined);
    assert.equal(r2.payload.length, 0);
    assert.equal(await log.read(0), undefined);
    assert.equal(await log.read(3), undefined);
  });

  void it('appendBatch gives consecutive sequences and one write', async (t) => {
    const log = await open(t, await tempDir(t));
    await log.append({ subject: 'x' });
    const res = await log.appendBatch([1, 2, 3, 4].map((i) => ({ subject: `b.${i}`, payload: payloadFor(i, 10) })));
    assert.deepEqual(
      res.map((r) => r.seq),
      [2, 3, 4, 5],
    );
    assert.equal(new Set(res.map((r) => r.timestamp)).size, 1);
    assert.deepEqual(await log.appendBatch([]), []);
    const recs = await log.readRange(2);
    assert.deepEqual(
      recs.map((r) => r.subject),
      ['b.1', 'b.2', 'b.3', 'b.4'],
    );
    assert.ok(Buffer.from(recs[2]!.payload).equals(payloadFor(3, 10)));
  });

  void it('refuses bad records before allocating, with coded errors', async (t) => {
    const log = await open(t, await tempDir(t), { maxRecordBytes: 1024 });
    const code = (p: Promise<unknown>): Promise<string | undefined> => rejectionCode(p, 2000);
    assert.equal(await code(log.append({ subject: 'big', payload: new Uint8Array(1024) })), ErrorCode.PAYLOAD_TOO_LARGE);
    assert.equal(await code(log.append({ subject: 'x'.repeat(70_000) })), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await code(log.append({ subject: 'h', headers: new Uint8Array([0, 1, 0]) })), ErrorCode.INVALID_HEADERS);
    assert.equal(await code(log.append({ subject: 5 } as never)), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await code(log.append({ subject: 's', payload: 'text' } as never)), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await code(log.read(-1)), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await code(log.readRange(1, { maxRecords: 0 })), ErrorCode.INVALID_ARGUMENT);
    // The largest record that fits is fine; nothing failed was written.
    const ok = await log.append({ subject: 'big', payload: new Uint8Array(1024 - 32 - 3) });
    assert.equal(ok.seq, 1);
    assert.equal(log.stats().writeFailures, 0);
  });

  void it('create: false refuses a directory without a log', async (t) => {
    const dir = await tempDir(t);
    assert.equal(await rejectionCode(openLog(join(dir, 'missing'), { create: false }), 2000), ErrorCode.CONFIG);
    assert.equal(await rejectionCode(openLog(dir, { create: false }), 2000), ErrorCode.CONFIG);
    assert.deepEqual(await readdir(dir), [], 'nothing created, lock released');
  });

  void it('checks options', async (t) => {
    const dir = await tempDir(t);
    for (const bad of [{ segmentBytes: 10 }, { fsync: { intervalMs: 0 } }, { fsync: 'sometimes' }, { maxRecordBytes: 1.5 }, { verifyOnOpen: 'some' }]) {
      assert.equal(await rejectionCode(openLog(dir, bad as never), 2000), ErrorCode.CONFIG, JSON.stringify(bad));
    }
  });

  void it('readRange honours maxRecords, maxBytes, toSeq and always makes progress', async (t) => {
    const log = await open(t, await tempDir(t), { segmentBytes: 2048 });
    for (let i = 1; i <= 100; i++) await log.append({ subject: 'r', payload: payloadFor(i, 50) });
    assert.equal((await log.readRange(1)).length, 100);
    assert.deepEqual(
      (await log.readRange(10, { maxRecords: 3 })).map((r) => r.seq),
      [10, 11, 12],
    );
    const size = 32 + 1 + 50;
    assert.equal((await log.readRange(1, { maxBytes: size * 5 })).length, 5);
    assert.equal((await log.readRange(1, { maxBytes: 1 })).length, 1);
    assert.deepEqual(
      (await log.readRange(95, { toSeq: 97 })).map((r) => r.seq),
      [95, 96, 97],
    );
    assert.deepEqual(await log.readRange(101), []);
    assert.ok(log.stats().segments > 2, 'crossed segments');
  });
});

void describe('log: segments', () => {
  void it('rolls by size, names segments by base sequence, and reopens intact', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir, { segmentBytes: 4096, indexIntervalBytes: 256 });
    const sizes: number[] = [];
    for (let i = 1; i <= 300; i++) {
      const len = (i * 37) % 200;
      sizes.push(len);
      await log.append({ subject: `s.${i % 7}`, payload: payloadFor(i, len) });
    }
    const stats = log.stats();
    assert.ok(stats.segments >= 5, `segments: ${stats.segments}`);
    assert.equal(stats.rolls, stats.segments - 1);
    await log.close();

    const files = (await readdir(dir)).sort();
    const logs = files.filter((f) => f.endsWith('.log'));
    assert.equal(logs[0], '00000000000000000001.log');
    assert.ok(logs.every((f) => /^\d{20}\.log$/.test(f)));
    assert.equal(files.filter((f) => f.endsWith('.idx')).length, logs.length, 'one index per segment');
    for (const f of logs) assert.ok((await stat(join(dir, f))).size <= 4096, `${f} within segmentBytes`);

    const again = await open(t, dir, { segmentBytes: 4096, indexIntervalBytes: 256 });
    assert.deepEqual(again.recovery.indexesRebuilt, []);
    assert.equal(again.recovery.truncatedBytes, 0);
    assert.equal(again.lastSeq, 300);
    for (let i = 1; i <= 300; i++) {
      const r = (await again.read(i))!;
      assert.equal(r.subject, `s.${i % 7}`);
      assert.ok(Buffer.from(r.payload).equals(payloadFor(i, sizes[i - 1]!)));
    }
    const next = await again.append({ subject: 'after' });
    assert.equal(next.seq, 301);
  });

  void it('gives a record larger than segmentBytes a segment of its own', async (t) => {
    const log = await open(t, await tempDir(t), { segmentBytes: 1024 });
    await log.append({ subject: 'small' });
    await log.append({ subject: 'huge', payload: payloadFor(1, 5000) });
    await log.append({ subject: 'small2' });
    assert.equal(log.stats().segments, 3);
    assert.ok(Buffer.from((await log.read(2))!.payload).equals(payloadFor(1, 5000)));
  });
});

void describe('log: tail', () => {
  void it('yields existing records, wakes on new appends, and ends on close', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir);
    t.after(() => log.close());
    for (let i = 1; i <= 3; i++) await log.append({ subject: 't', payload: payloadFor(i, 8) });
    const seen: StoredRecord[] = [];
    const consumer = (async () => {
      for await (const r of log.tail(2, { batchRecords: 2 })) seen.push(r);
      return 'ended';
    })();
    const until = async (n: number): Promise<void> => {
      const deadline = Date.now() + 3000;
      while (seen.length < n) {
        if (Date.now() > deadline) throw new Error(`tail saw ${seen.length} of ${n}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await until(2);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(seen.length, 2, 'waits at the end');
    await log.append({ subject: 't', payload: payloadFor(4, 8) });
    await log.appendBatch([{ subject: 't5' }, { subject: 't6' }]);
    await until(5);
    assert.deepEqual(
      seen.map((r) => r.seq),
      [2, 3, 4, 5, 6],
    );
    await log.close();
    assert.equal(await within(consumer, 3000, 'tail end on close'), 'ended');
  });

  void it('ends on abort, and break cleans up', async (t) => {
    const log = await open(t, await tempDir(t));
    await log.append({ subject: 'a' });
    const ac = new AbortController();
    const got: number[] = [];
    const consumer = (async () => {
      for await (const r of log.tail(1, { signal: ac.signal })) got.push(r.seq);
    })();
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    await within(consumer, 3000, 'tail end on abort');
    assert.deepEqual(got, [1]);
    await within(
      (async () => {
        for await (const r of log.tail(1)) {
          assert.equal(r.seq, 1);
          break;
        }
      })(),
      3000,
      'tail break',
    );
  });

  void it('starts at firstSeq when asked for less, skipping removed records', async (t) => {
    const log = await open(t, await tempDir(t));
    for (let i = 0; i < 5; i++) await log.append({ subject: 'x' });
    await log.truncateBefore(4);
    const ac = new AbortController();
    const got: number[] = [];
    await within(
      (async () => {
        for await (const r of log.tail(1, { signal: ac.signal })) {
          got.push(r.seq);
          if (r.seq === 5) ac.abort();
        }
      })(),
      3000,
      'tail from firstSeq',
    );
    assert.deepEqual(got, [4, 5]);
  });
});

void describe('log: lifecycle', () => {
  void it('close waits for accepted appends; later calls reject with STORE_CLOSED', async (t) => {
    const log = await openLog(await tempDir(t));
    const pending = Array.from({ length: 50 }, (_, i) => log.append({ subject: 'c', payload: payloadFor(i, 100) }));
    await log.close();
    const acked = await Promise.all(pending);
    assert.equal(acked.length, 50);
    assert.equal(log.closed, true);
    assert.equal(await rejectionCode(log.append({ subject: 'late' }), 2000), ErrorCode.STORE_CLOSED);
    assert.equal(await rejectionCode(log.read(1), 2000), ErrorCode.STORE_CLOSED);
    assert.equal(await rejectionCode(log.readRange(1), 2000), ErrorCode.STORE_CLOSED);
    assert.equal(await rejectionCode(log.truncateBefore(2), 2000), ErrorCode.STORE_CLOSED);
    assert.equal(await rejectionCode(log.sync(), 2000), ErrorCode.STORE_CLOSED);
    await log.close(); // idempotent
  });

  void it('one process per directory: a second open is refused until the first closes', async (t) => {
    const dir = await tempDir(t);
    const log = await openLog(dir);
    assert.equal(await rejectionCode(openLog(dir), 2000), ErrorCode.STORE_LOCKED);
    await log.close();
    const again = await openLog(dir);
    await again.close();
  });

  void it('an aborted append that is still queued is withdrawn', async (t) => {
    const log = await open(t, await tempDir(t));
    const ac = new AbortController();
    ac.abort(new Error('before'));
    await assert.rejects(log.append({ subject: 'x' }, { signal: ac.signal }), /before/);
    const ac2 = new AbortController();
    const p = log.append({ subject: 'y' }, { signal: ac2.signal });
    ac2.abort(new Error('changed my mind'));
    await assert.rejects(p, /changed my mind/);
    assert.equal((await log.append({ subject: 'z' })).seq, 1);
  });
});
