import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openLog, type Log, type LogOptions } from '../../src/store/index.js';
import { payloadFor, tempDir } from './helpers.js';

type Op =
  | { readonly op: 'append'; readonly sizes: number[] }
  | { readonly op: 'batch'; readonly sizes: number[] }
  | { readonly op: 'reopen' }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'compact'; readonly mod: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('append' as const), sizes: fc.array(fc.nat(300), { minLength: 1, maxLength: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('batch' as const), sizes: fc.array(fc.nat(200), { minLength: 1, maxLength: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('reopen' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat(10_000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('compact' as const), mod: fc.integer({ min: 2, max: 4 }) }) },
);

/** What the model knows about a sequence: its exact content, or "kept or compacted away". */
type Entry = { readonly subject: string; readonly tag: number; readonly len: number; readonly maybe: boolean };

void it('property: appends, reopens, truncations and compactions keep read(seq) consistent with a model', async (t) => {
  const opts: LogOptions = { segmentBytes: 700, indexIntervalBytes: 128 };
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
      const dir = await tempDir(t, `plexus-model-${runs++}-`);
      let log: Log = await openLog(dir, opts);
      const model = new Map<number, Entry>();
      let marker = 1;
      let last = 0;
      let tag = 0;
      try {
        for (const o of ops) {
          if (o.op === 'append' || o.op === 'batch') {
            const recs = o.sizes.map((len) => ({ subject: `s.${tag % 5}`, tag: tag++, len }));
            const input = recs.map((r) => ({ subject: r.subject, payload: payloadFor(r.tag, r.len) }));
            const res = o.op === 'batch' ? await log.appendBatch(input) : await Promise.all(input.map((r) => log.append(r)));
            res.forEach((r, i) => {
              assert.equal(r.seq, last + 1 + i);
              model.set(r.seq, { ...recs[i]!, maybe: false });
            });
            last += recs.length;
          } else if (o.op === 'reopen') {
            await log.close();
            log = await openLog(dir, opts);
            assert.equal(log.recovery.truncatedBytes, 0);
            assert.deepEqual(log.recovery.indexesRebuilt, []);
          } else if (o.op === 'truncate') {
            const at = o.at % (last + 3);
            await log.truncateBefore(at);
            marker = Math.max(marker, Math.min(at, last + 1));
          } else {
            await log.compact((r) => r.seq % o.mod === 0);
            for (const [seq, e] of model) if (seq % o.mod !== 0) model.set(seq, { ...e, maybe: true });
          }
          assert.equal(log.lastSeq, last);
          assert.ok(log.firstSeq >= Math.min(marker, last + 1), `firstSeq ${log.firstSeq} below marker ${marker}`);
          const firstDefinite = [...model].filter(([s, e]) => s >= marker && !e.maybe).map(([s]) => s)[0];
          if (firstDefinite !== undefined) assert.ok(log.firstSeq <= firstDefinite, 'firstSeq hides a record');
          for (let s = 0; s <= last + 1; s++) {
            const r = await log.read(s);
            const e = model.get(s);
            if (s < marker || e === undefined) {
              assert.equal(r, undefined, `seq ${s} should be gone`);
              continue;
            }
            if (r === undefined) {
              assert.ok(e.maybe, `seq ${s} missing`);
              continue;
            }
            assert.equal(r.subject, e.subject);
            assert.ok(Buffer.from(r.payload).equals(payloadFor(e.tag, e.len)), `seq ${s} payload`);
          }
          const all = await log.readRange(0, { maxRecords: 100_000, maxBytes: Infinity });
          const expected = [...model].filter(([s, e]) => s >= marker && !e.maybe).map(([s]) => s);
          const got = new Set(all.map((r) => r.seq));
          for (const s of expected) assert.ok(got.has(s), `readRange misses ${s}`);
          assert.equal(log.stats().records, all.length);
        }
      } finally {
        await log.close();
      }
    }),
    { numRuns: 60 },
  );
});
