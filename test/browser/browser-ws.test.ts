/**
 * The browser entry and its WHATWG-WebSocket transport, run in Node with the `ws`
 * package's WebSocket class (same API as a browser's) against a real broker, plus the
 * channel's close codes, backpressure and bounded pause with a scripted socket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws';
import { connect, browserTransports, ErrorCode, type WebSocketConstructor, type WebSocketLike } from '../../src/browser.js';
import type { ByteChannel } from '../../src/transports/index.js';
import { Cleanup, startTestBroker, take } from '../helpers/plexus.js';
import { codeOf, deferred, rejectionCode, waitFor, within } from '../helpers/wait.js';

const WS = WsWebSocket as unknown as WebSocketConstructor;
const transports = browserTransports({ WebSocket: WS });

test('browser connect: publish, subscribe and request through a ws:// listener', async (t) => {
  const cleanup = new Cleanup(t);
  const { url, connect: nodeConnect } = await startTestBroker(cleanup, { listen: ['ws://127.0.0.1:0/'] });
  assert.match(url, /^ws:\/\//);
  const node = await nodeConnect();
  node.serve('math.double', (m) => String(Number(m.string()) * 2));
  await node.flush();
  const bus = await connect(url, { transports, timeoutMs: 3000 });
  cleanup.defer(() => bus.close());
  assert.equal(bus.status, 'open');
  const sub = bus.subscribe('news.>');
  await bus.flush();
  node.publish('news.eu', 'hello', { headers: { lang: 'en' } });
  const [m] = await take(sub, 1, 3000);
  assert.equal(m!.subject, 'news.eu');
  assert.equal(m!.string(), 'hello');
  assert.equal(m!.headers['lang'], 'en');
  const reply = await bus.request('math.double', '21', { timeout: 3000 });
  assert.equal(reply.string(), '42');
  // Binary payloads arrive byte for byte (binary WebSocket messages, not text).
  const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff);
  const echo = node.subscribe('bin');
  await node.flush();
  bus.publish('bin', bytes);
  const [b] = await take(echo, 1, 3000);
  assert.deepEqual(Buffer.from(b!.data), Buffer.from(bytes));
});

test('browser connect: refused, cancelled, unknown scheme and no URL are coded errors', async (t) => {
  const cleanup = new Cleanup(t);
  // A port that was just free: nothing listens there.
  const { url } = await startTestBroker(cleanup, { listen: ['ws://127.0.0.1:0/'] });
  const dead = url.replace(/:\d+\//, ':1/');
  assert.equal(await rejectionCode(connect(dead, { transports, reconnect: false, timeoutMs: 2000 }), 5000), ErrorCode.CONNECT_FAILED);
  assert.equal(await rejectionCode(connect('tcp://127.0.0.1:4850', { transports }), 2000), ErrorCode.UNSUPPORTED_TRANSPORT);
  assert.equal(await rejectionCode(connect([], { transports }), 2000), ErrorCode.INVALID_URL);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(connect(url, { transports, signal: ac.signal }));
  // No WebSocket class given and none global (Node 20): a clear error, not a TypeError.
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
    assert.equal(await rejectionCode(connect(url, { reconnect: false }), 2000), ErrorCode.UNSUPPORTED_TRANSPORT);
  }
  assert.throws(() => browserTransports({ highWaterBytes: 0 }), (e: unknown) => codeOf(e) === ErrorCode.INVALID_ARGUMENT);
});

/** A raw WebSocket server (not a broker) to script close codes and text messages. */
async function rawServer(cleanup: Cleanup, onConnection: (ws: WsWebSocket) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', onConnection);
  cleanup.defer(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  return `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
}

/** Attach to a channel and record what it delivers. */
function record(channel: ByteChannel): { data: Uint8Array[]; closed: Promise<Error | undefined>; drains: number } {
  const closed = deferred<Error | undefined>();
  const out = { data: [] as Uint8Array[], closed: closed.promise, drains: 0 };
  channel.attach({ data: (c) => out.data.push(c), drain: () => out.drains++, close: (e) => closed.resolve(e) });
  return out;
}

test('browser channel: close codes map to clean close or CONNECTION_LOST; text is a protocol error', async (t) => {
  const cleanup = new Cleanup(t);
  const behaviours = ['1000', '1011', 'text'];
  const url = await rawServer(cleanup, (ws) => {
    const what = behaviours.shift();
    if (what === '1000') {
      ws.send(Buffer.from([1, 2, 3]));
      ws.close(1000, 'bye');
    } else if (what === '1011') ws.close(1011, 'server broke');
    else ws.send('not a frame');
  });
  const dial = (): Promise<ByteChannel> => transports['ws:']!.dial(new URL(url), { timeoutMs: 3000 });

  const clean = record(await dial());
  assert.equal(await within(clean.closed, 3000, 'clean close'), undefined);
  assert.deepEqual(clean.data.map((d) => [...d]), [[1, 2, 3]], 'data before a clean close is delivered');

  const broken = record(await dial());
  const err = await within(broken.closed, 3000, 'close 1011');
  assert.equal(codeOf(err), ErrorCode.CONNECTION_LOST);
  assert.match(String(err?.message), /1011.*server broke/);

  const text = record(await dial());
  assert.equal(codeOf(await within(text.closed, 3000, 'text close')), ErrorCode.PROTOCOL);
});

/** A scripted socket: opens at once; the test sets bufferedAmount and fires messages. */
class ScriptedSocket implements WebSocketLike {
  static last: ScriptedSocket | undefined;
  binaryType = 'blob';
  readyState = 0;
  bufferedAmount = 0;
  sent: Uint8Array[] = [];
  closedWith: number | undefined;
  private readonly listeners = new Map<string, ((e: never) => void)[]>();
  constructor(readonly url: string) {
    ScriptedSocket.last = this;
    setTimeout(() => {
      this.readyState = 1;
      this.fire('open', {});
    }, 1);
  }
  addEventListener(type: string, fn: (e: never) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  fire(type: string, e: object): void {
    for (const fn of this.listeners.get(type) ?? []) fn(e as never);
  }
  send(data: Uint8Array): void {
    this.sent.push(data);
    this.bufferedAmount += data.length;
  }
  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 3;
  }
}

test('browser channel: write backpressure from bufferedAmount, drain when it halves; default port 4852', async () => {
  const table = browserTransports({ WebSocket: ScriptedSocket, highWaterBytes: 1000, drainPollMs: 5 });
  const channel = await table['ws:']!.dial(new URL('ws://127.0.0.1/'), { timeoutMs: 1000 });
  const sock = ScriptedSocket.last!;
  assert.equal(sock.url, 'ws://127.0.0.1:4852/', 'no port means Plexus\'s ws port, as in Node');
  assert.equal(sock.binaryType, 'arraybuffer');
  const rec = record(channel);
  assert.equal(channel.write(new Uint8Array(600)), true);
  assert.equal(channel.write(new Uint8Array(600)), false, 'at the high-water mark the writer must wait');
  sock.bufferedAmount = 700; // still above half
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(rec.drains, 0);
  sock.bufferedAmount = 100;
  await waitFor(() => rec.drains === 1, 2000, 'drain');
  channel.destroy();
  assert.equal(sock.closedWith, 4000, 'destroy closes with an application code browsers accept');
});

test('browser channel: paused reading queues in order, and past maxPausedBytes drops the link (SLOW_CONSUMER)', async () => {
  const table = browserTransports({ WebSocket: ScriptedSocket, maxPausedBytes: 10 });
  const channel = await table['ws:']!.dial(new URL('ws://127.0.0.1:9/'), { timeoutMs: 1000 });
  const sock = ScriptedSocket.last!;
  const rec = record(channel);
  channel.pause();
  sock.fire('message', { data: new Uint8Array([1, 2, 3]).buffer });
  sock.fire('message', { data: new Uint8Array([4]).buffer });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(rec.data.length, 0, 'nothing is delivered while paused');
  channel.resume();
  await waitFor(() => rec.data.length === 2, 1000, 'queued delivery');
  assert.deepEqual(rec.data.map((d) => [...d]), [[1, 2, 3], [4]]);
  channel.pause();
  sock.fire('message', { data: new Uint8Array(11).buffer });
  assert.equal(codeOf(await within(rec.closed, 1000, 'overflow close')), ErrorCode.SLOW_CONSUMER);
  assert.equal(sock.closedWith, 4000);
});

test('browser dial: an explicit :80 is kept; a dial that never opens times out', async () => {
  const table = browserTransports({ WebSocket: ScriptedSocket });
  const { dialFrom } = await import('../../src/transports/browser-ws.js');
  await dialFrom(table)('ws://127.0.0.1:80/x', { timeoutMs: 1000 });
  assert.equal(ScriptedSocket.last!.url, 'ws://127.0.0.1/x', 'WHATWG drops :80 for ws:, which is port 80');
  class NeverOpens extends ScriptedSocket {
    constructor(url: string) {
      super(url);
      this.readyState = 0;
    }
    override addEventListener(type: string, fn: (e: never) => void): void {
      if (type !== 'open') super.addEventListener(type, fn);
    }
  }
  const slow = browserTransports({ WebSocket: NeverOpens });
  assert.equal(await rejectionCode(slow['ws:']!.dial(new URL('ws://127.0.0.1:9/'), { timeoutMs: 50 }), 2000), ErrorCode.CONNECT_FAILED);
  assert.equal(NeverOpens.last!.closedWith, 4000, 'the abandoned socket is closed');
});
