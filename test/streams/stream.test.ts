import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startBroker, connect, type AcceptStreamsOptions, type Broker, type Connection, type PlexusStream, type StreamListener, PlexusError } from '../../src/index.js';

async function setup(t: { after: (fn: () => Promise<void>) => void }, brokerOpts = {}): Promise<{ broker: Broker; a: Connection; b: Connection; url: string }> {
  const broker = await startBroker({ listen: ['tcp://127.0.0.1:0'], ...brokerOpts });
  const url = broker.urls[0]!;
  const a = await connect(url, { reconnectDelayMs: 10, maxReconnectDelayMs: 100 });
  const b = await connect(url, { reconnectDelayMs: 10, maxReconnectDelayMs: 100 });
  t.after(async () => {
    await a.close();
    await b.close();
    await broker.close({ drainMs: 100 });
  });
  return { broker, a, b, url };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]);
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Open a stream from `a` to `b` on `subject`; returns both ends and the listener. */
async function openPair(
  a: Connection,
  b: Connection,
  subject: string,
  options: AcceptStreamsOptions = {},
): Promise<{ s: PlexusStream; peer: PlexusStream; listener: StreamListener }> {
  const listener = b.acceptStreams(subject, options);
  await b.flush();
  const accepted = listener[Symbol.asyncIterator]().next();
  const s = await a.stream(subject);
  const peer = (await accepted).value as PlexusStream;
  return { s, peer, listener };
}

test('bytes flow both ways at once, intact, with EOF on each side', async (t) => {
  const { a, b } = await setup(t);
  const listener = b.acceptStreams('echo');
  await b.flush();
  const up = randomBytes(3 * 1024 * 1024 + 17);
  const down = randomBytes(2 * 1024 * 1024 + 5);
  const server = (async () => {
    for await (const s of listener) {
      const [got] = await Promise.all([s.readAll(), s.write(down).then(() => s.end())]);
      return got;
    }
    throw new Error('listener ended');
  })();
  const s = await a.stream('echo');
  const [, fromServer] = await Promise.all([s.write(up).then(() => s.end()), s.readAll()]);
  const atServer = await within(server, 10_000, 'server');
  assert.equal(sha(atServer), sha(up));
  assert.equal(sha(fromServer), sha(down));
  assert.equal(await within(s.closed, 5000, 'closed'), undefined);
  listener.close();
});

test('a reader that does not read holds the writer back (credit window)', async (t) => {
  const { a, b } = await setup(t);
  const { s, peer, listener } = await openPair(a, b, 'slow', { window: 64 * 1024 });
  let done = false;
  const writing = s.write(Buffer.alloc(1024 * 1024)).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(done, false, 'the write must not complete while the reader reads nothing');
  let read = 0;
  while (read < 1024 * 1024) read += (await peer.read())!.length;
  await within(writing, 5000, 'write');
  assert.equal(done, true);
  listener.close();
});

test('end() resolves only after the reader has consumed everything', async (t) => {
  const { a, b } = await setup(t);
  const { s, peer, listener } = await openPair(a, b, 'eof');
  await s.write('hello');
  let ended = false;
  const ending = s.end().then(() => (ended = true));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ended, false);
  assert.equal(Buffer.from((await peer.read())!).toString(), 'hello');
  assert.equal(await peer.read(), null, 'EOF after the last byte');
  await within(ending, 5000, 'end');
  listener.close();
});

test('reset on one side fails the other side with PLEXUS_ERR_STREAM_RESET', async (t) => {
  const { a, b } = await setup(t);
  const { s, peer, listener } = await openPair(a, b, 'reset');
  const reading = peer.read();
  s.reset('changed my mind');
  await assert.rejects(within(reading, 5000, 'read'), (e: unknown) => e instanceof PlexusError && e.code === 'PLEXUS_ERR_STREAM_RESET');
  await assert.rejects(s.write('x'), (e: unknown) => e instanceof PlexusError && e.code === 'PLEXUS_ERR_STREAM_RESET');
  listener.close();
});

