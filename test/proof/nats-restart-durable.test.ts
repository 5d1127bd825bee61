/**
 * Fault test: a private nats-server with JetStream (its own store dir) restarts while KV
 * writes are going. Every put the adapter acknowledged (resolved with a revision) must
 * still be there after the restart, and writes work again without reopening the bucket.
 * (Queues are not built on nats yet, so the acknowledged traffic here is KV puts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectBus, kv } from '../../src/index.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { sleep, waitFor, within } from '../helpers/wait.js';
import { startPrivateNats } from '../conformance/nats-server.js';

test('nats JetStream restart mid-traffic: no acknowledged KV put is lost', async (t) => {
  const cleanup = new Cleanup(t);
  const store = await tempDir(cleanup, 'plexus-js-');
  const nats = await startPrivateNats(cleanup, `jetstream { store_dir: ${JSON.stringify(store)} }`);
  const bus = await connectBus(nats.url, { timeoutMs: 3000, reconnectDelayMs: 50 });
  cleanup.defer(() => bus.close());
  const bucket = kv(bus, 'restart', { history: 1, timeoutMs: 2000 });
  const acked = new Map<string, string>();
  let failed = 0;
  let stop = false;
  const writer = async (w: number): Promise<void> => {
    // Bounded by `stop`, which the test sets after the restart.
    for (let i = 0; !stop; i++) {
      const key = `w${w}.k${i}`;
      const value = `${w}:${i}`;
      try {
        await bucket.put(key, value);
        acked.set(key, value);
      } catch {
        failed++; // not acknowledged: it may or may not be stored
        await sleep(20);
      }
    }
  };
  const writers = [0, 1, 2, 3].map(writer);
  await waitFor(() => acked.size >= 200, 30_000, '200 acknowledged puts before the restart');
  await nats.stop();
  await sleep(300);
  await nats.start();
  const before = acked.size;
  await waitFor(() => acked.size >= before + 200, 30_000, '200 more acknowledged puts after the restart');
  stop = true;
  await within(Promise.all(writers), 10_000, 'the writers to stop');

  const lost: string[] = [];
  for (const [key, value] of acked) if ((await bucket.get(key))?.string() !== value) lost.push(key);
  assert.deepEqual(lost, [], `acknowledged puts lost (${failed} puts failed during the outage)`);
  assert.ok((await bucket.info()).state.keys >= acked.size);
  t.diagnostic(`acknowledged ${acked.size} puts, ${failed} failed during the outage, none lost`);
});
