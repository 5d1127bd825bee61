import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FIFO_ATOMIC_BYTES,
  FIFO_CHUNK_BYTES,
  FifoRecordDecoder,
  FifoRecordEncoder,
  type FifoMessage,
} from '../../src/transports/fifo-record.js';
import { thrownCode } from '../helpers/wait.js';

function collect(options = {}): { decoder: FifoRecordDecoder; got: FifoMessage[] } {
  const got: FifoMessage[] = [];
  return { decoder: new FifoRecordDecoder({ message: (m) => got.push(m) }, options), got };
}

const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

test('every record fits in one atomic pipe write, and a message splits into records at FIFO_CHUNK_BYTES', () => {
  const enc = new FifoRecordEncoder(123, 7);
  const recs = enc.message(new Uint8Array(FIFO_CHUNK_BYTES * 2 + 1));
  assert.equal(recs.length, 3);
  for (const r of recs) assert.ok(r.length <= FIFO_ATOMIC_BYTES);
  assert.equal(recs[0]!.length, FIFO_ATOMIC_BYTES);
  assert.equal(enc.message(new Uint8Array(0)).length, 1, 'an empty message is one record');
});

test('records of interleaved writers, split anywhere, come out as each writer\'s messages in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 0, max: 3 * FIFO_CHUNK_BYTES }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
      (sizesPerWriter, picks, cuts) => {
        // Each writer's records in its own order; the pipe interleaves whole records.
        const queues = sizesPerWriter.map((sizes, w) => {
          const enc = new FifoRecordEncoder(1000 + w, w + 1);
          const recs = [enc.hello(`w${w}`)];
          sizes.forEach((size, i) => recs.push(...enc.message(new Uint8Array(size).fill((w * 16 + i) & 0xff))));
          recs.push(enc.bye());
          return recs;
        });
        const stream: Uint8Array[] = [];
        let p = 0;
        while (queues.some((q) => q.length > 0)) {
          const live = queues.filter((q) => q.length > 0);
          stream.push(live[picks[p++ % picks.length]! % live.length]!.shift()!);
        }
        const bytes = concat(stream);
        const { decoder, got } = collect();
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          decoder.push(bytes.subarray(at, at + n));
          at += n;
        }
        for (let w = 0; w < sizesPerWriter.length; w++) {
          const mine = got.filter((m) => m.writer.id === w + 1);
          assert.deepEqual(mine.map((m) => m.data.length), sizesPerWriter[w]);
          mine.forEach((m, i) => {
            assert.equal(m.writer.name, `w${w}`);
            assert.equal(m.writer.pid, 1000 + w);
            assert.ok(m.data.every((b) => b === ((w * 16 + i) & 0xff)));
          });
        }
        assert.equal(decoder.stats.incomplete + decoder.stats.sequenceGaps, 0);
        assert.equal(decoder.bufferedBytes, 0);
      },
    ),
    { numRuns: 150 },
  );
});

test('bytes that are not fifo records fail with PLEXUS_ERR_MALFORMED_FRAME', () => {
  const { decoder } = collect();
  assert.equal(thrownCode(() => decoder.push(new Uint8Array(64).fill(0x41))), 'PLEXUS_ERR_MALFORMED_FRAME');
  const bad = new FifoRecordEncoder(1, 1).message(new Uint8Array(10))[0]!;
  new DataView(bad.buffer).setUint16(24, FIFO_CHUNK_BYTES + 1, true);
  assert.equal(thrownCode(() => collect().decoder.push(bad)), 'PLEXUS_ERR_MALFORMED_FRAME');
});

test('a message over maxMessageBytes is skipped and counted; the next one arrives', () => {
  const { decoder, got } = collect({ maxMessageBytes: 5000 });
  const enc = new FifoRecordEncoder(1, 1);
  for (const r of enc.message(new Uint8Array(9000))) decoder.push(r);
  for (const r of enc.message(new Uint8Array(100))) decoder.push(r);
  assert.equal(decoder.stats.tooLarge, 1);
  assert.deepEqual(got.map((m) => m.data.length), [100]);
});

test('a writer that vanishes mid-message: the half is dropped at EOF and counted; a missing record is a gap', () => {
  const { decoder, got } = collect();
  const a = new FifoRecordEncoder(1, 1);
  const recs = a.message(new Uint8Array(FIFO_CHUNK_BYTES * 2));
  decoder.push(recs[0]!);
  decoder.end();
  assert.equal(decoder.stats.incomplete, 1);
  assert.equal(got.length, 0);

  const b = new FifoRecordEncoder(2, 2);
  const three = b.message(new Uint8Array(FIFO_CHUNK_BYTES * 3));
  decoder.push(three[0]!);
  decoder.push(three[2]!); // the middle record never came
  for (const r of b.message(new Uint8Array(3))) decoder.push(r);
  assert.equal(decoder.stats.sequenceGaps, 1);
  assert.deepEqual(got.map((m) => m.data.length), [3]);
});

test('a writer first seen mid-stream (no HELLO) is still told apart by pid and id', () => {
  const { decoder, got } = collect();
  for (const r of new FifoRecordEncoder(9, 3).message(Buffer.from('hi'))) decoder.push(r);
  assert.equal(got[0]!.writer.pid, 9);
  assert.equal(got[0]!.writer.id, 3);
  assert.equal(got[0]!.writer.name, '');
});
