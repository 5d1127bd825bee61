import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { durable } from '../../src/durable/index.js';
import { openLog } from '../../src/store/index.js';
import { decodeHeaders } from '../../src/wire/index.js';
import { spawnNode, type TestChild } from '../helpers/child.js';
import { Cleanup, startTestBroker, tempDir } from '../helpers/plexus.js';
import { sleep, within } from '../helpers/wait.js';

const child = new URL('./fixtures/service-child.js', import.meta.url);

void describe('durable service: crash', () => {
  void it('SIGKILLed during acked publishes: every acked message is there after restart, none twice', async (t) => {
    const cleanup = new Cleanup(t);
    const broker = await startTestBroker(cleanup, { via: 'tcp' });
    const dir = await tempDir(cleanup, 'plexus-ds-crash-');
    const bus = await broker.connect();
    const ds = durable(bus, { timeoutMs: 2000 });
    const start = async (): Promise<TestChild> => {
      const c = await spawnNode(cleanup, child, [broker.url, dir]);
      await c.waitLine(/^ready$/, 5000);
      return c;
    };
    let svc = await start();
    await ds.createStream({ name: 'crash', subjects: ['crash.>'], fsync: 'always' });

    const acked = new Map<number, number>(); // id → seq
    let nextId = 0;
    let stop = false;
    let attempts = 0;
    let failures = 0;
    let duplicateAcks = 0;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const id = nextId++;
        for (;;) {
          attempts++;
          try {
            const r = await ds.publish('crash.x', `payload ${id}`, { msgId: `m${id}`, timeoutMs: 2000 });
            acked.set(id, r.seq);
            if (r.duplicate) duplicateAcks++;
            break;
          } catch {
            failures++;
            await sleep(10);
          }
        }
      }
    };
    const workers = Array.from({ length: 16 }, () => worker());

    const KILLS = 10;
    const t0 = Date.now();
    await within(
      (async () => {
        for (let k = 0; k < KILLS; k++) {
          await sleep(80 + Math.floor(Math.random() * 150));
          await svc.kill();
          svc = await start();
        }
        await sleep(200);
        stop = true;
        await Promise.all(workers);
      })(),
      18_000,
      'kill loop',
    );
    await svc.kill();
    const elapsed = Date.now() - t0;

    const log = await openLog(join(dir, 'streams', 'crash', 'log'));
    t.after(() => log.close());
    const seen = new Map<string, number[]>();
    for (let from = log.firstSeq; from <= log.lastSeq; ) {
      const batch = await log.readRange(from, { maxRecords: 4096 });
      if (batch.length === 0) break;
      for (const r of batch) {
        const h = decodeHeaders(r.headers) ?? {};
        const id = h['msg-id']!;
        assert.equal(new TextDecoder().decode(r.payload), `payload ${id.slice(1)}`);
        assert.ok(h[':from'], 'sender stored');
        seen.set(id, [...(seen.get(id) ?? []), r.seq]);
      }
      from = batch[batch.length - 1]!.seq + 1;
    }
    let lost = 0;
    let wrongSeq = 0;
    for (const [id, seq] of acked) {
      const s = seen.get(`m${id}`);
      if (!s) lost++;
      else if (!s.includes(seq)) wrongSeq++;
    }
    const duplicates = [...seen.values()].filter((s) => s.length > 1).length;
    t.diagnostic(
      `kills=${KILLS} acked=${acked.size} stored=${log.stats().records} attempts=${attempts} failed-attempts=${failures} duplicate-acks=${duplicateAcks} lost=${lost} duplicates=${duplicates} in ${elapsed} ms`,
    );
    assert.ok(acked.size > 100, `enough acked publishes (${acked.size})`);
    assert.equal(lost, 0, 'acknowledged publishes lost');
    assert.equal(wrongSeq, 0, 'acks that named another sequence');
    assert.equal(duplicates, 0, 'msg-ids stored twice');
    assert.ok(failures > 0, 'the kills hit publishes in flight');
  });

  void it('SIGKILLed while competing consumers fetch and ack: nothing lost, no confirmed ack undone', async (t) => {
    const cleanup = new Cleanup(t);
    const broker = await startTestBroker(cleanup, { via: 'tcp' });
    const dir = await tempDir(cleanup, 'plexus-ds-crash-');
    const start = async (): Promise<TestChild> => {
      const c = await spawnNode(cleanup, child, [broker.url, dir]);
      await c.waitLine(/^ready$/, 5000);
      return c;
    };
    let svc = await start();
    const admin = durable(await broker.connect(), { timeoutMs: 2000 });
    await admin.createStream({ name: 'jobs', subjects: ['jobs.>'] });
    await admin.createConsumer({ stream: 'jobs', name: 'w', ackWaitMs: 400, maxDeliver: 1000 });
    const N = 400;
    await Promise.all(Array.from({ length: N }, (_, i) => admin.publish('jobs.x', `job ${i}`, { msgId: `j${i}` })));

    const ackedAt = new Map<number, number>(); // seq → when its ack was confirmed
    const delivered = new Set<number>();
    let deliveries = 0;
    let undone = 0;
    let failures = 0;
    const workers = await Promise.all(Array.from({ length: 4 }, async () => durable(await broker.connect(), { timeoutMs: 1500 })));
    let done = false;
    const run = async (ds: (typeof workers)[number]): Promise<void> => {
      while (!done) {
        const sentAt = Date.now();
        let batch;
        try {
          batch = await ds.fetch('jobs', 'w', { batch: 16, expiresMs: 100 });
        } catch {
          failures++;
          await sleep(20);
          continue;
        }
        for (const m of batch) {
          deliveries++;
          delivered.add(m.seq);
          const confirmed = ackedAt.get(m.seq);
          if (confirmed !== undefined && confirmed < sentAt) undone++;
          try {
            await m.ack();
            if (!ackedAt.has(m.seq)) ackedAt.set(m.seq, Date.now());
          } catch {
            failures++;
          }
        }
      }
    };
    const running = workers.map((ds) => run(ds));
    const KILLS = 10;
    await within(
      (async () => {
        for (let k = 0; k < KILLS; k++) {
          await sleep(60 + Math.floor(Math.random() * 120));
          await svc.kill();
          svc = await start();
        }
        // An ack whose reply was lost to a kill may still have been saved: the service's
        // state, not the workers' tally, says when everything is acknowledged.
        for (;;) {
          const info = await admin.consumerInfo('jobs', 'w').catch(() => undefined);
          if (info && info.state.ackFloor === N && info.state.pending === 0) break;
          await sleep(50);
        }
        done = true;
        await Promise.all(running);
      })(),
      18_000,
      'kill loop with consumers',
    )
      .catch(async (err: unknown) => {
        const info = await admin.consumerInfo('jobs', 'w').catch((e: unknown) => String(e));
        t.diagnostic(`acked=${ackedAt.size} deliveries=${deliveries} failures=${failures} info=${JSON.stringify(info)}`);
        throw err;
      })
      .finally(() => (done = true));
    t.diagnostic(`kills=${KILLS} messages=${N} delivered=${delivered.size} acks-confirmed=${ackedAt.size} deliveries=${deliveries} failed-calls=${failures} undone-acks=${undone}`);
    assert.equal(delivered.size, N, 'every message delivered');
    assert.ok(ackedAt.size >= N - 20, 'most acks confirmed');
    assert.equal(undone, 0, 'a message delivered again after its ack was confirmed');
    const info = await admin.consumerInfo('jobs', 'w');
    assert.equal(info.state.pending, 0);
    assert.equal(info.state.ackFloor, N);
    assert.deepEqual(await admin.fetch('jobs', 'w', { batch: 10, expiresMs: 100 }), []);
  });
});
