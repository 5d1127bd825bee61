/**
 * The durable-pattern conformance bodies: queues, mailboxes, KV and locks through the
 * pattern functions (`queue(bus, …)`, `kv(bus, …)`, …), which hand the call to the
 * backend's provider (src/patterns/provider.ts) or to the embedded durable service. Every
 * queue, mailbox, bucket and lock is named after the test's own `name`, so tests sharing
 * one backend server never see each other's state.
 */
import assert from 'node:assert/strict';
import { ErrorCode, kv, lock, mailbox, queue, type DeadLetter, type QueueConsumer, type QueueMessage } from '../../src/index.js';
import { codeOf, rejection, sleep, waitFor, within } from '../helpers/wait.js';
import type { ConformanceCase } from './cases.js';

const WAIT_MS = 8000;

/** The next message of a consumer, bounded. */
async function next(c: QueueConsumer, ms = WAIT_MS): Promise<QueueMessage> {
  const r = await within(c.next(), ms, 'the next queue message');
  assert.equal(r.done, false, 'the consumer ended');
  return r.value as QueueMessage;
}

/** No message arrives within `ms` (the pending next() is settled by the consumer's close). */
async function nothingWithin(c: QueueConsumer, ms: number): Promise<void> {
  const pending = c.next();
  const got = await Promise.race([pending.then((r) => r.done !== true, () => false), sleep(ms).then(() => false)]);
  assert.equal(got, false, `no message expected within ${ms} ms`);
}

/** Wait until the queue (or mailbox) holds nothing: every message acknowledged. */
async function emptied(q: { stat(): Promise<{ stored: number }> }): Promise<void> {
  await waitFor(async () => (await q.stat()).stored === 0, WAIT_MS, 'nothing left stored after the acks');
}

async function closeAfter(c: QueueConsumer): Promise<void> {
  await within(c.close(), WAIT_MS, 'the consumer to close');
}

