import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { durable, startDurableService } from '../../src/durable/index.js';
import { Cleanup, startTestBroker, tempDir } from '../helpers/plexus.js';
import { rejection, waitFor } from '../helpers/wait.js';
import { durableFixture } from './helpers.js';

function code(err: unknown): string | undefined {
  return err instanceof PlexusError ? err.code : undefined;
}

void describe('durable service: streams', () => {
  void it('an acked publish is stored with sender and headers, and readable after a restart', async (t) => {
    const f = await durableFixture(t);
    const info = await f.ds.createStream({ name: 'orders', subjects: ['orders.>'] });
    assert.equal(info.config.fsync, 'always');
    assert.equal(info.state.lastSeq, 0);
    const acks = [];
    for (let i = 0; i < 20; i++) acks.push(await f.ds.publish(`orders.n${i % 3}`, `order ${i}`, { headers: { region: 'eu' } }));
    assert.deepEqual(
      acks.map((a) => a.seq),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.ok(acks.every((a) => a.stream === 'orders' && !a.duplicate));
    // A plain publish is stored too (unacknowledged).
    f.bus.publish('orders.plain', 'fire and forget');
    await waitFor(async () => (await f.ds.streamInfo('orders')).state.lastSeq === 21, 3000, 'plain publish stored');

    await f.restart();
    const after = await f.ds.streamInfo('orders');
    assert.equal(after.state.messages, 21);
    await f.ds.createConsumer({ stream: 'orders', name: 'reader' });
    const msgs = await f.ds.fetch('orders', 'reader', { batch: 50, expiresMs: 500 });
    assert.equal(msgs.length, 21);
    assert.equal(msgs[0]!.string(), 'order 0');
    assert.equal(msgs[0]!.subject, 'orders.n0');
    assert.equal(msgs[0]!.headers.region, 'eu');
    assert.equal(msgs[0]!.from, f.bus.server!.identity);
    assert.ok(msgs[0]!.from.length > 0);
    assert.equal(msgs[20]!.string(), 'fire and forget');
    assert.deepEqual(await f.ds.listStreams(), ['orders']);
  });

  void it('dedups by msg-id within the window: one copy, the duplicate acked with the original seq', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'pay', subjects: ['pay.*'], dedupWindowMs: 60_000 });
    const a = await f.ds.publish('pay.x', 'one', { msgId: 'id-1' });
    const b = await f.ds.publish('pay.x', 'one again', { msgId: 'id-1' });
    const c = await f.ds.publish('pay.x', 'two', { msgId: 'id-2' });
    assert.deepEqual([a.seq, a.duplicate], [1, false]);
    assert.deepEqual([b.seq, b.duplicate], [1, true]);
    assert.deepEqual([c.seq, c.duplicate], [2, false]);
    // Concurrent publishes with one id: one copy.
    const many = await Promise.all(Array.from({ length: 10 }, () => f.ds.publish('pay.y', 'same', { msgId: 'id-3' })));
    assert.equal(new Set(many.map((m) => m.seq)).size, 1);
    assert.equal(many.filter((m) => !m.duplicate).length, 1);
    // The table survives a restart (rebuilt from the log).
    await f.restart();
    const d = await f.ds.publish('pay.x', 'one', { msgId: 'id-1' });
    assert.deepEqual([d.seq, d.duplicate], [1, true]);
    assert.equal((await f.ds.streamInfo('pay')).state.messages, 3);
  });

  void it('answers with coded errors', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 's1', subjects: ['a.>'] });
    // Same config again: fine. Different: exists. Overlap: exists.
    await f.ds.createStream({ name: 's1', subjects: ['a.>'] });
    assert.equal(code(await rejection(f.ds.createStream({ name: 's1', subjects: ['b.>'] }), 3000)), ErrorCode.DURABLE_EXISTS);
    assert.equal(code(await rejection(f.ds.createStream({ name: 's2', subjects: ['a.b'] }), 3000)), ErrorCode.DURABLE_EXISTS);
    assert.equal(code(await rejection(f.ds.streamInfo('nope'), 3000)), ErrorCode.DURABLE_NOT_FOUND);
    assert.equal(code(await rejection(f.ds.createConsumer({ stream: 'nope', name: 'c' }), 3000)), ErrorCode.DURABLE_NOT_FOUND);
    assert.equal(code(await rejection(f.ds.createStream({ name: 'bad name', subjects: [] }), 3000)), ErrorCode.INVALID_ARGUMENT);
    assert.equal(code(await rejection(f.ds.createStream({ name: 's3', subjects: ['$PLX.>'] }), 3000)), ErrorCode.INVALID_ARGUMENT);
    assert.equal(code(await rejection(f.ds.fetch('s1', 'none'), 3000)), ErrorCode.DURABLE_NOT_FOUND);
    await f.ds.createConsumer({ stream: 's1', name: 'c' });
    assert.equal(code(await rejection(f.ds.createConsumer({ stream: 's1', name: 'c', maxDeliver: 2 }), 3000)), ErrorCode.DURABLE_EXISTS);
    await f.ds.deleteStream('s1');
    assert.deepEqual(await f.ds.listStreams(), []);
    assert.equal(code(await rejection(f.ds.publish('a.x', 'gone'), 3000)), ErrorCode.NO_RESPONDERS);
  });
  void it('applies limits retention and the interval fsync mode', async (t) => {
    const f = await durableFixture(t);
    const info = await f.ds.createStream({ name: 'lim', subjects: ['lim.x'], fsync: { intervalMs: 50 }, maxMessages: 5 });
    assert.deepEqual(info.config.fsync, { intervalMs: 50 });
    for (let i = 0; i < 12; i++) await f.ds.publish('lim.x', `v${i}`);
    await waitFor(async () => (await f.ds.streamInfo('lim')).state.messages === 5, 3000, 'limit applied');
    const st = (await f.ds.streamInfo('lim')).state;
    assert.deepEqual([st.firstSeq, st.lastSeq], [8, 12]);
    await f.ds.createConsumer({ stream: 'lim', name: 'c' });
    const ms = await f.ds.fetch('lim', 'c', { batch: 100, expiresMs: 100 });
    assert.deepEqual(
      ms.map((m) => m.string()),
      ['v7', 'v8', 'v9', 'v10', 'v11'],
    );
  });
  void it('stores only what a fetch can return, and splits fetch replies by size', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup, { via: 'inproc', maxPayloadBytes: 64 * 1024 });
    const dir = await tempDir(cleanup, 'plexus-ds-');
    const svc = await startDurableService({ dir, url: b.url, connect: { inproc: b.hub! } });
    cleanup.defer(() => svc.close());
    const ds = durable(await b.connect(), { timeoutMs: 3000 });
    await ds.createStream({ name: 'big', subjects: ['big.x'] });
    const err = await rejection(ds.publish('big.x', new Uint8Array(62 * 1024)), 3000);
    assert.equal(code(err), ErrorCode.PAYLOAD_TOO_LARGE);
    for (let i = 0; i < 6; i++) await ds.publish('big.x', new Uint8Array(24 * 1024).fill(i));
    await ds.createConsumer({ stream: 'big', name: 'c' });
    const sizes: number[] = [];
    for (;;) {
      const ms = await ds.fetch('big', 'c', { batch: 256, expiresMs: 50 });
      if (ms.length === 0) break;
      sizes.push(ms.length);
      for (const m of ms) await m.ack();
    }
    assert.equal(
      sizes.reduce((a, n) => a + n, 0),
      6,
    );
    assert.ok(sizes.length >= 3, `replies split by size: ${sizes.join(',')}`);
  });
});


