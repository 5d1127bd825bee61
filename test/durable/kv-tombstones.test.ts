import { it } from 'node:test';
import assert from 'node:assert/strict';
import { kv, type KvChange } from '../../src/patterns/index.js';
import { durableFixture } from './helpers.js';
import { rejection, waitFor, within } from '../helpers/wait.js';

/** The first `n` changes of a watch, bounded by `ms`. */
async function firstChanges(iter: AsyncIterable<KvChange>, n: number, ms: number): Promise<KvChange[]> {
  const out: KvChange[] = [];
  await within(
    (async () => {
      for await (const c of iter) {
        out.push(c);
        if (out.length >= n) break;
      }
    })(),
    ms,
    `${n} changes (got ${out.length})`,
  );
  return out;
}

void it('purge drops a key and its history; watchers see the marker; a watcher resuming from before it gets KV_WRONG_REVISION once it is compacted away', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'purging', { history: 5, timeoutMs: 3000 });
  const r1 = await s.put('doc.1', 'v1');
  await s.put('doc.1', 'v2');
  await s.put('doc.2', 'other');
  const ac = new AbortController();
  t.after(() => ac.abort());
  const live = s.watch('doc.1', { afterRevision: r1, signal: ac.signal })[Symbol.asyncIterator]();
  const p = await s.purge('doc.1');
  assert.equal(p.purged, true);
  assert.equal(await s.get('doc.1'), undefined);
  assert.deepEqual((await s.history('doc.1')).map((c) => c.op), ['purge'], 'only the marker is left');
  assert.equal((await s.purge('never.written')).purged, false);
  const seen = [(await within(live.next(), 5000, 'v2')).value as KvChange, (await within(live.next(), 5000, 'purge')).value as KvChange];
  assert.deepEqual(
    seen.map((c) => [c.op, c.revision]),
    [
      ['put', r1 + 1],
      ['purge', p.revision],
    ],
  );
  // The next compaction forgets the marker too.
  await waitFor(async () => (await s.history('doc.1')).length === 0, 10_000, 'the purge marker is compacted away');
  assert.equal((await s.get('doc.2'))?.string(), 'other', 'other keys are untouched');
  // A watcher that has not seen the purge cannot be told about it any more: coded error.
  const err = (await rejection(firstChanges(s.watch('doc.>', { afterRevision: r1 }), 1, 5000), 5000)) as { code: string; details: { purgedThrough: number } };
  assert.equal(err.code, 'PLEXUS_ERR_KV_WRONG_REVISION');
  assert.equal(err.details.purgedThrough, p.revision);
  // Resuming from at or after the marker, or watching afresh, works; so does using the key again.
  const fresh = s.watch('doc.>', { signal: ac.signal })[Symbol.asyncIterator]();
  assert.equal(((await within(fresh.next(), 5000, 'current value')).value as KvChange).key, 'doc.2');
  const r9 = await s.put('doc.1', 'again');
  assert.equal(((await within(fresh.next(), 5000, 'new put')).value as KvChange).revision, r9);
  // The mark survives a restart.
  await f.restart();
  const after = (await rejection(firstChanges(s.watch('doc.>', { afterRevision: r1 }), 1, 8000), 8000)) as { code: string };
  assert.equal(after.code, 'PLEXUS_ERR_KV_WRONG_REVISION');
  assert.equal((await s.get('doc.1'))?.string(), 'again');
});

void it('tombstones older than tombstoneTtlMs are removed by compaction, from the index and from disk, so delete churn does not grow the bucket', async (t) => {
  const f = await durableFixture(t);
  // tombstoneTtlMs 0: a tombstone goes at the first compaction after it is written.
  const s = kv(f.bus, 'churn', { tombstoneTtlMs: 0, timeoutMs: 10_000 });
  const big = new Uint8Array(200_000).fill(7); // 21 of them fill a 4 MiB segment, so it is sealed (only sealed segments are compacted)
  const keys = (p: string) => Array.from({ length: 22 }, (_, i) => `${p}.${i}`);
  const before = (await s.info()).state.bytes;
  for (const k of keys('a')) await s.put(k, big);
  for (const k of keys('a')) await s.delete(k);
  await waitFor(async () => (await s.history('a.0')).length === 0 && (await s.history('a.21')).length === 0, 10_000, 'deleted keys forgotten');
  // Seal the segment holding the tombstones, then one more delete runs another compaction.
  for (const k of keys('b')) await s.put(k, big);
  await s.delete('b.0');
  await waitFor(async () => (await s.history('b.0')).length === 0, 10_000, 'b.0 forgotten');
  await waitFor(async () => (await s.info()).state.records <= 22, 10_000, 'compaction removed the a.* records');
  const info = (await s.info()).state;
  assert.equal(info.keys, 21);
  assert.ok(info.bytes < before + 22 * 200_000 + 1_000_000, `bytes ${info.bytes}: the a.* values are gone from disk`);
  // After a restart the index is rebuilt from disk: nothing of a.* is left there.
  await f.restart();
  assert.deepEqual(await s.history('a.5'), []);
  assert.deepEqual(await s.keys('a.>'), []);
  assert.equal((await s.keys('b.>')).length, 21);
  assert.equal((await s.get('b.1'))?.value.length, 200_000);
});

void it('tombstoneTtlMs is validated and kept in the bucket config', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'keeps', { timeoutMs: 3000 });
  assert.equal((await s.info()).config.tombstoneTtlMs, 3_600_000);
  const bad = kv(f.bus, 'bad-ttl', { tombstoneTtlMs: -1, timeoutMs: 3000 });
  assert.equal(((await rejection(bad.info(), 3000)) as { code: string }).code, 'PLEXUS_ERR_INVALID_ARGUMENT');
  // A deleted key's tombstone stays (watchers and history see it) while it is younger than the TTL.
  await s.put('k', 'v');
  await s.delete('k');
  assert.deepEqual((await s.history('k')).map((c) => c.op), ['del']);
});
