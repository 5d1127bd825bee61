import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DurableClient, DurableMessage } from '../../src/durable/index.js';
import { sleep, waitFor, within } from '../helpers/wait.js';
import { durableFixture } from './helpers.js';

async function publishN(ds: DurableClient, subject: string, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) await ds.publish(subject, `m${i}`);
}

const seqs = (ms: DurableMessage[]): number[] => ms.map((m) => m.seq);

void describe('durable service: consumers', () => {
  void it('pull and ack: batches in order, acked messages are not handed out again', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'q', subjects: ['q.*'] });
    await publishN(f.ds, 'q.a', 10);
    await f.ds.createConsumer({ stream: 'q', name: 'c' });
    const a = await f.ds.fetch('q', 'c', { batch: 4 });
    assert.deepEqual(seqs(a), [1, 2, 3, 4]);
    assert.equal(a[0]!.string(), 'm0');
    assert.equal(a[0]!.deliveryCount, 1);
    for (const m of a) await m.ack();
    const b = await f.ds.fetch('q', 'c', { batch: 100, expiresMs: 100 });
    assert.deepEqual(seqs(b), [5, 6, 7, 8, 9, 10]);
    for (const m of b) await m.ack();
    assert.deepEqual(await f.ds.fetch('q', 'c', { batch: 10, expiresMs: 50 }), []);
    const info = await f.ds.consumerInfo('q', 'c');
    assert.deepEqual(info.state, { delivered: 10, ackFloor: 10, pending: 0, scheduled: 0 });
    // A waiting fetch is woken by a new publish.
    const waiting = f.ds.fetch('q', 'c', { batch: 10, expiresMs: 3000 });
    await sleep(50);
    await f.ds.publish('q.b', 'late');
    const late = await within(waiting, 3000, 'woken fetch');
    assert.deepEqual(seqs(late), [11]);
    // deliverPolicy 'new' and filterSubject.
    await f.ds.createConsumer({ stream: 'q', name: 'onlyb', deliverPolicy: 'new', filterSubject: 'q.b' });
    await f.ds.publish('q.a', 'x');
    await f.ds.publish('q.b', 'y');
    const fb = await f.ds.fetch('q', 'onlyb', { batch: 10, expiresMs: 100 });
    assert.deepEqual(fb.map((m) => m.string()), ['y']);
  });

  void it('redelivers after ackWait, honours nak delay and in-progress', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'r', subjects: ['r.x'] });
    await publishN(f.ds, 'r.x', 1);
    await f.ds.createConsumer({ stream: 'r', name: 'c', ackWaitMs: 200 });
    const [first] = await f.ds.fetch('r', 'c');
    assert.equal(first!.deliveryCount, 1);
    assert.deepEqual(await f.ds.fetch('r', 'c', { expiresMs: 0 }), []);
    const t0 = Date.now();
    const [again] = await f.ds.fetch('r', 'c', { expiresMs: 2000 });
    assert.equal(again!.seq, 1);
    assert.equal(again!.deliveryCount, 2);
    assert.ok(Date.now() - t0 >= 100, 'not before the ack wait');

    await again!.nak({ delayMs: 300 });
    const t1 = Date.now();
    assert.deepEqual(await f.ds.fetch('r', 'c', { expiresMs: 100 }), []);
    const [third] = await f.ds.fetch('r', 'c', { expiresMs: 2000 });
    assert.equal(third!.deliveryCount, 3);
    assert.ok(Date.now() - t1 >= 250, `nak delay honoured (${Date.now() - t1} ms)`);

    // +WPI keeps it ours past the original ack wait.
    await sleep(120);
    await third!.inProgress();
    await sleep(120);
    assert.deepEqual(await f.ds.fetch('r', 'c', { expiresMs: 0 }), []);
    await third!.term();
    assert.deepEqual(await f.ds.fetch('r', 'c', { expiresMs: 400 }), []);
    // A plain nak (no delay) makes it available at once.
    await f.ds.publish('r.x', 'n');
    const [n1] = await f.ds.fetch('r', 'c');
    await n1!.nak();
    const [n2] = await f.ds.fetch('r', 'c', { expiresMs: 500 });
    assert.equal(n2!.seq, n1!.seq);
    await n2!.ack();
  });

  void it('moves a message to DLQ.<stream> with the reason after maxDeliver', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'p', subjects: ['p.x'] });
    await f.ds.publish('p.x', 'poison', { headers: { kind: 'bad' } });
    await f.ds.publish('p.x', 'fine');
    await f.ds.createConsumer({ stream: 'p', name: 'c', ackWaitMs: 100, maxDeliver: 2 });
    const counts: number[] = [];
    for (let i = 0; i < 2; i++) {
      const got = await f.ds.fetch('p', 'c', { batch: 2, expiresMs: 1000 });
      for (const m of got) {
        if (m.string() === 'fine') await m.ack();
        else counts.push(m.deliveryCount);
      }
    }
    assert.deepEqual(counts, [1, 2]);
    await waitFor(async () => (await f.ds.listStreams()).includes('DLQ.p'), 3000, 'DLQ created');
    await waitFor(async () => (await f.ds.consumerInfo('p', 'c')).state.pending === 0, 3000, 'dead-lettered');
    assert.deepEqual(await f.ds.fetch('p', 'c', { expiresMs: 200 }), []);
    await f.ds.createConsumer({ stream: 'DLQ.p', name: 'ops' });
    const [dead] = await f.ds.fetch('DLQ.p', 'ops', { expiresMs: 1000 });
    assert.equal(dead!.string(), 'poison');
    assert.equal(dead!.subject, 'p.x');
    assert.equal(dead!.headers.kind, 'bad');
    assert.equal(dead!.headers['dlq-reason'], 'max-deliver');
    assert.equal(dead!.headers['dlq-stream'], 'p');
    assert.equal(dead!.headers['dlq-seq'], '1');
    assert.equal(dead!.headers['dlq-deliveries'], '2');
    assert.equal(dead!.from, f.bus.server!.identity);
    await dead!.ack();
  });

  void it('competing consumers get disjoint sets that together cover the stream', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'w', subjects: ['w.>'] });
    await f.ds.createConsumer({ stream: 'w', name: 'workers' });
    const N = 120;
    const clients = await Promise.all([f.client(), f.client(), f.client()]);
    const got: number[][] = clients.map(() => []);
    const publishing = publishN(f.ds, 'w.job', N);
    await within(
      Promise.all(
        clients.map(async ({ ds }, i) => {
          while (got.flat().length < N) {
            const ms = await ds.fetch('w', 'workers', { batch: 7, expiresMs: 100 });
            for (const m of ms) {
              got[i]!.push(m.seq);
              await m.ack();
            }
          }
        }),
      ),
      15_000,
      'workers drain the stream',
    );
    await publishing;
    const all = got.flat().sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: N }, (_, i) => i + 1), 'every message once');
    assert.ok(got.filter((g) => g.length > 0).length >= 2, `work was shared: ${got.map((g) => g.length).join('/')}`);
  });

  void it('consumer state survives a restart: acked ones are not redelivered, unacked ones are', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 's', subjects: ['s.x'] });
    await publishN(f.ds, 's.x', 10);
    await f.ds.createConsumer({ stream: 's', name: 'c', ackWaitMs: 60_000 });
    const ms = await f.ds.fetch('s', 'c', { batch: 8 });
    assert.deepEqual(seqs(ms), [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const m of ms.slice(0, 5)) await m.ack();
    await f.restart();
    assert.deepEqual((await f.ds.consumerInfo('s', 'c')).state, { delivered: 8, ackFloor: 5, pending: 3, scheduled: 0 });
    const after = await f.ds.fetch('s', 'c', { batch: 100, expiresMs: 200 });
    assert.deepEqual(seqs(after), [6, 7, 8, 9, 10]);
    assert.deepEqual(
      after.map((m) => m.deliveryCount),
      [2, 2, 2, 1, 1],
    );
    for (const m of after) await m.ack();
    await f.restart();
    assert.deepEqual(await f.ds.fetch('s', 'c', { batch: 100, expiresMs: 100 }), []);
  });

  void it('work-queue retention removes messages once acked', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'wq', subjects: ['wq.x'], retention: 'workqueue' });
    await publishN(f.ds, 'wq.x', 10);
    await f.ds.createConsumer({ stream: 'wq', name: 'c' });
    const ms = await f.ds.fetch('wq', 'c', { batch: 10 });
    // Out of order: 7 acked first removes nothing.
    await ms[6]!.ack();
    assert.equal((await f.ds.streamInfo('wq')).state.messages, 10);
    for (const m of ms.slice(0, 5)) await m.ack();
    // Removal follows the (saved) ack in the background.
    const stored = async (): Promise<{ firstSeq: number; messages: number }> => (await f.ds.streamInfo('wq')).state;
    await waitFor(async () => (await stored()).firstSeq === 6, 3000, 'trimmed to 6');
    assert.equal((await stored()).messages, 5);
    for (const m of ms) await m.ack(); // acking again is a no-op
    await waitFor(async () => (await stored()).messages === 0, 3000, 'trimmed to empty');
    assert.equal((await stored()).firstSeq, 11);
    await f.restart();
    assert.equal((await f.ds.streamInfo('wq')).state.messages, 0);
    await f.ds.publish('wq.x', 'more');
    const [m] = await f.ds.fetch('wq', 'c', { expiresMs: 500 });
    assert.equal(m!.seq, 11);
  });
});
