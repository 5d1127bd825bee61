import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listQueues, queue, type QueueMessage } from '../../src/patterns/index.js';
import { sleep, thrownCode, rejectionCode, waitFor, within } from '../helpers/wait.js';
import { durableFixture } from '../durable/helpers.js';

async function next(it: AsyncIterator<QueueMessage>, ms = 3000): Promise<QueueMessage> {
  const r = await within(it.next(), ms, 'next message');
  assert.equal(r.done, false, 'iteration ended');
  return r.value as QueueMessage;
}

void describe('queue pattern', () => {
  void it('send resolves once stored; consume hands messages out in order with acks; stat counts', async (t) => {
    const f = await durableFixture(t);
    const q = queue(f.bus, 'hello');
    const r = await q.send('Hello World!', { headers: { lang: 'en' } });
    assert.deepEqual(r, { seq: 1, duplicate: false });
    await q.send(JSON.stringify({ n: 2 }));
    await q.send(new Uint8Array([0, 1, 2, 255]));
    const s0 = await q.stat();
    assert.deepEqual({ stored: s0.stored, ready: s0.ready, unacked: s0.unacked, deadLetters: s0.deadLetters }, { stored: 3, ready: 3, unacked: 0, deadLetters: 0 });
    const it = q.consume({ ack: 'manual', prefetch: 2 });
    const a = await next(it);
    assert.equal(a.string(), 'Hello World!');
    assert.equal(a.headers.lang, 'en');
    assert.equal(a.from, f.bus.server!.identity);
    assert.equal(a.deliveryCount, 1);
    assert.equal(a.subject, 'queue.hello');
    const b = await next(it);
    assert.deepEqual(b.json(), { n: 2 });
    assert.equal((await q.stat()).unacked, 2);
    await a.ack();
    await b.ack();
    const c = await next(it);
    assert.deepEqual([...c.data], [0, 1, 2, 255]);
    await c.ack();
    await it.return!();
    const s1 = await q.stat();
    assert.deepEqual({ stored: s1.stored, ready: s1.ready, unacked: s1.unacked }, { stored: 0, ready: 0, unacked: 0 }, 'acked messages are removed');
    assert.deepEqual(await listQueues(f.bus), ['hello']);
  });

  void it('msgId dedup stores one copy; delayMs holds back, ttlMs drops', async (t) => {
    const f = await durableFixture(t);
    const q = queue(f.bus, 'jobs');
    const first = await q.send('once', { msgId: 'order-1' });
    const again = await q.send('once', { msgId: 'order-1' });
    assert.deepEqual(again, { seq: first.seq, duplicate: true });
    await q.send('expires', { ttlMs: 50 });
    await q.send('later', { delayMs: 500 });
    await q.send('now');
    await sleep(100);
    const it = q.consume();
    const got: string[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      const m = await next(it);
      got.push(m.string());
      await m.ack();
    }
    assert.deepEqual(got, ['once', 'now', 'later']);
    assert.ok(Date.now() - t0 >= 300, 'the delayed one came last, when due');
    await it.close();
    assert.equal((await q.stat()).stored, 0);
  });

  void it('nack with a delay redelivers; term drops without dead-lettering', async (t) => {
    const f = await durableFixture(t);
    const q = queue(f.bus, 'retry', { ackWaitMs: 10_000 });
    await q.send('flaky');
    await q.send('bad');
    const it = q.consume({ prefetch: 1 });
    const m1 = await next(it);
    assert.equal(m1.string(), 'flaky');
    await m1.nack({ delayMs: 200 });
    const m2 = await next(it);
    assert.equal(m2.string(), 'bad');
    await m2.term();
    const m3 = await next(it);
    assert.equal(m3.string(), 'flaky');
    assert.equal(m3.deliveryCount, 2);
    await m3.ack();
    await it.close();
    assert.equal(await q.dlq().count(), 0);
    assert.equal((await q.stat()).stored, 0);
  });

  void it('a poison message is dead-lettered after maxDeliver, with its reason', async (t) => {
    const f = await durableFixture(t);
    const q = queue(f.bus, 'poison', { ackWaitMs: 100, maxDeliver: 3 });
    await q.send('{not json', { headers: { kind: 'order' } });
    await q.send('{"ok":true}');
    const it = q.consume({ prefetch: 4 });
    const deliveries: number[] = [];
    const good: unknown[] = [];
    await within(
      (async () => {
        while (deliveries.length < 3 || good.length < 1) {
          const m = await next(it, 5000);
          try {
            good.push(m.json());
            await m.ack();
          } catch {
            deliveries.push(m.deliveryCount);
            await m.nack();
          }
        }
      })(),
      8000,
      'three failed deliveries',
    );
    assert.deepEqual(deliveries, [1, 2, 3]);
    // Moved to the DLQ, then removed from the queue (work-queue retention).
    await waitFor(async () => (await q.dlq().count()) === 1 && (await q.stat()).stored === 0, 5000, 'dead-lettered');
    await it.close();
    const [dead] = await q.dlq().read();
    assert.equal(dead!.string(), '{not json');
    assert.equal(dead!.reason, 'max-deliver');
    assert.equal(dead!.originalSeq, 1);
    assert.equal(dead!.deliveries, 3);
    assert.equal(dead!.headers.kind, 'order');
    assert.equal(dead!.from, f.bus.server!.identity);
    const st = await q.stat();
    assert.deepEqual({ stored: st.stored, unacked: st.unacked, deadLetters: st.deadLetters }, { stored: 0, unacked: 0, deadLetters: 1 });
  });

  void it('competing consumers on separate connections split the work, each message once', async (t) => {
    const f = await durableFixture(t);
    const N = 50;
    const workers = await Promise.all([f.client(), f.client(), f.client()]);
    const seen: string[][] = workers.map(() => []);
    const stop = new AbortController();
    const running = Promise.all(
      workers.map(async ({ bus }, k) => {
        for await (const m of queue(bus, 'work').consume({ prefetch: 2, signal: stop.signal })) {
          seen[k]!.push(m.string());
          await m.ack();
          if (seen.flat().length >= N) stop.abort();
        }
      }),
    );
    const q = queue(f.bus, 'work');
    for (let i = 0; i < N; i++) await q.send(`job ${i}`);
    await within(running, 15_000, 'queue drained');
    assert.deepEqual(seen.flat().sort(), Array.from({ length: N }, (_, i) => `job ${i}`).sort());
    assert.ok(seen.filter((s) => s.length > 0).length >= 2, `work was shared: ${seen.map((s) => s.length).join('/')}`);
  });

  void it('coded errors: bad names and options; an existing queue keeps its configuration', async (t) => {
    const f = await durableFixture(t);
    assert.equal(thrownCode(() => queue(f.bus, 'no spaces')), 'PLEXUS_ERR_INVALID_ARGUMENT');
    assert.equal(thrownCode(() => queue(f.bus, '')), 'PLEXUS_ERR_INVALID_ARGUMENT');
    const q = queue(f.bus, 'cfg', { maxDeliver: 2 });
    await q.send('x');
    await assert.rejects(q.send('y', { delayMs: -1 }), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
    await queue(f.bus, 'cfg', { maxDeliver: 9 }).send('z');
    assert.equal((await f.ds.consumerInfo('queue-cfg', 'workers')).config.maxDeliver, 2, 'the first sender set it');
    assert.equal(await rejectionCode(queue(f.bus, 'cfg').consume({ prefetch: 0 }).next(), 3000), 'PLEXUS_ERR_INVALID_ARGUMENT');
  });
});
