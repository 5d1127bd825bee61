import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kv, type KvChange } from '../../src/patterns/index.js';
import { durableFixture } from '../durable/helpers.js';
import { rejectionCode, sleep, waitFor, within } from '../helpers/wait.js';

/** Collect `n` changes from a watch (bounded by `ms`), then stop it. */
async function collect(iter: AsyncIterable<KvChange>, n: number, ms: number): Promise<KvChange[]> {
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

void it('put / get / create / update (CAS) / delete with per-bucket revisions', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'sessions', { timeoutMs: 3000 });
  assert.equal(await s.get('user.1'), undefined);
  const r1 = await s.put('user.1', 'a');
  const r2 = await s.put('user.2', 'b');
  assert.ok(r2 > r1);
  const e1 = await s.get('user.1');
  assert.equal(e1?.string(), 'a');
  assert.equal(e1?.revision, r1);
  assert.equal(await rejectionCode(s.create('user.1', 'x'), 3000), 'PLEXUS_ERR_KV_KEY_EXISTS');
  await sleep(5);
  const r3 = await s.update('user.1', 'a2', r1);
  assert.ok(r3 > r2);
  const e3 = await s.get('user.1');
  assert.equal(e3?.string(), 'a2');
  assert.equal(e3?.createdAt, e1?.createdAt, 'createdAt survives an update');
  assert.ok(e3!.updatedAt >= e1!.updatedAt);
  // The loser of a race: its revision is stale.
  assert.equal(await rejectionCode(s.update('user.1', 'lost', r1), 3000), 'PLEXUS_ERR_KV_WRONG_REVISION');
  assert.equal((await s.get('user.1'))?.string(), 'a2');
  assert.equal(await rejectionCode(s.delete('user.1', { revision: r1 }), 3000), 'PLEXUS_ERR_KV_WRONG_REVISION');
  const d = await s.delete('user.1', { revision: r3 });
  assert.equal(d.deleted, true);
  assert.equal(await s.get('user.1'), undefined);
  assert.equal((await s.delete('user.1')).deleted, false);
  // Absent again: create works, update against revision 0 works only when absent.
  await s.create('user.1', 'again');
  assert.equal((await s.get('user.1'))?.string(), 'again');
  await s.put('user.3', JSON.stringify({ n: 1 }));
  assert.deepEqual((await s.get('user.3'))?.json(), { n: 1 });
  assert.deepEqual(await s.keys(), ['user.1', 'user.2', 'user.3']);
  assert.deepEqual(await s.keys('user.2'), ['user.2']);
  assert.deepEqual(await s.keys('other.>'), []);
});

void it('validates keys, values and options with coded errors', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'small', { maxValueBytes: 100 });
  assert.throws(() => kv(f.bus, 'bad name'), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  await assert.rejects(s.put('a b', 'x'), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  await assert.rejects(s.put('a.*', 'x'), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  await assert.rejects(s.put('a..b', 'x'), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  await assert.rejects(s.put('k'.repeat(257), 'x'), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  assert.equal(await rejectionCode(s.put('big', 'x'.repeat(101)), 3000), 'PLEXUS_ERR_PAYLOAD_TOO_LARGE');
  await s.put('ok', 'x'.repeat(100));
  // Opening it again with a conflicting configuration is refused; without options it opens.
  assert.equal(await rejectionCode(kv(f.bus, 'small', { maxValueBytes: 200 }).get('ok'), 3000), 'PLEXUS_ERR_DURABLE_EXISTS');
  assert.equal((await kv(f.bus, 'small').get('ok'))?.value.length, 100);
  assert.equal(await rejectionCode(kv(f.bus, 'nope', { create: false }).get('x'), 3000), 'PLEXUS_ERR_DURABLE_NOT_FOUND');
});

void it('values, revisions and history survive a service restart', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'h', { history: 3 });
  const revs: number[] = [];
  for (let i = 0; i < 5; i++) revs.push(await s.put('k', `v${i}`));
  await s.put('gone', 'x');
  await s.delete('gone');
  await f.restart();
  const e = await s.get('k');
  assert.equal(e?.string(), 'v4');
  assert.equal(e?.revision, revs[4]);
  assert.deepEqual((await s.history('k')).map((c) => [c.op, c.string()]), [['put', 'v2'], ['put', 'v3'], ['put', 'v4']]);
  assert.deepEqual((await s.history('gone')).map((c) => c.op), ['put', 'del']);
  assert.equal(await s.get('gone'), undefined);
  assert.equal((await s.get('k', { revision: revs[3]! }))?.string(), 'v3');
  // New revisions continue above the old ones.
  assert.ok((await s.put('k', 'v5')) > revs[4]!);
});

void it('TTL: an expired key reads as absent, is removed with an expire tombstone, and watchers see it', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'ttl');
  const ac = new AbortController();
  t.after(() => ac.abort());
  const seen = collect(s.watch('sess.>', { signal: ac.signal, includeCurrent: false }), 3, 10_000);
  await sleep(50);
  await s.put('sess.a', 'short', { ttlMs: 1500 });
  await s.put('sess.b', 'long', { ttlMs: 60_000 });
  assert.equal((await s.get('sess.a'))?.string(), 'short');
  assert.ok((await s.get('sess.a'))!.expiresAt! > Date.now());
  await waitFor(async () => (await s.get('sess.a')) === undefined, 6000, 'sess.a expired');
  const changes = await seen;
  assert.deepEqual(changes.map((c) => [c.op, c.key]), [['put', 'sess.a'], ['put', 'sess.b'], ['expire', 'sess.a']]);
  assert.deepEqual(await s.keys(), ['sess.b']);
  // Bucket default TTL applies to keys put without one.
  const d = kv(f.bus, 'ttl-default', { ttlMs: 150 });
  await d.put('x', '1');
  await waitFor(async () => (await d.get('x')) === undefined, 3000, 'default ttl');
});

