import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DELAY_HEADER, DELIVER_AT_HEADER, TTL_HEADER } from '../../src/durable/index.js';
import { rejectionCode, sleep, waitFor } from '../helpers/wait.js';
import { durableFixture } from './helpers.js';

void describe('durable service: delayed delivery, TTL, fetch maxBytes', () => {
  void it('holds a delayed message back until it is due, and keeps its due time across a restart', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'd', subjects: ['d.x'] });
    await f.ds.createConsumer({ stream: 'd', name: 'c' });
    const sentAt = Date.now();
    await f.ds.publish('d.x', 'later', { headers: { [DELAY_HEADER]: '700', app: 'kept' } });
    await f.ds.publish('d.x', 'now');
    const first = await f.ds.fetch('d', 'c', { batch: 10 });
    assert.deepEqual(first.map((m) => m.string()), ['now'], 'only the undelayed one is visible');
    await first[0]!.ack();
    assert.equal((await f.ds.consumerInfo('d', 'c')).state.scheduled, 1);
    // The due time is absolute and saved: a restart does not release it early.
    await f.restart();
    assert.deepEqual(await f.ds.fetch('d', 'c', { batch: 10, expiresMs: 100 }), []);
    const [late] = await f.ds.fetch('d', 'c', { batch: 10, expiresMs: 5000 });
    assert.equal(late!.string(), 'later');
    assert.ok(Date.now() - sentAt >= 650, `delivered after ${Date.now() - sentAt} ms`);
    assert.equal(late!.headers.app, 'kept');
    assert.equal(late!.headers[DELAY_HEADER], undefined, 'scheduling headers are not handed out');
    assert.equal(late!.deliveryCount, 1);
    await late!.ack();
    assert.deepEqual((await f.ds.consumerInfo('d', 'c')).state, { delivered: 2, ackFloor: 2, pending: 0, scheduled: 0 });
  });

  void it('deliver-at: a message for an absolute time; a waiting fetch wakes for it', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'a', subjects: ['a.x'] });
    await f.ds.createConsumer({ stream: 'a', name: 'c' });
    const at = Date.now() + 400;
    await f.ds.publish('a.x', 'at', { headers: { [DELIVER_AT_HEADER]: String(at) } });
    const [m] = await f.ds.fetch('a', 'c', { expiresMs: 5000 });
    assert.equal(m!.string(), 'at');
    assert.ok(Date.now() >= at - 20, 'not before its time');
  });

  void it('never delivers a message past its TTL, first delivery or redelivery; work-queue drops it', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'e', subjects: ['e.x'], retention: 'workqueue' });
    await f.ds.createConsumer({ stream: 'e', name: 'c', ackWaitMs: 200 });
    await f.ds.publish('e.x', 'short', { headers: { [TTL_HEADER]: '100' } });
    await f.ds.publish('e.x', 'long', { headers: { [TTL_HEADER]: '400' } });
    await f.ds.publish('e.x', 'forever');
    await sleep(150);
    const got = await f.ds.fetch('e', 'c', { batch: 10 });
    assert.deepEqual(got.map((m) => m.string()), ['long', 'forever'], 'the expired one is skipped');
    await got[1]!.ack();
    await got[0]!.nak({ delayMs: 400 }); // due again only after its TTL
    assert.deepEqual(await f.ds.fetch('e', 'c', { batch: 10, expiresMs: 700 }), []);
    const info = await f.ds.consumerInfo('e', 'c');
    assert.equal(info.state.pending, 0, 'the expired delivery was dropped');
    assert.equal(info.state.ackFloor, 3);
    assert.equal((await f.ds.streamInfo('e')).state.messages, 0, 'work-queue retention removed everything');
  });

  void it('a dead letter does not inherit the TTL: it waits in the DLQ after the original would have expired', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'x', subjects: ['x.y'] });
    await f.ds.createConsumer({ stream: 'x', name: 'c', ackWaitMs: 100, maxDeliver: 1 });
    await f.ds.publish('x.y', 'poison', { headers: { [TTL_HEADER]: '600' } });
    const [m] = await f.ds.fetch('x', 'c', { expiresMs: 1000 });
    assert.equal(m!.string(), 'poison'); // never acked: dead-lettered after its one delivery
    await waitFor(async () => (await f.ds.listStreams()).includes('DLQ.x') && (await f.ds.streamInfo('DLQ.x')).state.messages === 1, 3000, 'dead-lettered');
    await sleep(700); // past the original TTL
    await f.ds.createConsumer({ stream: 'DLQ.x', name: 'ops' });
    const [dead] = await f.ds.fetch('DLQ.x', 'ops', { expiresMs: 1000 });
    assert.equal(dead?.string(), 'poison');
    assert.equal(dead!.headers['dlq-reason'], 'max-deliver');
  });

  void it('refuses bad scheduling headers with a coded error', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'b', subjects: ['b.x'] });
    assert.equal(await rejectionCode(f.ds.publish('b.x', 'x', { headers: { [DELAY_HEADER]: 'soon' } }), 3000), 'PLEXUS_ERR_INVALID_ARGUMENT');
    assert.equal(await rejectionCode(f.ds.publish('b.x', 'x', { headers: { [TTL_HEADER]: '-5' } }), 3000), 'PLEXUS_ERR_INVALID_ARGUMENT');
    assert.equal(
      await rejectionCode(f.ds.publish('b.x', 'x', { headers: { [DELAY_HEADER]: String(365 * 86_400_000) } }), 3000),
      'PLEXUS_ERR_INVALID_ARGUMENT',
    );
    assert.equal((await f.ds.streamInfo('b')).state.messages, 0);
  });

  void it('fetch maxBytes cuts a batch by size but always returns one message', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'm', subjects: ['m.x'] });
    await f.ds.createConsumer({ stream: 'm', name: 'c' });
    for (let i = 0; i < 6; i++) await f.ds.publish('m.x', 'x'.repeat(1000));
    const one = await f.ds.fetch('m', 'c', { batch: 10, maxBytes: 1 });
    assert.equal(one.length, 1);
    const some = await f.ds.fetch('m', 'c', { batch: 10, maxBytes: 4000 });
    assert.ok(some.length >= 1 && some.length < 5, `cut by size: ${some.length}`);
    const rest = await f.ds.fetch('m', 'c', { batch: 10 });
    assert.equal(one.length + some.length + rest.length, 6);
    assert.equal(await rejectionCode(f.ds.fetch('m', 'c', { maxBytes: 0 }), 3000), 'PLEXUS_ERR_INVALID_ARGUMENT');
  });

  void it('stream read returns stored messages without a consumer', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'r', subjects: ['r.*'] });
    for (let i = 0; i < 5; i++) await f.ds.publish(`r.${i}`, `v${i}`, { headers: { n: String(i) } });
    const got = await f.ds.read('r', { startSeq: 2, batch: 3 });
    assert.deepEqual(got.map((m) => [m.seq, m.subject, m.string(), m.headers.n]), [
      [2, 'r.1', 'v1', '1'],
      [3, 'r.2', 'v2', '2'],
      [4, 'r.3', 'v3', '3'],
    ]);
    assert.equal(got[0]!.from, f.bus.server!.identity);
  });

  void it('mailbox streams: fixed shape, and read only by their owner when access is owner-only', async (t) => {
    const f = await durableFixture(t, 50, { mailboxAccess: 'owner' });
    assert.equal(await rejectionCode(f.ds.createStream({ name: 'x', subjects: ['mailbox.>'] }), 3000), 'PLEXUS_ERR_INVALID_ARGUMENT');
    assert.equal(await rejectionCode(f.ds.createStream({ name: 'mbox-bob', subjects: ['mailbox.eve'] }), 3000), 'PLEXUS_ERR_INVALID_ARGUMENT');
    await f.ds.createStream({ name: 'mbox-bob', subjects: ['mailbox.bob'] });
    await f.ds.publish('mailbox.bob', 'hi bob'); // anyone may send
    // This client is `anonymous`, not bob: reading, consuming, deleting are refused.
    assert.equal(await rejectionCode(f.ds.createConsumer({ stream: 'mbox-bob', name: 'reader' }), 3000), 'PLEXUS_ERR_PERMISSION_DENIED');
    assert.equal(await rejectionCode(f.ds.read('mbox-bob'), 3000), 'PLEXUS_ERR_PERMISSION_DENIED');
    assert.equal(await rejectionCode(f.ds.deleteStream('mbox-bob'), 3000), 'PLEXUS_ERR_PERMISSION_DENIED');
    assert.equal((await f.ds.streamInfo('mbox-bob')).state.messages, 1);
  });
});
