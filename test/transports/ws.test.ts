import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { PlexusError } from '../../src/errors/index.js';
import { FramedTransport, dial, listen, type Listener } from '../../src/transports/index.js';
import { FrameDecoder, FrameType, encodeFrame, type Frame } from '../../src/wire/index.js';
import { FrameCollector } from '../helpers/frames.js';
import { delay, rejectionOf, waitFor, withTimeout } from '../helpers/timeout.js';

interface WsServer {
  readonly listener: Listener;
  readonly servers: FramedTransport[];
  readonly sinks: FrameCollector[];
}

/** A ws:// listener that wraps each connection in a FramedTransport echoing PUB as MSG. */
async function wsServer(t: TestContext, address = 'ws://127.0.0.1:0/plexus'): Promise<WsServer> {
  const servers: FramedTransport[] = [];
  const sinks: FrameCollector[] = [];
  const listener = await listen(address, {}, (ch) => {
    const s = new FramedTransport(ch);
    const sink = new FrameCollector();
    sink.onEach = (f) => s.send({ type: FrameType.MSG, id: f.id, subject: f.subject, payload: f.payload });
    s.start(sink);
    servers.push(s);
    sinks.push(sink);
  });
  t.after(async () => {
    servers.forEach((s) => s.destroy());
    await withTimeout(listener.close(), 3000, 'listener.close()');
  });
  return { listener, servers, sinks };
}

/** A raw `ws` client, terminated after the test. */
async function rawClient(t: TestContext, url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  t.after(() => ws.terminate());
  ws.on('error', () => undefined);
  await withTimeout(new Promise((resolve) => ws.once('open', resolve)), 3000, 'raw ws open');
  return ws;
}

function get(url: string, path: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const { hostname, port } = new URL(url);
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = http.get({ hostname, port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      });
      req.on('error', reject);
    }),
    3000,
    `GET ${path}`,
  );
}

describe('ws transport specifics', { timeout: 20_000 }, () => {
  it('the listener URL carries the path, and binary frames work from a raw ws client', async (t) => {
    const { listener } = await wsServer(t);
    assert.match(listener.url, /^ws:\/\/127\.0\.0\.1:\d+\/plexus$/);
    const ws = await rawClient(t, listener.url);
    const got: Frame[] = [];
    const dec = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    ws.on('message', (data: Buffer) => dec.push(data, { onFrame: (f) => got.push(f) }));
    // Two frames in one message, then one frame split over two messages.
    const a = encodeFrame({ type: FrameType.PUB, id: 1, subject: 'a' });
    const b = encodeFrame({ type: FrameType.PUB, id: 2, subject: 'b' });
    const c = encodeFrame({ type: FrameType.PUB, id: 3, subject: 'c', payload: new Uint8Array(100).fill(9) });
    ws.send(Buffer.concat([a, b]));
    ws.send(c.subarray(0, 30));
    ws.send(c.subarray(30));
    await waitFor(() => got.length === 3, 3000, 'three echoes');
    assert.deepEqual(
      got.map((f) => [f.type, f.id, f.subject]),
      [
        [FrameType.MSG, 1, 'a'],
        [FrameType.MSG, 2, 'b'],
        [FrameType.MSG, 3, 'c'],
      ],
    );
  });

  it('a text message closes that connection (and only that one)', async (t) => {
    const { listener, sinks } = await wsServer(t);
    const bystander = new FramedTransport(await dial(listener.url));
    t.after(() => bystander.destroy());
    const bystanderSink = new FrameCollector();
    bystander.start(bystanderSink);
    await waitFor(() => sinks.length === 1, 3000, 'bystander accepted');

    const ws = await rawClient(t, listener.url);
    await waitFor(() => sinks.length === 2, 3000, 'raw client accepted');
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.send('{"hello":"json"}');
    await withTimeout(closed, 3000, 'raw client closed after a text message');
    const err = await sinks[1]!.waitClosed(3000, 'server side closed');
    assert.equal((err as PlexusError).code, 'PLEXUS_ERR_PROTOCOL');

    bystander.send({ type: FrameType.PUB, id: 1, subject: 'still.here' });
    await bystanderSink.waitForFrames(1, 3000, 'bystander echo');
    assert.equal(sinks[0]!.closeCount, 0);
  });

  it('the HTTP server answers 426 Upgrade Required to a plain GET', async (t) => {
    const { listener } = await wsServer(t);
    for (const path of ['/plexus', '/']) {
      const res = await get(listener.url, path);
      assert.equal(res.status, 426, path);
      assert.match(res.body, /upgrade/i);
    }
  });

  it('a WebSocket upgrade on another path is refused', async (t) => {
    const { listener, sinks } = await wsServer(t);
    const other = listener.url.replace(/\/plexus$/, '/elsewhere');
    const err = await rejectionOf(dial(other), 3000, 'dial on the wrong path');
    assert.equal((err as PlexusError).code, 'PLEXUS_ERR_CONNECT_FAILED');
    await delay(20);
    assert.equal(sinks.length, 0);
  });

  it('a paused channel holds messages back until resume, then delivers them in order', async (t) => {
    const { listener, servers } = await wsServer(t);
    const client = new FramedTransport(await dial(listener.url));
    t.after(() => client.destroy());
    const sink = new FrameCollector();
    client.start(sink);
    await waitFor(() => servers.length === 1, 3000, 'accept');
    client.pause();
    for (let i = 0; i < 200; i++) servers[0]!.send({ type: FrameType.PUB, id: i, subject: 'p', payload: new Uint8Array(1000) });
    await delay(50);
    assert.equal(sink.frames.length, 0, 'nothing delivered while paused');
    client.resume();
    await sink.waitForFrames(200, 3000);
    assert.deepEqual(
      sink.frames.map((f) => f.id),
      Array.from({ length: 200 }, (_, i) => i),
    );
  });

  it('a server close while the client is paused arrives after the data sent before it', async (t) => {
    const { listener, servers } = await wsServer(t);
    const client = new FramedTransport(await dial(listener.url));
    t.after(() => client.destroy());
    const sink = new FrameCollector();
    client.start(sink);
    await waitFor(() => servers.length === 1, 3000, 'accept');
    client.pause();
    for (let i = 0; i < 20; i++) servers[0]!.send({ type: FrameType.PUB, id: i, subject: 'p' });
    servers[0]!.close();
    await delay(100);
    assert.equal(sink.closeCount, 0);
    client.resume();
    assert.equal(await sink.waitClosed(3000), undefined);
    assert.equal(sink.frames.length, 20);
  });
});