void it('watch: current values first, then every change in revision order; resumes after a break and across a restart', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'w');
  await s.put('cfg.a', '1');
  await s.put('cfg.b', '2');
  await s.put('other', 'x');
  const ac = new AbortController();
  t.after(() => ac.abort());
  const iter = s.watch('cfg.>', { signal: ac.signal })[Symbol.asyncIterator]();
  const first = [(await iter.next()).value as KvChange, (await iter.next()).value as KvChange];
  assert.deepEqual(first.map((c) => [c.key, c.string()]), [['cfg.a', '1'], ['cfg.b', '2']]);
  const r = await s.put('cfg.a', '3');
  await s.put('other', 'y');
  await s.delete('cfg.b');
  const n1 = (await within(iter.next(), 3000, 'change 1')).value as KvChange;
  const n2 = (await within(iter.next(), 3000, 'change 2')).value as KvChange;
  assert.deepEqual([n1.op, n1.key, n1.string(), n1.revision], ['put', 'cfg.a', '3', r]);
  assert.deepEqual([n2.op, n2.key], ['del', 'cfg.b']);
  assert.ok(n2.revision > n1.revision);
  await iter.return?.();
  // Changes made while nobody watched, and across a service restart, are not lost.
  await s.put('cfg.c', '4');
  await f.restart();
  await s.put('cfg.c', '5');
  const resumed = await collect(s.watch('cfg.>', { afterRevision: n2.revision, signal: ac.signal }), 2, 5000);
  assert.deepEqual(resumed.map((c) => c.string()), ['4', '5']);
  // A watcher running while the service restarts carries on from its last revision.
  const live = collect(s.watch('live.>', { includeCurrent: false, signal: ac.signal }), 3, 10_000);
  await sleep(50);
  await s.put('live.1', 'a');
  await sleep(50);
  await f.restart();
  await s.put('live.2', 'b');
  await s.put('live.3', 'c');
  assert.deepEqual((await live).map((c) => c.string()), ['a', 'b', 'c']);
});

void it('superseded revisions are compacted away; the newest values stay (and survive a restart)', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'compact', { fsync: { intervalMs: 50 } });
  const value = 'v'.repeat(2000);
  let last = 0;
  // ~5000 × 2 KiB over 4 keys: more than two 4 MiB segments, mostly superseded.
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; i < 625; i++) last = Math.max(last, await s.put(`k.${(w + i) % 4}`, `${value}${w}.${i}`));
  });
  await Promise.all(writers);
  await waitFor(async () => (await s.info()).state.records < 2500, 10_000, 'compaction reclaimed records');
  const info = await s.info();
  assert.equal(info.state.keys, 4);
  assert.equal(info.state.revision, last);
  const before = await Promise.all([0, 1, 2, 3].map((k) => s.get(`k.${k}`)));
  await f.restart();
  for (let k = 0; k < 4; k++) {
    const e = await s.get(`k.${k}`);
    assert.equal(e?.revision, before[k]?.revision);
    assert.equal(e?.string(), before[k]?.string());
  }
});

