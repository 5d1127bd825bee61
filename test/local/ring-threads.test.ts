/**
 * Rings between worker threads over a plain SharedArrayBuffer (no addon): SPSC between two
 * workers and MPSC with three producer workers, with random geometry from fast-check;
 * the main thread as an async reader; and an idle reader that burns no CPU.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MpscRing, SpscRing, ringByteLength } from '../../src/local/index.js';
import { Cleanup, runWorker } from './helpers.js';
import { isRecord } from './fixtures/records.js';

interface ConsumeResult {
  received: number;
  bad: string[];
  perProducer?: number[];
}

void describe('rings between worker threads', () => {
  void it('SPSC: every record arrives once, in order, intact (random sizes, capacities, wraparound)', async (t) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 8, max: 16 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 500, max: 20_000 }),
        fc.constantFrom(0, 50, 2000),
        async (log, seed, count, spinIterations) => {
          const cleanup = new Cleanup(t);
          const capacity = 2 ** log;
          const buffer = new SharedArrayBuffer(ringByteLength(capacity));
          SpscRing.create(buffer, { capacity });
          const base = { buffer, byteOffset: 0, count, seed, spinIterations };
          const consumer = runWorker<ConsumeResult>(cleanup, { ...base, role: 'spsc-consume' });
          const producer = runWorker(cleanup, { ...base, role: 'spsc-produce' });
          const [c] = await Promise.all([consumer.result, producer.result]);
          assert.deepEqual(c.bad, []);
          assert.equal(c.received, count);
        },
      ),
      { numRuns: 6 },
    );
  });

  void it('MPSC with 3 producer workers: every record exactly once, per-producer order kept', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 9, max: 14 }), fc.integer({ min: 0, max: 2 ** 24 }), async (log, seed) => {
        const cleanup = new Cleanup(t);
        const capacity = 2 ** log;
        const count = 5000;
        const buffer = new SharedArrayBuffer(ringByteLength(capacity));
        MpscRing.create(buffer, { capacity });
        const base = { buffer, byteOffset: 0, count, seed };
        const consumer = runWorker<ConsumeResult>(cleanup, { ...base, role: 'mpsc-consume', producers: 3 });
        const producers = [0, 1, 2].map((producer) => runWorker(cleanup, { ...base, role: 'mpsc-produce', producer }));
        const [c] = await Promise.all([consumer.result, ...producers.map((p) => p.result)]);
        assert.deepEqual(c.bad, []);
        assert.equal(c.received, 3 * count);
        assert.deepEqual(c.perProducer, [count, count, count]);
      }),
      { numRuns: 4 },
    );
  });

  void it('the main thread reads asynchronously (Atomics.waitAsync) from a worker producer', async (t) => {
    const cleanup = new Cleanup(t);
    const count = 20_000;
    const seed = 1234;
    const buffer = new SharedArrayBuffer(ringByteLength(4096));
    const ring = SpscRing.create(buffer, { capacity: 4096, spinIterations: 10 });
    // Keep the event loop visibly alive while we read.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    cleanup.defer(() => clearInterval(ticker));
    const producer = runWorker(cleanup, { buffer, byteOffset: 0, count, seed, role: 'spsc-produce' });
    let i = 0;
    for (;;) {
      const r = await ring.read({ timeoutMs: 20_000 });
      if (r === null) break;
      assert.equal(ring.lastTag, i);
      assert.ok(isRecord(seed, i, r, ring.maxRecordBytes), `record ${i}`);
      i++;
    }
    await producer.result;
    assert.equal(i, count);
    assert.ok(ticks > 0, 'timers kept running while the main thread waited');
  });

  void it('an idle reader sleeps instead of spinning (no CPU while waiting)', async (t) => {
    const cleanup = new Cleanup(t);
    const buffer = new SharedArrayBuffer(ringByteLength(1024));
    SpscRing.create(buffer, { capacity: 1024 });
    // The consumer worker waits for a producer that only comes 400 ms later.
    const consumer = runWorker<ConsumeResult>(cleanup, { buffer, byteOffset: 0, count: 10, seed: 5, role: 'spsc-consume' });
    await new Promise((r) => setTimeout(r, 50));
    const cpu0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 400));
    const cpu = process.cpuUsage(cpu0);
    // Process CPU over 400 ms of waiting: far below one busy core (400 ms).
    assert.ok(cpu.user + cpu.system < 150_000, `cpu while idle: ${(cpu.user + cpu.system) / 1000} ms`);
    const producer = runWorker(cleanup, { buffer, byteOffset: 0, count: 10, seed: 5, role: 'spsc-produce' });
    const [c] = await Promise.all([consumer.result, producer.result]);
    assert.equal(c.received, 10);
  });
});