test('opening a stream nobody accepts fails fast with PLEXUS_ERR_NO_RESPONDERS', async (t) => {
  const { a } = await setup(t);
  await assert.rejects(within(a.stream('nobody.home', { timeout: 30_000 }), 5000, 'open'), (e: unknown) => e instanceof PlexusError && e.code === 'PLEXUS_ERR_NO_RESPONDERS');
});

test('a peer that disconnects for good fails the stream with PLEXUS_ERR_STREAM_PEER_GONE', async (t) => {
  const { a, url } = await setup(t);
  const c = await connect(url, { reconnect: false });
  const listener = c.acceptStreams('gone', { peerTimeoutMs: 300, keepaliveMs: 100 });
  await c.flush();
  const s = await a.stream('gone', { peerTimeoutMs: 300, keepaliveMs: 100 });
  const reading = s.read();
  await c.close(); // no reset sent: simulates a crash of the peer's connection
  listener.close();
  await assert.rejects(within(reading, 5000, 'read'), (e: unknown) => e instanceof PlexusError && e.code === 'PLEXUS_ERR_STREAM_PEER_GONE');
});

test('a stream survives a broker restart without losing or duplicating bytes', async (t) => {
  let broker = await startBroker({ listen: ['tcp://127.0.0.1:0'] });
  const url = broker.urls[0]!;
  const a = await connect(url, { reconnectDelayMs: 10, maxReconnectDelayMs: 100 });
  const b = await connect(url, { reconnectDelayMs: 10, maxReconnectDelayMs: 100 });
  t.after(async () => {
    await a.close();
    await b.close();
    await broker.close({ drainMs: 100 });
  });
  const { s, peer, listener } = await openPair(a, b, 'resume');
  const data = randomBytes(8 * 1024 * 1024);
  const reading = peer.readAll();
  let restarts = 0;
  for (let o = 0; o < data.length; o += 256 * 1024) {
    await within(s.write(data.subarray(o, o + 256 * 1024)), 20_000, 'write');
    if (o === 4 * 1024 * 1024) {
      // Cut the network mid-transfer: the broker goes away, a new one takes its address.
      await broker.close({ drainMs: 10 });
      broker = await startBroker({ listen: [url] });
      restarts++;
    }
  }
  await within(s.end(), 20_000, 'end');
  const got = await within(reading, 20_000, 'read');
  assert.equal(restarts, 1);
  assert.equal(got.length, data.length);
  assert.equal(sha(got), sha(data));
  listener.close();
});

test('the Node Duplex adapter pipes with backpressure and EOF', async (t) => {
  const { a, b } = await setup(t);
  const listener = b.acceptStreams('duplex');
  await b.flush();
  const data = randomBytes(1024 * 1024);
  const server = (async () => {
    for await (const s of listener) {
      const chunks: Buffer[] = [];
      await pipeline(s.toDuplex(), new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
      await s.end(); // close our write side too: the caller sees EOF
      return Buffer.concat(chunks);
    }
    throw new Error('listener ended');
  })();
  const s = await a.stream('duplex');
  const duplex = s.toDuplex();
  const eof = once(duplex, 'end');
  duplex.resume(); // nothing comes back but EOF
  await pipeline(Readable.from([data.subarray(0, 500_000), data.subarray(500_000)]), duplex);
  assert.equal(sha(await within(server, 10_000, 'server')), sha(data));
  await within(eof, 5000, 'EOF on the duplex');
  listener.close();
});

test('iterating acceptStreams ends when the connection closes', async (t) => {
  const { a } = await setup(t);
  const next = a.acceptStreams('closing')[Symbol.asyncIterator]().next();
  await a.close();
  const r = await within(next, 2000, 'acceptStreams iteration');
  assert.equal(r.done, true);
});

test('a caller may reuse its buffer as soon as write() resolves', async (t) => {
  const { a, b } = await setup(t);
  const { s, peer, listener } = await openPair(a, b, 'reuse');
  const reading = peer.readAll();
  const buf = Buffer.alloc(100_000);
  const expected: Buffer[] = [];
  for (let round = 0; round < 5; round++) {
    buf.fill(round + 1); // overwrite the same buffer every round
    expected.push(Buffer.from(buf));
    await s.write(buf);
  }
  await s.end();
  assert.equal(sha(await within(reading, 10_000, 'read')), sha(Buffer.concat(expected)));
  listener.close();
});
