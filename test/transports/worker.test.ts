import assert from 'node:assert/strict';
import { MessageChannel, Worker } from 'node:worker_threads';
import { describe, it, type TestContext } from 'node:test';
import { startBroker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import { InprocHub, channelFromPort, dial, workerPortPair } from '../../src/transports/index.js';
import { withTimeout } from '../helpers/timeout.js';
import { checkBackpressure, checkDestroy, checkRawOrder, checkRoundTrip, framedEnds } from './channel-pair.js';

function portPair(t: TestContext): ReturnType<typeof framedEnds> {
  const { port1, port2 } = new MessageChannel();
  t.after(() => {
    port1.close();
    port2.close();
  });
  return framedEnds(t, channelFromPort(port1), channelFromPort(port2));
}

describe('worker: transport', { timeout: 20_000 }, () => {
  it('carries frames both ways intact and in order; close is seen once on each side', async (t) => {
    await checkRoundTrip(portPair(t), 'worker');
  });

  it('a paused receiver pushes back on the writer; resume drains', async (t) => {
    await checkBackpressure(portPair(t));
  });

  it('destroy() closes both ends once', async (t) => {
    await checkDestroy(portPair(t));
  });

  it('writes past the high-water mark are delivered in order and followed by drain', async (t) => {
    const { port1, port2 } = new MessageChannel();
    t.after(() => {
      port1.close();
      port2.close();
    });
    await checkRawOrder(channelFromPort(port1), channelFromPort(port2));
  });

  it('dialing worker: outside a worker with a port fails with a clear error', async () => {
    await assert.rejects(dial('worker:'), { code: 'PLEXUS_ERR_CONNECT_FAILED', message: /MessagePort/ });
  });

  for (const rings of [false, true]) {
    it(`a broker in the main thread and a client in a worker thread${rings ? ' (ring mode)' : ''}: request/reply and pub/sub; terminating the worker closes the session`, async (t) => {
      const hub = new InprocHub();
      const broker = await startBroker({ listen: [`inproc://e2e-${rings}`], inproc: hub });
      t.after(() => withTimeout(broker.close({ drainMs: 100 }), 5000, 'broker.close'));
      const main = await connect(`inproc://e2e-${rings}`, { inproc: hub });
      t.after(() => withTimeout(main.close(), 5000, 'main.close'));
      main.serve('e2e.main', (m) => `main:${m.string()}`);
      await main.flush();

      const pair = workerPortPair({ rings });
      broker.accept(pair.channel);
      const worker = new Worker(new URL('../fixtures/transport-client.js', import.meta.url), { workerData: pair.workerData, transferList: pair.transferList });
      t.after(() => worker.terminate());
      const messages: { type: string; text?: string }[] = [];
      const waiters: (() => void)[] = [];
      worker.on('message', (m: { type: string }) => {
        messages.push(m);
        waiters.splice(0).forEach((w) => w());
      });
      const next = async (type: string): Promise<{ type: string; text?: string }> => {
        for (;;) {
          const i = messages.findIndex((m) => m.type === type);
          if (i >= 0) return messages.splice(i, 1)[0]!;
          await withTimeout(new Promise<void>((r) => waiters.push(r)), 10_000, `worker message ${type}`);
        }
      };
      await next('ready');
      assert.equal(broker.status().connections, 2);

      const reply = await withTimeout(main.request('e2e.echo', 'hi', { timeout: 5000 }), 6000, 'request to worker');
      assert.equal(reply.string(), 'echo:hi');

      const up = main.subscribe('e2e.up');
      await main.flush();
      for (let i = 0; i < 100; i++) main.publish('e2e.down', `m${i}`);
      const got: string[] = [];
      await withTimeout(
        (async () => {
          for await (const m of up) {
            got.push(m.string());
            if (got.length === 100) break;
          }
        })(),
        10_000,
        'pub/sub round trip through the worker',
      );
      assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => `m${i}`));

      main.publish('e2e.ask', 'q');
      assert.equal((await next('answer')).text, 'main:q');

      await worker.terminate();
      const deadline = Date.now() + 5000;
      while (broker.status().connections !== 1) {
        if (Date.now() > deadline) assert.fail('the broker did not notice the worker going away');
        await new Promise((r) => setTimeout(r, 10));
      }
    });
  }
});
