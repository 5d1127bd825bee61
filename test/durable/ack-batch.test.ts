import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/errors/index.js';
import { batchAckTarget } from '../../src/durable/ack-batch.js';
import { waitFor } from '../helpers/wait.js';
import { durableFixture } from './helpers.js';

const codeOf = (err: unknown): unknown => (err as { code?: unknown }).code;

void describe('durable service: batched acks', () => {
  void it('maps a delivery ack subject to its consumer batch subject', () => {
    assert.deepEqual(batchAckTarget('$PLX.DS.ACK.c.17.2.DLQ.orders'), { subject: '$PLX.DS.ACKS.c.DLQ.orders', seq: 17 });
    assert.equal(batchAckTarget('$PLX.DS.ACK.c.x.1.s'), undefined);
    assert.equal(batchAckTarget('other.ACK.c.1.1.s'), undefined);
  });

  void it('acks issued in one tick travel as one request, are saved, and truncate a work queue', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'wq', subjects: ['wq.x'], retention: 'workqueue' });
    await f.ds.createConsumer({ stream: 'wq', name: 'c' });
    for (let i = 0; i < 20; i++) await f.ds.publish('wq.x', `m${i}`);
    const seen: string[] = [];
    const spy = await f.client();
    spy.bus.subscribe('$PLX.DS.ACKS.>', { callback: (m) => seen.push(`${m.subject} ${m.string()}`) });
    await spy.bus.flush();
    const msgs = await f.ds.fetch('wq', 'c', { batch: 20 });
    assert.equal(msgs.length, 20);
    await Promise.all(msgs.map((m) => m.ack()));
    const info = await f.ds.consumerInfo('wq', 'c');
    assert.deepEqual(info.state, { delivered: 20, ackFloor: 20, pending: 0, scheduled: 0 });
    // The work-queue trim follows in the background: nothing is left stored.
    await waitFor(async () => (await f.ds.streamInfo('wq')).state.messages === 0, 3000, 'trimmed');
    assert.equal((await f.ds.streamInfo('wq')).state.firstSeq, 21);
    await waitFor(() => seen.length >= 1, 3000, 'spy saw the batch');
    assert.deepEqual(seen, [`$PLX.DS.ACKS.c.wq +ACK ${msgs.map((m) => m.seq).join(' ')}`]);
    // Saved: after a restart nothing comes back.
    await f.restart();
    assert.deepEqual(await f.ds.fetch('wq', 'c', { batch: 20, expiresMs: 100 }), []);
  });

  void it('skips sequences that are not pending and keeps the others unaffected', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'q', subjects: ['q.x'] });
    await f.ds.createConsumer({ stream: 'q', name: 'c', ackWaitMs: 60_000 });
    for (let i = 0; i < 3; i++) await f.ds.publish('q.x', `m${i}`);
    const [a, b, c] = await f.ds.fetch('q', 'c', { batch: 3 });
    await f.bus.request('$PLX.DS.ACKS.c.q', `+ACK ${a!.seq} 999 ${c!.seq} ${a!.seq}`);
    const info = await f.ds.consumerInfo('q', 'c');
    assert.equal(info.state.pending, 1);
    assert.equal(info.state.ackFloor, b!.seq - 1);
    await b!.ack();
    assert.equal((await f.ds.consumerInfo('q', 'c')).state.pending, 0);
  });

  void it('refuses malformed batches and unknown consumers with coded errors', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'q', subjects: ['q.x'] });
    await f.ds.createConsumer({ stream: 'q', name: 'c' });
    for (const bad of ['+ACK', '+ACK x', '+ACK 0', '+ACK 1.5', '-NAK 1', `+ACK ${Array.from({ length: 1025 }, (_, i) => i + 1).join(' ')}`]) {
      await assert.rejects(f.bus.request('$PLX.DS.ACKS.c.q', bad), (e) => codeOf(e) === ErrorCode.INVALID_ARGUMENT, bad.slice(0, 12));
    }
    await assert.rejects(f.bus.request('$PLX.DS.ACKS.nobody.q', '+ACK 1'), (e) => codeOf(e) === ErrorCode.DURABLE_NOT_FOUND);
    await assert.rejects(f.bus.request('$PLX.DS.ACKS.c', '+ACK 1'), (e) => codeOf(e) === ErrorCode.INVALID_ARGUMENT);
  });

  void it('a failed batch rejects every ack in it, and they are redelivered', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'q', subjects: ['q.x'] });
    await f.ds.createConsumer({ stream: 'q', name: 'c', ackWaitMs: 200 });
    for (let i = 0; i < 4; i++) await f.ds.publish('q.x', `m${i}`);
    const msgs = await f.ds.fetch('q', 'c', { batch: 4 });
    await f.service.close();
    const results = await Promise.allSettled(msgs.map((m) => m.ack()));
    assert.ok(results.every((r) => r.status === 'rejected'), 'no ack confirmed without the service');
    const codes = new Set(results.map((r) => (r.status === 'rejected' ? codeOf(r.reason) : undefined)));
    assert.equal(codes.size, 1, 'one error for the whole batch');
    await f.restart();
    const again = await f.ds.fetch('q', 'c', { batch: 4, expiresMs: 3000 });
    assert.deepEqual(again.map((m) => m.seq), msgs.map((m) => m.seq));
    assert.ok(again.every((m) => m.deliveryCount >= 2));
  });

  void it('single acks arriving together still truncate a work queue to the right floor', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'wq', subjects: ['wq.x'], retention: 'workqueue' });
    await f.ds.createConsumer({ stream: 'wq', name: 'c' });
    for (let i = 0; i < 30; i++) await f.ds.publish('wq.x', `m${i}`);
    const msgs = await f.ds.fetch('wq', 'c', { batch: 30 });
    // Every ack on its own subject: 30 concurrent truncations coalesce into few.
    await Promise.all(msgs.slice(0, 25).map((m) => f.bus.request(m.ackSubject, '+ACK')));
    await waitFor(async () => (await f.ds.streamInfo('wq')).state.firstSeq === 26, 3000, 'trimmed to 26');
    assert.equal((await f.ds.streamInfo('wq')).state.messages, 5);
    await Promise.all(msgs.slice(25).map((m) => f.bus.request(m.ackSubject, '+ACK')));
    await waitFor(async () => (await f.ds.streamInfo('wq')).state.messages === 0, 3000, 'trimmed to empty');
    assert.equal((await f.ds.streamInfo('wq')).state.firstSeq, 31);
  });

  void it('a trim a crash undid (or cut short) is redone when the service starts', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'wq', subjects: ['wq.x'], retention: 'workqueue' });
    await f.ds.createConsumer({ stream: 'wq', name: 'c' });
    for (let i = 0; i < 5; i++) await f.ds.publish('wq.x', `m${i}`);
    const msgs = await f.ds.fetch('wq', 'c', { batch: 5 });
    // Save the acks without trimming, as if the service died between the two.
    const svc = f.service as unknown as { streams: Map<string, { applyWorkqueue(): Promise<void> }> };
    const st = svc.streams.get('wq')!;
    const trim = st.applyWorkqueue;
    st.applyWorkqueue = () => Promise.resolve();
    await Promise.all(msgs.map((m) => m.ack()));
    assert.equal((await f.ds.streamInfo('wq')).state.messages, 5, 'acked but not trimmed yet');
    st.applyWorkqueue = trim;
    await f.restart();
    await waitFor(async () => (await f.ds.streamInfo('wq')).state.messages === 0, 3000, 'trimmed at start');
    assert.equal((await f.ds.streamInfo('wq')).state.firstSeq, 6);
  });
});
