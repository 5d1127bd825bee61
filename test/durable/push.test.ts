import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { consume, type DurableMessage } from '../../src/durable/index.js';
import { take } from '../helpers/plexus.js';
import { rejectionCode, sleep, waitFor, within } from '../helpers/wait.js';
import { durableFixture } from './helpers.js';

async function next(it: AsyncIterator<DurableMessage>, ms = 3000): Promise<DurableMessage> {
  const r = await within(it.next(), ms, 'next message');
  assert.equal(r.done, false);
  return r.value as DurableMessage;
}

void describe('durable service: push consumers with credit windows', () => {
  void it('delivers in order, never more than the window unsettled, and refills as messages are settled', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'p', subjects: ['p.x'] });
    await f.ds.createConsumer({ stream: 'p', name: 'c' });
    for (let i = 0; i < 20; i++) await f.ds.publish('p.x', `m${i}`, { headers: { i: String(i) } });
    const it = consume(f.bus, 'p', 'c', { prefetch: 4 });
    const held: DurableMessage[] = [];
    for (let i = 0; i < 4; i++) held.push(await next(it));
    assert.deepEqual(held.map((m) => m.string()), ['m0', 'm1', 'm2', 'm3']);
    assert.equal(held[2]!.headers.i, '2');
    assert.equal(held[0]!.from, f.bus.server!.identity);
    assert.equal(held[0]!.deliveryCount, 1);
    await sleep(200);
    assert.equal((await f.ds.consumerInfo('p', 'c')).state.pending, 4, 'the service stops at the window');
    for (const m of held) await m.ack();
    const rest: string[] = [];
    for (let i = 4; i < 20; i++) {
      const m = await next(it);
      rest.push(m.string());
      await m.ack();
    }
    assert.deepEqual(rest, Array.from({ length: 16 }, (_, i) => `m${i + 4}`));
    await it.return!();
    assert.deepEqual((await f.ds.consumerInfo('p', 'c')).state, { delivered: 20, ackFloor: 20, pending: 0, scheduled: 0 });
  });

  void it('competing push consumers share one durable consumer without overlap', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'w', subjects: ['w.x'] });
    await f.ds.createConsumer({ stream: 'w', name: 'workers' });
    const N = 60;
    const a = await f.client();
    const b = await f.client();
    const seen: number[][] = [[], []];
    const stop = new AbortController();
    const run = async (bus: typeof a.bus, k: number): Promise<void> => {
      for await (const m of consume(bus, 'w', 'workers', { prefetch: 5, signal: stop.signal })) {
        seen[k]!.push(m.seq);
        await m.ack();
        if (seen[0]!.length + seen[1]!.length >= N) stop.abort();
      }
    };
    const running = Promise.all([run(a.bus, 0), run(b.bus, 1)]);
    for (let i = 0; i < N; i++) await f.ds.publish('w.x', `j${i}`);
    await within(running, 10_000, 'workers drained the queue');
    const all = [...seen[0]!, ...seen[1]!].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: N }, (_, i) => i + 1), 'every message once');
    assert.ok(seen[0]!.length > 0 && seen[1]!.length > 0, `both worked: ${seen[0]!.length}/${seen[1]!.length}`);
  });

  void it("a dead client's unacked messages go to another client after the ack wait", async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'd', subjects: ['d.x'] });
    await f.ds.createConsumer({ stream: 'd', name: 'c', ackWaitMs: 300 });
    await f.ds.publish('d.x', 'job');
    const dying = await f.client();
    const first = await next(consume(dying.bus, 'd', 'c', { prefetch: 1, heartbeatMs: 100 }));
    assert.equal(first.string(), 'job');
    assert.equal(f.service.pushSessions, 1);
    await dying.bus.close(); // dies holding the message, without stopping its session
    // The service drops the silent session after three heartbeats.
    await waitFor(() => f.service.pushSessions === 0, 3000, 'the dead session dropped');
    const other = consume(f.bus, 'd', 'c', { prefetch: 1, heartbeatMs: 100 });
    const again = await next(other, 5000);
    assert.equal(again.seq, first.seq);
    assert.equal(again.deliveryCount, 2);
    await again.ack();
    await other.close();
    assert.equal(f.service.pushSessions, 0, 'close() stopped the session');
  });

  void it('keeps consuming across a service restart', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 's', subjects: ['s.x'] });
    await f.ds.createConsumer({ stream: 's', name: 'c' });
    const it = consume(f.bus, 's', 'c', { prefetch: 8, heartbeatMs: 100 });
    await f.ds.publish('s.x', 'before');
    const m1 = await next(it);
    await m1.ack();
    await f.restart();
    await f.ds.publish('s.x', 'after');
    const m2 = await next(it, 5000);
    assert.equal(m2.string(), 'after');
    await m2.ack();
    await it.close();
  });

  void it("ack 'auto' acknowledges as messages are handed out; break gives buffered ones back at once", async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'a', subjects: ['a.x'] });
    await f.ds.createConsumer({ stream: 'a', name: 'c', ackWaitMs: 60_000 });
    for (let i = 0; i < 10; i++) await f.ds.publish('a.x', `m${i}`);
    const got: string[] = [];
    await within(
      (async () => {
        for await (const m of consume(f.bus, 'a', 'c', { prefetch: 10, ack: 'auto' })) {
          got.push(m.string());
          if (got.length === 3) break;
        }
      })(),
      3000,
      'three messages',
    );
    assert.deepEqual(got, ['m0', 'm1', 'm2']);
    // The loop broke: the 7 buffered messages were nak'ed, not held for 60 s.
    const rest = await take(consume(f.bus, 'a', 'c', { prefetch: 10, ack: 'auto' }), 7, 3000);
    assert.deepEqual(rest.map((m) => m.string()), ['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    await waitFor(async () => (await f.ds.consumerInfo('a', 'c')).state.ackFloor === 10, 3000, 'all acked');
  });

  void it('coded errors: unknown consumer, bad prefetch', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'e', subjects: ['e.x'] });
    assert.equal(await rejectionCode(consume(f.bus, 'e', 'nope').next(), 3000), 'PLEXUS_ERR_DURABLE_NOT_FOUND');
    assert.throws(() => consume(f.bus, 'e', 'nope', { prefetch: 0 }), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  });
});
