/**
 * `tryReadBatch`: all ready records copied back to back into one chunk. A model-based
 * property test (random record sizes, interleavings and wraparound) checks that the
 * batches, concatenated, are exactly the bytes written, in order, and that a batch stays
 * within its bound unless it is a single larger record.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MpscRing, SpscRing, ringByteLength } from '../../src/local/index.js';

const CAPACITY = 1024;

type Op = { kind: 'write'; len: number } | { kind: 'read'; maxBytes: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), len: fc.integer({ min: 0, max: CAPACITY / 4 }) }),
  fc.record({ kind: fc.constant('read' as const), maxBytes: fc.integer({ min: 1, max: CAPACITY }) }),
);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

for (const Ring of [SpscRing, MpscRing]) {
  describe(`${Ring.name}.tryReadBatch`, () => {
    it('returns undefined when nothing is ready', () => {
      const ring = Ring.create(new SharedArrayBuffer(ringByteLength(CAPACITY)), { capacity: CAPACITY });
      assert.equal(ring.tryReadBatch(), undefined);
    });

    it('delivers every written byte once, in order, across wraparound', () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 200 }), (ops) => {
          const ring = Ring.create(new SharedArrayBuffer(ringByteLength(CAPACITY)), { capacity: CAPACITY });
          const written: Uint8Array[] = [];
          const read: Uint8Array[] = [];
          let seed = 1;
          const drainOnce = (maxBytes: number): boolean => {
            const batch = ring.tryReadBatch(maxBytes);
            if (batch === undefined) return false;
            // Bounded, except that a single record larger than the bound comes whole.
            assert.ok(batch.length <= Math.max(maxBytes, CAPACITY / 4), `batch of ${batch.length} over ${maxBytes}`);
            read.push(batch.slice());
            return true;
          };
          for (const op of ops) {
            if (op.kind === 'read') {
              drainOnce(op.maxBytes);
              continue;
            }
            const rec = new Uint8Array(op.len).map((_, i) => (seed * 31 + i) & 0xff);
            seed++;
            while (!ring.tryWrite(rec)) assert.ok(drainOnce(CAPACITY), 'a full ring must have something to read');
            written.push(rec);
          }
          while (drainOnce(CAPACITY));
          assert.deepEqual(concat(read), concat(written));
          assert.equal(ring.usedBytes, 0);
        }),
        { numRuns: 200 },
      );
    });
  });
}