void it('concurrent writes share fsyncs yet compare-and-set stays exact: one create wins, one update per revision wins', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'race');
  const clients = await Promise.all(Array.from({ length: 4 }, () => f.client()));
  const handles = [s, ...clients.map((c) => kv(c.bus, 'race'))];
  const creates = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => handles[i % handles.length]!.create('k', `c${i}`)));
  assert.equal(creates.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of creates) if (r.status === 'rejected') assert.equal((r.reason as { code: string }).code, 'PLEXUS_ERR_KV_KEY_EXISTS');
  const base = (await s.get('k'))!;
  const updates = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => handles[i % handles.length]!.update('k', `u${i}`, base.revision)));
  const won = updates.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
  assert.equal(won.length, 1);
  assert.equal((await s.get('k'))!.string(), `u${won[0]}`);
  // Plain puts: every one acknowledged with its own revision, in one order.
  const revs = await Promise.all(Array.from({ length: 200 }, (_, i) => handles[i % handles.length]!.put(`p.${i % 7}`, String(i))));
  assert.equal(new Set(revs).size, 200);
  for (let k = 0; k < 7; k++) {
    const mine = revs.map((r, i) => [r, i] as const).filter(([, i]) => i % 7 === k);
    const newest = mine.reduce((a, b) => (b[0] > a[0] ? b : a));
    assert.equal((await s.get(`p.${k}`))!.string(), String(newest[1]), `p.${k} holds its highest-revision write`);
  }
  // The bucket's revision is its newest write's.
  assert.equal((await s.info()).state.revision, Math.max(...revs));
});

void it('a corrupt record in a bucket log is never served and does not stall reads or watchers', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'rot');
  await s.put('a', 'A'.repeat(64));
  await s.put('b', 'B'.repeat(64));
  await s.put('c', 'C'.repeat(64));
  await f.service.close();
  const file = join(f.dir, 'kv', 'rot', 'log', '00000000000000000001.log');
  const bytes = await readFile(file);
  const at = bytes.indexOf('BBBBBBBB');
  assert.ok(at > 0);
  bytes[at + 3] ^= 0xff; // bit rot inside the middle record's payload
  await writeFile(file, bytes);
  await f.restart();
  assert.equal((await s.get('a'))?.string(), 'A'.repeat(64));
  assert.equal((await s.get('c'))?.string(), 'C'.repeat(64));
  assert.equal(await s.get('b'), undefined, 'the corrupt value is not served');
  const ac = new AbortController();
  t.after(() => ac.abort());
  const seen = await collect(s.watch('>', { afterRevision: 0, signal: ac.signal }), 2, 5000);
  assert.deepEqual(seen.map((c) => c.key), ['a', 'c']);
});

void it('watch pages through more current values than one reply holds, then continues with changes', async (t) => {
  const f = await durableFixture(t);
  const s = kv(f.bus, 'many', { fsync: { intervalMs: 50 } });
  const N = 2500; // more than MAX_PAGE_ENTRIES (1000)
  for (let i = 0; i < N; i += 250) await Promise.all(Array.from({ length: 250 }, (_, j) => s.put(`k.${String(i + j).padStart(5, '0')}`, String(i + j))));
  assert.equal((await s.keys()).length, N);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const iter = s.watch('k.>', { signal: ac.signal })[Symbol.asyncIterator]();
  const got: KvChange[] = [];
  await within(
    (async () => {
      while (got.length < N) got.push((await iter.next()).value as KvChange);
    })(),
    20_000,
    'current values',
  );
  assert.equal(new Set(got.map((c) => c.key)).size, N);
  assert.ok(got.every((c) => c.op === 'put' && c.string() === String(Number(c.key.slice(2)))));
  const rev = await s.put('k.99999', 'new');
  const next = (await within(iter.next(), 5000, 'the change after the snapshot')).value as KvChange;
  assert.deepEqual([next.key, next.revision, next.string()], ['k.99999', rev, 'new']);
  await iter.return?.();
});
