import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { durable, startDurableService } from '../../src/durable/index.js';
import { Cleanup, startTestBroker, tempDir } from '../helpers/plexus.js';
import { sleep, within } from '../helpers/wait.js';

const FAST = { reconnectDelayMs: 20, maxReconnectDelayMs: 100, timeoutMs: 3000 };

void describe('durable service: broker restart', () => {
  void it('resubscribes after the broker restarts and keeps its streams and consumers', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'tcp' });
    const dir = await tempDir(c, 'plexus-ds-');
    const svc = await startDurableService({ dir, url: b.url, connect: FAST });
    c.defer(() => svc.close());
    const bus = await b.connect(FAST);
    const ds = durable(bus, { timeoutMs: 2000 });
    await ds.createStream({ name: 'r', subjects: ['r.>'] });
    await ds.createConsumer({ stream: 'r', name: 'c' });
    assert.equal((await ds.publish('r.a', 'before')).seq, 1);

    await b.broker.close({ drainMs: 200 });
    await startTestBroker(c, { listen: [b.url] });
    // Until both the service and this client have reconnected, publishes fail; then they are acked.
    const seq = await within(
      (async () => {
        for (;;) {
          try {
            return (await ds.publish('r.a', 'after', { msgId: 'after-1', timeoutMs: 500 })).seq;
          } catch {
            await sleep(50);
          }
        }
      })(),
      8000,
      'acked publish after the broker restart',
    );
    assert.equal(seq, 2);
    const ms = await ds.fetch('r', 'c', { batch: 10, expiresMs: 200 });
    assert.deepEqual(
      ms.map((m) => m.string()),
      ['before', 'after'],
    );
  });
});
