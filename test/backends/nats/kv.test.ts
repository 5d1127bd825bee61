/**
 * KV on JetStream KV through the nats:// adapter, beyond the conformance suite: what it
 * refuses (and why), bucket-wide TTL, delete/purge results, update-only watches, info.
 * Needs nats-server with JetStream on 127.0.0.1:4222 (fails, not skips, when down).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { ErrorCode, kv, mailbox, queue, type Bus, type KvBucket, type KvOptions } from '../../../src/index.js';
import { Cleanup } from '../../helpers/plexus.js';
import { codeOf, rejection, thrownCode, waitFor, within } from '../../helpers/wait.js';
import { natsTarget } from '../../conformance/targets.js';

const WAIT_MS = 10_000;

/** A fresh bucket on the shared server, destroyed when the test ends. */
async function freshBucket(t: TestContext, options: KvOptions = {}): Promise<{ bus: Bus; bucket: KvBucket }> {
  const cleanup = new Cleanup(t);
  const { connect } = await natsTarget.open(cleanup);
  const bus = await connect();
  const bucket = kv(bus, `t${randomBytes(8).toString('hex')}`, options);
  cleanup.defer(() => bucket.destroy().catch(() => undefined));
  return { bus, bucket };
}

test('nats kv: a per-key TTL, a fence and keys JetStream cannot hold are refused, not faked', async (t) => {
  const { bucket } = await freshBucket(t);
  assert.equal(codeOf(await rejection(bucket.put('a', 'x', { ttlMs: 1000 }), WAIT_MS)), ErrorCode.NOT_SUPPORTED);
  const fence = { lock: 'l', token: 1, kind: 'lock' as const };
  assert.equal(codeOf(await rejection(bucket.put('a', 'x', { fence }), WAIT_MS)), ErrorCode.NOT_SUPPORTED);
  assert.equal(codeOf(await rejection(bucket.put('user:1', 'x'), WAIT_MS)), ErrorCode.INVALID_ARGUMENT);
  assert.equal(await bucket.get('a'), undefined, 'nothing was written by a refused put');
});

test('nats: queue and mailbox say they are not supported, with the reason', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect } = await natsTarget.open(cleanup);
  const bus = await connect();
  for (const make of [() => queue(bus, 'q1'), () => mailbox(bus, 'owner1')]) {
    assert.equal(thrownCode(make), ErrorCode.NOT_SUPPORTED);
  }
});

test('nats kv: the bucket-wide ttlMs expires keys', async (t) => {
  const { bucket } = await freshBucket(t, { ttlMs: 1000 });
  await bucket.put('session.1', 'token', { ttlMs: 1000 }); // the bucket's own TTL is accepted per write
  assert.equal((await bucket.get('session.1'))?.string(), 'token');
  await waitFor(async () => (await bucket.get('session.1')) === undefined, WAIT_MS, 'the key to expire');
});

test('nats kv: delete and purge say whether there was something; purge drops the history', async (t) => {
  const { bucket } = await freshBucket(t, { history: 5 });
  assert.equal((await bucket.delete('none')).deleted, false);
  const r1 = await bucket.put('k', 'v1');
  await bucket.put('k', 'v2');
  assert.equal(codeOf(await rejection(bucket.delete('k', { revision: r1 }), WAIT_MS)), ErrorCode.KV_WRONG_REVISION);
  const del = await bucket.delete('k');
  assert.equal(del.deleted, true);
  assert.ok(del.revision > r1);
  assert.deepEqual((await bucket.history('k')).map((c) => c.op), ['put', 'put', 'del']);
  const again = await bucket.create('k', 'v3'); // create over a tombstone
  assert.ok(again > del.revision);
  const p = await bucket.purge('k');
  assert.equal(p.purged, true);
  assert.deepEqual((await bucket.history('k')).map((c) => c.op), ['purge']);
  assert.equal(await bucket.get('k'), undefined);
});

test('nats kv: a watch with includeCurrent false sees only later changes; info counts live keys', async (t) => {
  const { bucket } = await freshBucket(t);
  await bucket.put('a.1', 'old');
  await bucket.put('a.gone', 'x');
  await bucket.delete('a.gone');
  const ac = new AbortController();
  const it = bucket.watch('a.>', { signal: ac.signal, includeCurrent: false })[Symbol.asyncIterator]();
  const next = within(it.next(), WAIT_MS, 'a change');
  // The watch is set up asynchronously: write until it is seen (bounded by `next`).
  const writer = setInterval(() => void bucket.put('a.2', 'new').catch(() => undefined), 200);
  try {
    const r = await next;
    assert.equal(r.done, false);
    assert.deepEqual([r.value.op, r.value.key, r.value.string()], ['put', 'a.2', 'new']);
  } finally {
    clearInterval(writer);
    ac.abort();
  }
  await within(it.return?.() ?? Promise.resolve(undefined), WAIT_MS, 'the watch to end');
  const info = await bucket.info();
  assert.equal(info.state.keys, 2);
  assert.equal(info.config.history, 1);
});

test('nats kv: create false on a bucket that does not exist fails with a code', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect } = await natsTarget.open(cleanup);
  const bus = await connect();
  const err = await rejection(kv(bus, `missing${randomBytes(6).toString('hex')}`, { create: false }).get('a'), WAIT_MS);
  assert.equal(codeOf(err), ErrorCode.DURABLE_NOT_FOUND);
});