export const DURABLE_CASES: readonly ConformanceCase[] = [
  {
    name: 'queue: every acknowledged send is consumed once, in order, and nothing is left',
    feature: 'queue',
    async run(target) {
      const [producer, worker] = [await target.connect(), await target.connect()];
      const q = queue(producer, target.name);
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) seqs.push((await q.send(`job ${i}`, { headers: { n: String(i) } })).seq);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, 'sequences increase');
      const c = queue(worker, target.name).consume({ prefetch: 4 });
      const got: string[] = [];
      for (let i = 0; i < 10; i++) {
        const m = await next(c);
        assert.equal(m.headers.n, String(i));
        assert.equal(m.deliveryCount, 1);
        got.push(m.string());
        await m.ack();
      }
      assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `job ${i}`));
      await nothingWithin(c, 500);
      await closeAfter(c);
      await emptied(q);
    },
  },
  {
    name: 'queue: competing consumers share the messages; each is handed to one of them',
    feature: 'queue',
    async run(target) {
      const producer = await target.connect();
      const q = queue(producer, target.name);
      const n = 20;
      for (let i = 0; i < n; i++) await q.send(String(i));
      const workers = [await target.connect(), await target.connect()];
      const seen: string[][] = [[], []];
      const consumers = workers.map((w) => queue(w, target.name).consume({ prefetch: 2 }));
      await Promise.all(
        consumers.map(async (c, i) => {
          for (;;) {
            const total = seen[0]!.length + seen[1]!.length;
            if (total >= n) return;
            const r = await Promise.race([c.next(), sleep(1500).then(() => undefined)]);
            if (r === undefined || r.done === true) return;
            seen[i]!.push(r.value.string());
            await r.value.ack();
          }
        }),
      );
      for (const c of consumers) await within(c.close(), WAIT_MS, 'consumer close');
      const all = [...seen[0]!, ...seen[1]!].sort((a, b) => Number(a) - Number(b));
      assert.deepEqual(all, Array.from({ length: n }, (_, i) => String(i)), 'every message exactly once');
    },
  },
  {
    name: 'queue: nack redelivers (delivery count 2); a message held past the ack wait goes to another consumer',
    feature: 'queue-redelivery',
    async run(target) {
      const [bus, other] = [await target.connect(), await target.connect()];
      const q = queue(bus, target.name, { ackWaitMs: 1000, maxDeliver: 5 });
      await q.send('again');
      const c = q.consume({ prefetch: 1 });
      const first = await next(c);
      assert.equal(first.deliveryCount, 1);
      await first.nack();
      const second = await next(c);
      assert.equal(second.string(), 'again');
      assert.equal(second.deliveryCount, 2);
      // Held unsettled by a stalled worker: once the ack wait (1 s) passes, another worker gets it.
      const c2 = queue(other, target.name).consume({ prefetch: 1 });
      const third = await next(c2, WAIT_MS);
      assert.equal(third.string(), 'again');
      assert.equal(third.deliveryCount, 3);
      await third.ack();
      await closeAfter(c2);
      await closeAfter(c);
      await emptied(q);
    },
  },
  {
    name: 'queue: a message that uses up maxDeliver moves to the dead letters with the reason',
    feature: 'queue-dlq',
    async run(target) {
      const bus = await target.connect();
      const q = queue(bus, target.name, { ackWaitMs: 1000, maxDeliver: 2 });
      await q.send('poison', { headers: { kind: 'bad' } });
      await q.send('fine');
      const c = q.consume({ prefetch: 1 });
      let poisonSeen = 0;
      let fineAcked = false;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !(fineAcked && poisonSeen >= 2)) {
        const r = await Promise.race([c.next(), sleep(3000).then(() => undefined)]);
        if (r === undefined) continue;
        assert.equal(r.done, false);
        const m = r.value as QueueMessage;
        if (m.string() === 'poison') {
          poisonSeen++;
          await m.nack();
        } else {
          await m.ack();
          fineAcked = true;
        }
      }
      assert.equal(poisonSeen, 2, 'delivered exactly maxDeliver times');
      assert.ok(fineAcked);
      let letters: DeadLetter[] = [];
      await waitFor(async () => (letters = await q.dlq().read()).length === 1, 15_000, 'the dead letter');
      const [dead] = letters;
      assert.equal(new TextDecoder().decode(dead!.data), 'poison');
      assert.equal(dead!.reason, 'max-deliver');
      assert.equal(dead!.deliveries, 2);
      assert.equal(await q.dlq().count(), 1);
      await closeAfter(c);
    },
  },
  {
    name: 'queue: a repeated msgId within the dedup window stores one copy',
    feature: 'queue-dedup',
    async run(target) {
      const bus = await target.connect();
      const q = queue(bus, target.name);
      const a = await q.send('once', { msgId: 'order-1' });
      const b = await q.send('once again', { msgId: 'order-1' });
      assert.equal(a.duplicate, false);
      assert.equal(b.duplicate, true);
      assert.equal(b.seq, a.seq, 'the duplicate resolves with the first sequence');
      await q.send('other', { msgId: 'order-2' });
      const c = q.consume();
      const got = [(await next(c)).string(), (await next(c)).string()];
      assert.deepEqual(got, ['once', 'other']);
      await nothingWithin(c, 500);
      await closeAfter(c);
    },
  },
  {
    name: 'queue: a delayed send is not delivered before its time',
    feature: 'queue-delay',
    async run(target) {
      const bus = await target.connect();
      const q = queue(bus, target.name);
      const sentAt = Date.now();
      await q.send('later', { delayMs: 1500 });
      await q.send('now');
      const c = q.consume();
      const first = await next(c);
      assert.equal(first.string(), 'now');
      await first.ack();
      const later = await next(c, WAIT_MS);
      assert.equal(later.string(), 'later');
      assert.ok(Date.now() - sentAt >= 1400, `delivered after ${Date.now() - sentAt} ms`);
      await later.ack();
      await closeAfter(c);
    },
  },
  {
    name: 'mailbox: messages wait for their owner, carry the sender, and are gone once acked',
    feature: 'mailbox',
    async run(target) {
      const [sender, owner] = [await target.connect(), await target.connect()];
      const box = target.name;
      await mailbox(sender, box).send('lunch?', { headers: { topic: 'food' } });
      await mailbox(sender, box).send('report');
      const r = mailbox(owner, box).read();
      const m1 = await next(r);
      assert.equal(m1.string(), 'lunch?');
      assert.equal(m1.headers.topic, 'food');
      assert.equal(m1.from, sender.server?.identity, "the sender's identity");
      await m1.ack();
      const m2 = await next(r);
      assert.equal(m2.string(), 'report');
      await m2.ack();
      await closeAfter(r);
      await emptied(mailbox(owner, box));
    },
  },
  {
    name: 'kv: put/get, create only if absent, update by revision (CAS), delete',
    feature: 'kv',
    async run(target) {
      const [a, b] = [await target.connect(), await target.connect()];
      const ka = kv(a, target.name);
      const kb = kv(b, target.name);
      const r1 = await ka.put('user.1', 'ada');
      const e1 = await kb.get('user.1');
      assert.equal(e1?.string(), 'ada');
      assert.equal(e1?.revision, r1);
      assert.equal(await kb.get('user.none'), undefined);
      assert.equal(codeOf(await rejection(kb.create('user.1', 'x'), WAIT_MS)), ErrorCode.KV_KEY_EXISTS);
      const r2 = await kb.update('user.1', 'ada lovelace', r1);
      assert.ok(r2 > r1, 'revisions increase');
      // A writer holding the old revision loses: no lost update.
      assert.equal(codeOf(await rejection(ka.update('user.1', 'stale', r1), WAIT_MS)), ErrorCode.KV_WRONG_REVISION);
      assert.equal((await ka.get('user.1'))?.string(), 'ada lovelace');
      const c = await ka.create('user.2', JSON.stringify({ n: 2 }));
      assert.ok(c > r2);
      assert.deepEqual((await kb.get('user.2'))?.json(), { n: 2 });
      assert.deepEqual(await ka.keys('user.>'), ['user.1', 'user.2']);
      const del = await kb.delete('user.1');
      assert.equal(del.deleted, true);
      assert.equal(await ka.get('user.1'), undefined);
      assert.deepEqual(await ka.keys('user.>'), ['user.2']);
      const binary = Uint8Array.from([0, 1, 2, 255]);
      await ka.put('bin', binary);
      assert.deepEqual([...((await kb.get('bin'))?.value ?? [])], [...binary]);
      await ka.destroy(); // shared backend servers keep buckets: leave none behind
    },
  },
  {
    name: 'kv: a key with a TTL is gone after it',
    feature: 'kv-ttl',
    async run(target) {
      const bus = await target.connect();
      const bucket = kv(bus, target.name);
      await bucket.put('session.1', 'token', { ttlMs: 1000 });
      await bucket.put('keep', 'forever');
      assert.equal((await bucket.get('session.1'))?.string(), 'token');
      await waitFor(async () => (await bucket.get('session.1')) === undefined, 10_000, 'the key to expire');
      assert.equal((await bucket.get('keep'))?.string(), 'forever');
      await bucket.destroy();
    },
  },
  {
    name: 'kv: watch yields current values, then every change in order; a watcher resumes by revision',
    feature: 'kv-watch',
    async run(target) {
      const [writer, watcher] = [await target.connect(), await target.connect()];
      const w = kv(writer, target.name);
      await w.put('cfg.a', '1');
      const ac = new AbortController();
      const it = kv(watcher, target.name).watch('cfg.>', { signal: ac.signal })[Symbol.asyncIterator]();
      const step = async (): Promise<{ op: string; key: string; value: string; revision: number }> => {
        const r = await within(it.next(), WAIT_MS, 'a watched change');
        assert.equal(r.done, false);
        return { op: r.value.op, key: r.value.key, value: r.value.string(), revision: r.value.revision };
      };
      const first = await step();
      assert.deepEqual({ op: first.op, key: first.key, value: first.value }, { op: 'put', key: 'cfg.a', value: '1' });
      await w.put('cfg.b', '2');
      await w.put('other', 'not watched');
      await w.delete('cfg.a');
      const second = await step();
      const third = await step();
      assert.deepEqual([second.op, second.key, second.value], ['put', 'cfg.b', '2']);
      assert.deepEqual([third.op, third.key], ['del', 'cfg.a']);
      assert.ok(third.revision > second.revision && second.revision > first.revision);
      ac.abort();
      await within(it.return?.() ?? Promise.resolve(undefined), WAIT_MS, 'the watch to end');
      // Resume after the second change: only the delete comes back.
      const ac2 = new AbortController();
      const resumed = kv(watcher, target.name).watch('cfg.>', { signal: ac2.signal, afterRevision: second.revision })[Symbol.asyncIterator]();
      const r = await within(resumed.next(), WAIT_MS, 'the resumed change');
      assert.equal(r.done, false);
      assert.deepEqual([r.value.op, r.value.key, r.value.revision], ['del', 'cfg.a', third.revision]);
      ac2.abort();
      await within(resumed.return?.() ?? Promise.resolve(undefined), WAIT_MS, 'the resumed watch to end');
      await w.destroy();
    },
  },
  {
    name: 'kv: history keeps the configured revisions of a key, oldest first, deletes included',
    feature: 'kv-history',
    async run(target) {
      const bus = await target.connect();
      const bucket = kv(bus, target.name, { history: 3 });
      for (const v of ['v1', 'v2', 'v3', 'v4']) await bucket.put('k', v);
      await bucket.delete('k');
      const h = await bucket.history('k');
      assert.deepEqual(
        h.map((c) => [c.op, c.string()]),
        [
          ['put', 'v3'],
          ['put', 'v4'],
          ['del', ''],
        ],
      );
      for (let i = 1; i < h.length; i++) assert.ok(h[i]!.revision > h[i - 1]!.revision);
      await bucket.destroy();
    },
  },
  {
    name: 'lock: one holder at a time; the next waiter gets it on release with a larger token',
    feature: 'lock',
    async run(target) {
      const [a, b] = [await target.connect(), await target.connect()];
      const la = lock(a, target.name, { ttlMs: 5000 });
      const lb = lock(b, target.name, { ttlMs: 5000 });
      const first = await la.acquire({ timeoutMs: WAIT_MS });
      assert.equal(await lb.tryAcquire(), undefined, 'held elsewhere: tryAcquire gives nothing');
      let got = false;
      const waiting = lb.acquire({ timeoutMs: WAIT_MS }).then((l) => {
        got = true;
        return l;
      });
      await sleep(300);
      assert.equal(got, false, 'the waiter waits while the lock is held');
      await first.release();
      const second = await within(waiting, WAIT_MS, 'the waiter to get the lock');
      assert.ok(second.token > first.token, 'fencing tokens increase');
      assert.equal(codeOf(await rejection(la.acquire({ timeoutMs: 200 }), WAIT_MS)), ErrorCode.TIMEOUT);
      await second.release();
    },
  },
  {
    name: 'lock fencing: a KV write fenced by an expired lease is refused once another holder exists',
    feature: 'lock-fencing',
    async run(target) {
      const [a, b] = [await target.connect(), await target.connect()];
      const bucket = kv(a, target.name);
      const stale = await lock(a, target.name, { ttlMs: 500, autoRenew: false }).acquire({ timeoutMs: WAIT_MS });
      await bucket.put('total', '1', { fence: stale.fence });
      const fresh = await lock(b, target.name, { ttlMs: 5000 }).acquire({ timeoutMs: WAIT_MS });
      assert.ok(fresh.token > stale.token);
      assert.equal(codeOf(await rejection(bucket.put('total', '2', { fence: stale.fence }), WAIT_MS)), ErrorCode.FENCE_STALE);
      await kv(b, target.name).put('total', '3', { fence: fresh.fence });
      assert.equal((await bucket.get('total'))?.string(), '3');
      await fresh.release();
      await bucket.destroy();
    },
  },
];
