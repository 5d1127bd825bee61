/**
 * Records handed out by readRange own their bytes: a later read (which reuses the
 * segment's read buffer) must not change them. Regression: `Buffer#slice` is a view, so
 * payloads of one read were overwritten by the next, and a durable consumer received
 * seq 1 with the payload of seq 64.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyBytes } from '../../src/wire/index.js';
import { open, tempDir } from './helpers.js';

const body = (i: number): Buffer => Buffer.from(`${i}:`.padEnd(4096, 'z'));

test('payloads and headers of one readRange survive the next readRange', async (t) => {
  const dir = await tempDir(t);
  const log = await open(t, dir);
  for (let i = 0; i < 100; i++) await log.append({ subject: 's', payload: body(i) });
  const first = await log.readRange(1, { maxRecords: 100, maxBytes: 64 * 4200 });
  assert.ok(first.length > 0 && first.length < 100, `a partial first read (${first.length})`);
  const second = await log.readRange(first[first.length - 1]!.seq + 1, { maxRecords: 100 });
  assert.ok(second.length > 0);
  for (const r of [...first, ...second]) assert.deepEqual(Buffer.from(r.payload), body(r.seq - 1), `seq ${r.seq}`);
});

test('copyBytes copies from a Node Buffer (Buffer#slice would alias)', () => {
  const buf = Buffer.from([1, 2, 3, 4]);
  const copy = copyBytes(buf, 1, 3);
  buf[1] = 9;
  assert.deepEqual([...copy], [2, 3]);
  assert.deepEqual([...copyBytes(new Uint8Array([5, 6]))], [5, 6]);
});
