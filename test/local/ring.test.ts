/**
 * Ring semantics in one thread: model-based property tests (random record sizes,
 * interleavings and wraparound against a plain queue), zero-copy reserve/commit and
 * peek/poll, limits, closing and corruption detection.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode } from '../../src/errors/index.js';
import {
  MpscRing,
  RECORD_HEADER_BYTES,
  RING_CONTROL_BYTES,
  SpscRing,
  initRing,
  readRingLayout,
  ringByteLength,
  RingKind,
} from '../../src/local/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

function bytes(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 7 + i * 13) & 0xff;
  return b;
}

type Op = { kind: 'write'; len: number; inPlace: boolean; publish: boolean } | { kind: 'read'; n: number; range: boolean } | { kind: 'publish' };

const opArb = (max: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('write' as const),
      len: fc.oneof(fc.integer({ min: 0, max: Math.min(24, max) }), fc.integer({ min: 0, max })),
      inPlace: fc.boolean(),
      publish: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('read' as const), n: fc.integer({ min: 1, max: 4 }), range: fc.boolean() }),
    fc.record({ kind: fc.constant('publish' as const) }),
  );

void describe('SPSC ring (one thread)', () => {
  void it('behaves like a bounded FIFO for random sizes, interleavings, batching and wraparound', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 6, max: 11 }).chain((log) => {
          const capacity = 2 ** log;
          const max = capacity / 4;
          return fc.tuple(fc.constant(capacity), fc.array(opArb(max), { minLength: 1, maxLength: 300 }), fc.boolean(), fc.boolean());
        }),
        ([capacity, ops, fastWriter, fastReader]) => {
          const sab = new SharedArrayBuffer(ringByteLength(capacity) + 64);
          const writer = SpscRing.create(sab, { byteOffset: 64, capacity, fastCopy: fastWriter });
          const reader = SpscRing.attach(sab, 64, { fastCopy: fastReader });
          // Published records (readable) and records written with publish: false.
          const model: { data: Uint8Array; tag: number }[] = [];
          let staged: { data: Uint8Array; tag: number }[] = [];
          const publish = (): void => {
            model.push(...staged);
            staged = [];
          };
          let seq = 0;
          for (const op of ops) {
            if (op.kind === 'publish') {
              writer.publish();
              publish();
            } else if (op.kind === 'write') {
              const data = bytes(op.len, seq);
              let ok: boolean;
              if (op.inPlace) {
                const view = writer.tryReserve(op.len);
                ok = view !== undefined;
                if (view) {
                  view.set(data);
                  writer.commit(op.len, seq, op.publish);
                }
              } else {
                ok = writer.tryWrite(data, seq, op.publish);
              }
              if (ok) {
                staged.push({ data, tag: seq });
                if (op.publish) publish();
              } else {
                publish(); // a refused write publishes what was staged
                // Refusing is only allowed when something (records, or the skip record a
                // wrap just published) is still waiting for the reader.
                assert.ok(writer.usedBytes > 0, 'refused a write into an empty ring');
              }
              seq++;
            } else if (op.range) {
              const got: { data: Uint8Array; tag: number }[] = [];
              reader.pollRange((b, start, end, tag) => got.push({ data: b.slice(start, end), tag }), op.n);
              assert.deepEqual(got, model.splice(0, got.length));
              assert.equal(got.length, Math.min(op.n, got.length + model.length), 'pollRange stopped early');
            } else {
              for (let i = 0; i < op.n; i++) {
                const got = reader.tryRead();
                const want = model.shift();
                if (want === undefined) {
                  assert.equal(got, undefined, 'unpublished records must stay invisible');
                  break;
                }
                assert.ok(got !== undefined, 'record missing');
                assert.deepEqual(got, want.data);
                assert.equal(reader.lastTag, want.tag);
              }
            }
          }
          // Drain: everything written arrives, in order, intact.
          writer.publish();
          publish();
          for (const want of model) {
            assert.deepEqual(reader.tryRead(), want.data);
            assert.equal(reader.lastTag, want.tag);
          }
          assert.equal(reader.tryRead(), undefined);
          assert.equal(reader.usedBytes, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  void it('always accepts a maximal record into an empty ring, wherever the positions are', () => {
    const capacity = 256;
    const max = capacity - RECORD_HEADER_BYTES;
    const sab = new SharedArrayBuffer(ringByteLength(capacity));
    const ring = SpscRing.create(sab, { capacity, maxRecordBytes: max });
    for (let shift = 0; shift < 40; shift++) {
      assert.ok(ring.tryWrite(bytes(shift % 17, shift)));
      assert.equal(ring.tryRead()?.length, shift % 17);
      // Empty now, head/tail somewhere inside: a full-size record needs a skip first.
      if (!ring.tryWrite(bytes(max, shift))) {
        // The writer published a skip record over the end; once the reader passes it the
        // whole ring is free.
        assert.equal(ring.tryRead(), undefined);
        assert.ok(ring.tryWrite(bytes(max, shift)), 'second try after the skip record');
      }
      assert.deepEqual(ring.tryRead(), bytes(max, shift));
    }
  });

  void it('reserve/commit writes in place; a shorter commit keeps the rest for the next record', () => {
    const sab = new SharedArrayBuffer(ringByteLength(1024));
    const ring = SpscRing.create(sab, { capacity: 1024 });
    const view = ring.tryReserve(100)!;
    assert.equal(view.length, 100);
    assert.equal(view.buffer, sab, 'the view is the ring memory itself');
    view.set(bytes(40, 1));
    assert.equal(codeOf(() => ring.tryWrite(bytes(1, 1))), ErrorCode.INVALID_ARGUMENT, 'no write while reserving');
    ring.commit(40, 7);
    assert.ok(ring.tryWrite(bytes(3, 2), 8));
    assert.deepEqual(ring.tryRead(), bytes(40, 1));
    assert.equal(ring.lastTag, 7);
    assert.deepEqual(ring.tryRead(), bytes(3, 2));
    assert.equal(codeOf(() => ring.commit()), ErrorCode.INVALID_ARGUMENT);
    ring.tryReserve(10);
    assert.equal(codeOf(() => ring.commit(11)), ErrorCode.INVALID_ARGUMENT);
  });

  void it('peek/release and poll read without copying', () => {
    const sab = new SharedArrayBuffer(ringByteLength(1024));
    const ring = SpscRing.create(sab, { capacity: 1024 });
    for (let i = 0; i < 5; i++) ring.tryWrite(bytes(i * 10, i), i);
    const v = ring.peek()!;
    assert.equal(v.buffer, sab);
    assert.deepEqual(v, bytes(0, 0));
    assert.equal(codeOf(() => ring.tryRead()), ErrorCode.INVALID_ARGUMENT, 'release first');
    ring.release();
    const seen: number[] = [];
    assert.equal(
      ring.poll((view, tag) => {
        assert.deepEqual(view, bytes(tag * 10, tag));
        seen.push(tag);
      }, 3),
      3,
    );
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(ring.poll(() => {}), 1);
    assert.equal(ring.poll(() => {}), 0);
  });

  void it('enforces the record limit with PAYLOAD_TOO_LARGE and checks the layout', () => {
    const sab = new SharedArrayBuffer(ringByteLength(512));
    const ring = SpscRing.create(sab, { capacity: 512, maxRecordBytes: 100 });
    assert.equal(ring.maxRecordBytes, 100);
    assert.equal(codeOf(() => ring.tryWrite(new Uint8Array(101))), ErrorCode.PAYLOAD_TOO_LARGE);
    assert.ok(ring.tryWrite(new Uint8Array(100)));
    assert.equal(codeOf(() => SpscRing.create(sab, { capacity: 500 })), ErrorCode.INVALID_ARGUMENT, 'not a power of two');
    assert.equal(codeOf(() => SpscRing.create(sab, { capacity: 1024 })), ErrorCode.SHM_INCOMPATIBLE, 'does not fit');
    assert.equal(codeOf(() => SpscRing.create(sab, { capacity: 512, maxRecordBytes: 505 })), ErrorCode.INVALID_ARGUMENT);
    assert.equal(codeOf(() => SpscRing.create(sab, { byteOffset: 4 })), ErrorCode.INVALID_ARGUMENT, 'misaligned');
    assert.equal(codeOf(() => MpscRing.attach(sab)), ErrorCode.SHM_INCOMPATIBLE, 'kind mismatch');
    assert.equal(codeOf(() => SpscRing.attach(new SharedArrayBuffer(4096))), ErrorCode.SHM_INCOMPATIBLE, 'no magic');
    const layout = readRingLayout(sab, RingKind.SPSC);
    assert.deepEqual(layout, { kind: 'spsc', byteOffset: 0, capacity: 512, maxRecordBytes: 100, wake: 'atomics', byteLength: RING_CONTROL_BYTES + 512 });
    assert.equal(initRing(new SharedArrayBuffer(10_000), RingKind.MPSC).capacity, 8192, 'default capacity: the largest power of two that fits');
  });

  void it('closeWrite ends reading after the data; closeRead makes writes fail', async () => {
    const sab = new SharedArrayBuffer(ringByteLength(256));
    const ring = SpscRing.create(sab, { capacity: 256 });
    ring.tryWrite(bytes(5, 1));
    ring.closeWrite();
    assert.equal(codeOf(() => ring.tryWrite(bytes(1, 1))), ErrorCode.CONNECTION_CLOSED);
    assert.deepEqual(await ring.read({ timeoutMs: 1000 }), bytes(5, 1));
    assert.equal(await ring.read({ timeoutMs: 1000 }), null);
    assert.equal(ring.readSync({ timeoutMs: 1000 }), null);

    const sab2 = new SharedArrayBuffer(ringByteLength(256));
    const r2 = SpscRing.create(sab2, { capacity: 256 });
    r2.closeRead();
    assert.equal(codeOf(() => r2.tryWrite(bytes(1, 1))), ErrorCode.CONNECTION_CLOSED);
    await assert.rejects(r2.write(bytes(1, 1)), { code: ErrorCode.CONNECTION_CLOSED });
  });

  void it('reads and writes time out and abort with coded errors', async () => {
    const sab = new SharedArrayBuffer(ringByteLength(256));
    const ring = SpscRing.create(sab, { capacity: 256, maxRecordBytes: 200 });
    const t0 = performance.now();
    await assert.rejects(ring.read({ timeoutMs: 50 }), { code: ErrorCode.TIMEOUT });
    assert.ok(performance.now() - t0 >= 45);
    assert.throws(() => ring.readSync({ timeoutMs: 20 }), { code: ErrorCode.TIMEOUT });
    const ac = new AbortController();
    const pending = ring.read({ signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop')), 20);
    await assert.rejects(pending, /stop/);
    assert.ok(ring.tryWrite(new Uint8Array(200)));
    await assert.rejects(ring.write(new Uint8Array(200), 0, { timeoutMs: 30 }), { code: ErrorCode.TIMEOUT });
  });

  void it('a waiting reader is woken by a write (async, same thread)', async () => {
    const sab = new SharedArrayBuffer(ringByteLength(256));
    const ring = SpscRing.create(sab, { capacity: 256, spinIterations: 0 });
    const pending = ring.read({ timeoutMs: 2000 });
    setTimeout(() => ring.tryWrite(bytes(9, 3), 3), 30);
    assert.deepEqual(await pending, bytes(9, 3));
  });

  void it('a reader that passes a skip record and then waits hands the space back first', () => {
    const sab = new SharedArrayBuffer(ringByteLength(256));
    const writer = SpscRing.create(sab, { capacity: 256, maxRecordBytes: 200 });
    const reader = SpscRing.attach(sab);
    assert.ok(writer.tryWrite(bytes(100, 1)));
    assert.deepEqual(reader.tryRead(), bytes(100, 1));
    // 150 bytes do not fit before the end: the writer lays a skip record and must wait
    // for the reader to pass it.
    assert.equal(writer.tryWrite(bytes(150, 2)), false);
    // The reader only waits (passing the skip, finding nothing else) and times out...
    assert.throws(() => reader.waitReadableSync({ timeoutMs: 20 }), { code: ErrorCode.TIMEOUT });
    // ...but the space behind the skip is the writer's again.
    assert.ok(writer.tryWrite(bytes(150, 2)));
    assert.deepEqual(reader.tryRead(), bytes(150, 2));
  });

  void it('detects a corrupt record header with RING_CORRUPT', () => {
    const sab = new SharedArrayBuffer(ringByteLength(256));
    const ring = SpscRing.create(sab, { capacity: 256, maxRecordBytes: 64 });
    ring.tryWrite(bytes(8, 1));
    new Int32Array(sab, RING_CONTROL_BYTES, 1)[0] = 1000; // length beyond the limit
    assert.equal(codeOf(() => ring.tryRead()), ErrorCode.RING_CORRUPT);
    new Int32Array(sab, RING_CONTROL_BYTES, 1)[0] = -12; // skip not a multiple of 8
    assert.equal(codeOf(() => ring.tryRead()), ErrorCode.RING_CORRUPT);
  });
});

void describe('MPSC ring (one thread, several producer handles)', () => {
  void it('delivers every committed record once, per-producer order kept, for random interleavings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 7, max: 11 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('reserve' as const), p: fc.integer({ min: 0, max: 2 }), len: fc.integer({ min: 0, max: 30 }), shrink: fc.integer({ min: 0, max: 5 }) }),
            fc.record({ kind: fc.constant('commit' as const), p: fc.integer({ min: 0, max: 2 }) }),
            fc.record({ kind: fc.constant('read' as const), n: fc.integer({ min: 1, max: 3 }) }),
          ),
          { maxLength: 300 },
        ),
        (log, ops) => {
          const capacity = 2 ** log;
          const sab = new SharedArrayBuffer(ringByteLength(capacity));
          const consumer = MpscRing.create(sab, { capacity });
          const producers = [0, 1, 2].map(() => MpscRing.attach(sab));
          const open: ({ view: Uint8Array; data: Uint8Array; tag: number; len: number } | undefined)[] = [undefined, undefined, undefined];
          // Records in reservation order; each is readable once it and all before it are committed.
          const order: { tag: number; data: Uint8Array; committed: boolean }[] = [];
          const next = [0, 0, 0];
          for (const op of ops) {
            if (op.kind === 'reserve') {
              if (open[op.p] !== undefined) continue;
              const view = producers[op.p]!.tryReserve(op.len);
              if (view === undefined) continue;
              const len = Math.max(0, op.len - op.shrink);
              const tag = (op.p << 24) | next[op.p]!++;
              const data = bytes(len, tag);
              open[op.p] = { view, data, tag, len };
              order.push({ tag, data, committed: false });
            } else if (op.kind === 'commit') {
              const o = open[op.p];
              if (o === undefined) continue;
              o.view.set(o.data);
              producers[op.p]!.commit(o.len, o.tag);
              order.find((r) => r.tag === o.tag)!.committed = true;
              open[op.p] = undefined;
            } else {
              for (let i = 0; i < op.n; i++) {
                const got = consumer.tryRead();
                const head = order[0];
                if (head === undefined || !head.committed) {
                  assert.equal(got, undefined, 'nothing readable past an uncommitted record');
                  break;
                }
                order.shift();
                assert.deepEqual(got, head.data);
                assert.equal(consumer.lastTag, head.tag);
              }
            }
          }
          for (let p = 0; p < 3; p++) {
            const o = open[p];
            if (o === undefined) continue;
            o.view.set(o.data);
            producers[p]!.commit(o.len, o.tag);
            order.find((r) => r.tag === o.tag)!.committed = true;
          }
          for (const want of order) {
            assert.deepEqual(consumer.tryRead(), want.data);
            assert.equal(consumer.lastTag, want.tag);
          }
          assert.equal(consumer.tryRead(), undefined);
          assert.equal(consumer.usedBytes, 0);
          // Everything consumed was zeroed, so no stale header can ever look committed.
          assert.ok(new Uint8Array(sab, RING_CONTROL_BYTES, capacity).every((b) => b === 0));
        },
      ),
      { numRuns: 200 },
    );
  });

  void it('tryWrite from several handles, wraparound included', () => {
    const sab = new SharedArrayBuffer(ringByteLength(256));
    const consumer = MpscRing.create(sab, { capacity: 256 });
    const a = MpscRing.attach(sab);
    const b = MpscRing.attach(sab);
    let sent = 0;
    let got = 0;
    for (let round = 0; round < 500; round++) {
      const w = round % 2 === 0 ? a : b;
      if (w.tryWrite(bytes(round % 50, round), round)) sent++;
      if (round % 3 === 0) {
        while (consumer.tryRead() !== undefined) got++;
      }
    }
    while (consumer.tryRead() !== undefined) got++;
    assert.equal(got, sent);
    assert.ok(sent > 400);
  });
});
