import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Connection } from '../../src/client/index.js';
import { queue, type QueueMessage } from '../../src/patterns/index.js';
import { startBroker } from '../../src/server/index.js';
import { spawnNode, type TestChild } from '../helpers/child.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { within } from '../helpers/wait.js';

const child = new URL('./queue-child.js', import.meta.url);

async function next(it: AsyncIterator<QueueMessage>, ms = 15_000): Promise<QueueMessage> {
  const r = await within(it.next(), ms, 'next message');
  assert.equal(r.done, false, 'iteration ended');
  return r.value as QueueMessage;
}

void describe('queue faults', () => {
  void it('a consumer SIGKILLed mid-message: the message is redelivered to another consumer', async (t) => {
    const cleanup = new Cleanup(t);
    const dir = await tempDir(cleanup, 'plexus-qf-');
    const server = await startBroker({ listen: ['tcp://127.0.0.1:0'], durable: { dir } });
    cleanup.defer(() => server.close({ drainMs: 0 }));
    const url = server.urls[0]!;
    const bus = await connect(url, { timeoutMs: 3000 });
    cleanup.defer(() => bus.close());
    const q = queue(bus, 'jobs', { ackWaitMs: 500 });
    await q.send('resize image 42');
    const worker = await spawnNode(cleanup, child, ['consume', url, 'jobs']);
    const line = await worker.waitLine(/^got /, 10_000);
    assert.equal(line, 'got 1 resize image 42');
    await worker.kill();
    const it = q.consume({ prefetch: 1 });
    const m = await next(it);
    assert.equal(m.string(), 'resize image 42');
    assert.equal(m.deliveryCount, 2, 'the second delivery');
    await m.ack();
    await it.close();
    assert.equal((await q.stat()).stored, 0);
  });

  void it('broker and service SIGKILLed between send and consume, and mid-consume: nothing acknowledged is lost or redelivered', async (t) => {
    const cleanup = new Cleanup(t);
    const dir = await tempDir(cleanup, 'plexus-qf-');
    const conns: Connection[] = [];
    cleanup.defer(() => Promise.all(conns.map((c) => c.close())));
    let broker: TestChild;
    let port = 0;
    const start = async (): Promise<string> => {
      broker = await spawnNode(cleanup, child, ['broker', String(port), dir]);
      const url = (await broker.waitLine(/^ready /, 10_000)).slice('ready '.length);
      port = Number(new URL(url).port);
      const bus = await connect(url, { timeoutMs: 3000, reconnect: false });
      conns.push(bus);
      return url;
    };
    await start();
    const N = 100;
    const sender = queue(conns.at(-1)!, 'orders');
    for (let i = 0; i < N; i++) await sender.send(`order ${i}`, { msgId: `o${i}` });
    await broker!.kill(); // every send above was acknowledged: all must be there

    await start();
    const acked = new Set<string>();
    let it = queue(conns.at(-1)!, 'orders').consume({ prefetch: 1 });
    for (let i = 0; i < 40; i++) {
      const m = await next(it);
      assert.equal(m.string(), `order ${i}`, 'in order');
      await m.ack(); // resolves once the ack is saved
      acked.add(m.string());
    }
    await broker!.kill();

    await start();
    const q = queue(conns.at(-1)!, 'orders');
    it = q.consume({ prefetch: 8 });
    const rest: string[] = [];
    while (acked.size + rest.length < N) {
      const m = await next(it);
      assert.ok(!acked.has(m.string()), `${m.string()} was acknowledged before the crash and came back`);
      rest.push(m.string());
      await m.ack();
    }
    await it.close();
    assert.deepEqual(
      [...acked, ...rest].sort(),
      Array.from({ length: N }, (_, i) => `order ${i}`).sort(),
      'every order exactly once',
    );
    assert.equal((await q.stat()).stored, 0);
  });
});
