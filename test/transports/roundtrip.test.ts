import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { dial, listen, type ByteChannel } from '../../src/transports/index.js';
import { FrameType } from '../../src/wire/index.js';
import { FrameCollector, assertFramesMatch, sendAll, trafficPlan } from '../helpers/frames.js';
import { delay, withTimeout } from '../helpers/timeout.js';
import { connectFramed, transportCases } from './cases.js';
import { FramedTransport } from '../../src/transports/index.js';

for (const tc of transportCases) {
  describe(`${tc.name} transport`, { timeout: 20_000 }, () => {
    it('carries frames both ways at once, intact and in order; a client close fires onClose once on each side', async (t) => {
      const ep = await tc.endpoint(t);
      const { client, server, clientSink, serverSink, listener } = await connectFramed(t, ep);
      assert.equal(client.info.kind, tc.kind);
      assert.equal(server.info.kind, tc.kind);
      if (tc.kind !== 'inproc' && tc.kind !== 'unix') assert.match(listener.url, new RegExp(`^${tc.kind}://127\\.0\\.0\\.1:[1-9]\\d*`));

      const up = trafficPlan(1);
      const down = trafficPlan(2);
      sendAll(client, up);
      sendAll(server, down);
      await serverSink.waitForFrames(up.length, 10_000, 'client→server frames');
      await clientSink.waitForFrames(down.length, 10_000, 'server→client frames');
      assertFramesMatch(serverSink.frames, up, 'client→server');
      assertFramesMatch(clientSink.frames, down, 'server→client');
      assert.ok(client.bytesOut > 2 * 1024 * 1024);
      assert.equal(server.bytesIn, client.bytesOut);
      assert.equal(client.pendingBytes, 0);

      client.close();
      assert.equal(await clientSink.waitClosed(5000, 'client close'), undefined);
      assert.equal(await serverSink.waitClosed(5000, 'server close'), undefined);
      await delay(50);
      assert.equal(clientSink.closeCount, 1);
      assert.equal(serverSink.closeCount, 1);
      assert.equal(client.isClosed, true);
      assert.equal(server.isClosed, true);
      // Sending on a closed transport is a no-op, not a throw.
      client.send({ type: FrameType.PUB, subject: 'late' });
    });

    it('a server-side close delivers what was queued, then closes both ends once', async (t) => {
      const ep = await tc.endpoint(t);
      const { server, clientSink, serverSink } = await connectFramed(t, ep);
      const down = trafficPlan(3, { tiny: 2000 });
      sendAll(server, down);
      server.close();
      assert.equal(await clientSink.waitClosed(5000, 'client close'), undefined);
      assert.equal(await serverSink.waitClosed(5000, 'server close'), undefined);
      assertFramesMatch(clientSink.frames, down, 'server→client before close');
      await delay(50);
      assert.equal(clientSink.closeCount, 1);
      assert.equal(serverSink.closeCount, 1);
    });

    it('destroy() closes both ends once', async (t) => {
      const ep = await tc.endpoint(t);
      const { client, clientSink, serverSink } = await connectFramed(t, ep);
      client.destroy();
      await clientSink.waitClosed(5000, 'client close');
      await serverSink.waitClosed(5000, 'server close');
      await delay(50);
      assert.equal(clientSink.closeCount, 1);
      assert.equal(serverSink.closeCount, 1);
    });

    it('listener.close() settles while a connection is open; that connection keeps working and new dials fail', async (t) => {
      const ep = await tc.endpoint(t);
      const { listener, client, server, clientSink, serverSink } = await connectFramed(t, ep);
      await withTimeout(listener.close(), 2000, 'listener.close() with a live connection');
      await assert.rejects(withTimeout(dial(listener.url, { ...ep.dialOptions, timeoutMs: 2000 }), 3000, 'dial after close'), {
        code: 'PLEXUS_ERR_CONNECT_FAILED',
      });
      client.send({ type: FrameType.PUB, id: 7, subject: 'still.here' });
      server.send({ type: FrameType.PUB, id: 8, subject: 'me.too' });
      await serverSink.waitForFrames(1, 3000);
      await clientSink.waitForFrames(1, 3000);
      assert.equal(serverSink.frames[0]!.subject, 'still.here');
      assert.equal(clientSink.frames[0]!.subject, 'me.too');
      client.close();
      await serverSink.waitClosed(3000);
    });
  });
}

for (const tc of transportCases) {
  describe(`${tc.name} transport, before attach`, { timeout: 20_000 }, () => {
    /** Listen with `onAccept`, dial, wait a while, and only then start the client. */
    async function dialLate(t: TestContext, onAccept: (ch: ByteChannel) => void): Promise<{ client: FramedTransport; sink: FrameCollector }> {
      const ep = await tc.endpoint(t);
      const listener = await listen(ep.address, ep.listenOptions, onAccept);
      const client = new FramedTransport(await withTimeout(dial(listener.url, ep.dialOptions), 5000, 'dial'));
      t.after(async () => {
        client.destroy();
        await withTimeout(listener.close(), 3000, 'listener.close()');
      });
      await delay(100);
      const sink = new FrameCollector();
      client.start(sink);
      return { client, sink };
    }

    it('a server that sends the moment it accepts is heard by a client that attaches later', async (t) => {
      const servers: FramedTransport[] = [];
      t.after(() => servers.forEach((s) => s.destroy()));
      const greeting = trafficPlan(9, { tiny: 3, bigBytes: 100_000 });
      const { sink } = await dialLate(t, (ch) => {
        const server = new FramedTransport(ch);
        servers.push(server);
        server.start(new FrameCollector());
        sendAll(server, greeting);
      });
      await sink.waitForFrames(greeting.length, 5000, 'greeting');
      assertFramesMatch(sink.frames, greeting, 'greeting');
    });

    it('a connection dropped by the server before the client attaches reports one close', async (t) => {
      const { sink } = await dialLate(t, (ch) => ch.destroy());
      await sink.waitClosed(5000, 'close of a connection dropped before attach');
      await delay(50);
      assert.equal(sink.closeCount, 1);
      assert.equal(sink.frames.length, 0);
    });
  });
}

describe('FrameCollector sanity', () => {
  it('a transport started twice throws', async (t) => {
    const ep = await transportCases[0]!.endpoint(t);
    const { client } = await connectFramed(t, ep);
    assert.throws(() => client.start(new FrameCollector()), /already started/);
    assert.ok(client instanceof FramedTransport);
  });
});
