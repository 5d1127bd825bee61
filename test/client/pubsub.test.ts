import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { Message, Subscription } from '../../src/client/index.js';
import { ErrorCode, type PlexusError } from '../../src/errors/index.js';
import { FrameDecoder, FrameType, encodeFrame } from '../../src/wire/index.js';
import { Cleanup, connectClient, settle, startTestBroker, take } from '../helpers/plexus.js';
import { RawClient } from '../helpers/raw.js';
import { codeOf, rejection, sleep, waitFor, within } from '../helpers/wait.js';

const strings = (ms: readonly Message[]): string[] => ms.map((m) => m.string());

describe('publish/subscribe', { timeout: 30_000 }, () => {
  it('routes by literal subject and by * and > wildcards', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const conn = await b.connect();
    const exact = conn.subscribe('a.b.c');
    const star = conn.subscribe('a.*.c');
    const rest = conn.subscribe('a.>');
    const all = conn.subscribe('>');
    await conn.flush();
    for (const s of ['a.b.c', 'a.x.c', 'a.b', 'a.b.c.d', 'z']) conn.publish(s, s);
    assert.deepEqual(strings(await take(exact, 1, 3000)), ['a.b.c']);
    assert.deepEqual(strings(await take(star, 2, 3000)), ['a.b.c', 'a.x.c']);
    assert.deepEqual(strings(await take(rest, 4, 3000)), ['a.b.c', 'a.x.c', 'a.b', 'a.b.c.d']);
    assert.deepEqual(strings(await take(all, 5, 3000)), ['a.b.c', 'a.x.c', 'a.b', 'a.b.c.d', 'z']);
    await settle(30);
    assert.deepEqual([exact.pending, star.pending, rest.pending, all.pending], [0, 0, 0, 0]);
  });

  it('rejects invalid subjects synchronously with PLEXUS_ERR_INVALID_SUBJECT', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const conn = await b.connect();
    for (const s of ['', 'a..b', 'a.*', 'a.>', 'has space', '.a', 'a.']) {
      assert.throws(() => conn.publish(s), { code: ErrorCode.INVALID_SUBJECT }, JSON.stringify(s));
    }
    assert.throws(() => conn.subscribe('a.>.b'), { code: ErrorCode.INVALID_SUBJECT });
    assert.throws(() => conn.subscribe('a*'), { code: ErrorCode.INVALID_SUBJECT });
  });

  it('a queue group gives every message to exactly one member, roughly evenly', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const members = await Promise.all([b.connect(), b.connect(), b.connect()]);
    const got: string[][] = [[], [], []];
    members.forEach((m, i) => m.subscribe('jobs.*', { queue: 'workers', callback: (msg) => got[i]!.push(msg.string()) }));
    // A plain subscriber sees everything alongside the group.
    const watcher = await b.connect();
    let watched = 0;
    watcher.subscribe('jobs.>', { callback: () => watched++ });
    await Promise.all([...members, watcher].map((m) => m.flush()));
    const pub = await b.connect();
    const N = 3000;
    for (let i = 0; i < N; i++) pub.publish(`jobs.${i % 7}`, String(i));
    await pub.flush();
    await waitFor(() => got.flat().length >= N && watched >= N, 5000, 'all jobs');
    await settle(50);
    const flat = got.flat();
    assert.equal(flat.length, N, 'no duplicates');
    assert.equal(new Set(flat).size, N, 'every job exactly once');
    assert.equal(watched, N);
    for (const [i, g] of got.entries()) assert.ok(g.length > N / 6, `member ${i} got ${g.length} of ${N}`);
  });

  it('headers round-trip intact (unicode, empty values, awkward keys)', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const conn = await b.connect();
    const sub = conn.subscribe('h');
    await conn.flush();
    const headers = {
      'content-type': 'application/json',
      empty: '',
      'ünï': 'cödé ✓',
      __proto__: 'not a prototype',
      constructor: 'x',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    } as Record<string, string>;
    // An object literal's `__proto__:` sets the prototype; define it as a plain key instead.
    Object.defineProperty(headers, '__proto__', { value: 'not a prototype', enumerable: true });
    conn.publish('h', 'body', { headers });
    conn.publish('h', 'no headers');
    const [m1, m2] = await take(sub, 2, 3000);
    assert.deepEqual({ ...m1!.headers }, { ...headers });
    assert.equal(Object.getPrototypeOf(m1!.headers), null);
    assert.deepEqual({ ...m2!.headers }, {});
    assert.equal(m1!.string(), 'body');
  });

  it('unsubscribe stops delivery; queued messages can still be read, then iteration ends', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const conn = await b.connect();
    const sub = conn.subscribe('u');
    await conn.flush();
    conn.publish('u', '1');
    conn.publish('u', '2');
    await conn.flush();
    await waitFor(() => sub.pending === 2, 3000, 'two queued');
    sub.unsubscribe();
    conn.publish('u', '3');
    await conn.flush();
    const rest: string[] = [];
    await within(
      (async () => {
        for await (const m of sub) rest.push(m.string());
      })(),
      3000,
      'iteration to end',
    );
    assert.deepEqual(rest, ['1', '2']);
    await waitFor(() => b.broker.status().subscriptions === 1, 3000, 'broker forgot the subscription (only the inbox is left)');
  });

  it('break out of for-await unsubscribes at the broker', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const conn = await b.connect();
    const sub = conn.subscribe('brk');
    await conn.flush();
    const before = b.broker.status().subscriptions;
    conn.publish('brk', 'x');
    for await (const m of sub) {
      assert.equal(m.string(), 'x');
      break;
    }
    assert.equal(sub.isClosed, true);
    await waitFor(() => b.broker.status().subscriptions === before - 1, 3000, 'UNSUB reached the broker');
  });

  it('max auto-unsubscribes after that many messages, for iterators and callbacks', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const conn = await b.connect();
    const it3 = conn.subscribe('m', { max: 3 });
    const seen: string[] = [];
    const cb2 = conn.subscribe('m', { max: 2, callback: (m) => seen.push(m.string()) });
    await conn.flush();
    for (let i = 0; i < 10; i++) conn.publish('m', String(i));
    await conn.flush();
    const all: string[] = [];
    await within(
      (async () => {
        for await (const m of it3) all.push(m.string());
      })(),
      3000,
      'max iteration',
    );
    assert.deepEqual(all, ['0', '1', '2']);
    assert.deepEqual(seen, ['0', '1']);
    assert.equal(cb2.isClosed, true);
    await waitFor(() => b.broker.status().subscriptions === 1, 3000, 'both auto-unsubscribed at the broker');
  });

  it('an aborted signal unsubscribes', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const conn = await b.connect();
    const ac = new AbortController();
    const sub = conn.subscribe('sig', { signal: ac.signal });
    ac.abort();
    assert.equal(sub.isClosed, true);
    const pre = conn.subscribe('sig2', { signal: AbortSignal.abort() });
    assert.equal(pre.isClosed, true);
  });

  describe('overflow policies', () => {
    async function flood(t: TestContext, overflow: 'drop-newest' | 'drop-oldest' | 'error', n: number): Promise<{ sub: Subscription }> {
      const c = new Cleanup(t);
      const b = await startTestBroker(c, { via: 'inproc' });
      const conn = await b.connect();
      const sub = conn.subscribe('o', { maxPending: 10, overflow });
      await conn.flush();
      for (let i = 0; i < n; i++) conn.publish('o', String(i));
      await conn.flush();
      await waitFor(() => sub.received === n || sub.isClosed, 3000, 'all delivered');
      return { sub };
    }

    it('drop-newest keeps the first maxPending and counts the rest as dropped', async (t) => {
      const { sub } = await flood(t, 'drop-newest', 50);
      assert.equal(sub.received, 50);
      assert.equal(sub.dropped, 40);
      assert.equal(sub.pending, 10);
      assert.deepEqual(strings(await take(sub, 10, 1000)), Array.from({ length: 10 }, (_, i) => String(i)));
    });

    it('drop-oldest keeps the newest maxPending and counts the rest as dropped', async (t) => {
      const { sub } = await flood(t, 'drop-oldest', 50);
      assert.equal(sub.dropped, 40);
      assert.equal(sub.pending, 10);
      assert.deepEqual(strings(await take(sub, 10, 1000)), Array.from({ length: 10 }, (_, i) => String(40 + i)));
    });

    it('drop-oldest stays bounded in memory while nobody reads', async (t) => {
      const { sub } = await flood(t, 'drop-oldest', 20_000);
      assert.equal(sub.dropped, 20_000 - 10);
      const internal = (sub as unknown as { queue: unknown[] }).queue;
      assert.ok(internal.length < 5000, `queue array holds ${internal.length} slots for 10 pending messages`);
      assert.deepEqual(strings(await take(sub, 10, 1000)), Array.from({ length: 10 }, (_, i) => String(19_990 + i)));
    });

    it('drop-oldest with a byte bound survives one message larger than the bound', async (t) => {
      const c = new Cleanup(t);
      const b = await startTestBroker(c, { via: 'inproc' });
      const conn = await b.connect();
      const sub = conn.subscribe('big', { maxPendingBytes: 100, overflow: 'drop-oldest' });
      await conn.flush();
      conn.publish('big', 'z'.repeat(500)); // bigger than the bound on its own, into an empty queue
      conn.publish('big', 'x'.repeat(60));
      conn.publish('big', 'y'.repeat(60));
      conn.publish('big', 'after');
      await conn.flush();
      await waitFor(() => sub.received === 4, 3000, 'four delivered');
      assert.equal(conn.status, 'open');
      const last = await take(sub, sub.pending, 1000);
      assert.equal(last.at(-1)!.string(), 'after');
      assert.equal(sub.dropped + last.length, 4);
    });

    it('error ends the iteration with PLEXUS_ERR_SUBSCRIPTION_OVERFLOW after the queued messages', async (t) => {
      const { sub } = await flood(t, 'error', 50);
      assert.equal(sub.isClosed, true);
      const got = await take(sub, 10, 1000);
      assert.deepEqual(strings(got), Array.from({ length: 10 }, (_, i) => String(i)));
      const err = (await rejection(sub.next(), 1000, 'next after overflow')) as PlexusError;
      assert.equal(err.code, ErrorCode.SUBSCRIPTION_OVERFLOW);
    });

    it('block: a consumer that pauses longer than the heartbeat window keeps its connection and loses nothing', async (t) => {
      const c = new Cleanup(t);
      const b = await startTestBroker(c, { heartbeatMs: 40 });
      const consumer = await b.connect();
      const statuses: string[] = [];
      consumer.on('status', (s) => statuses.push(s));
      const sub = consumer.subscribe('nap', { maxPending: 10, overflow: 'block' });
      await consumer.flush();
      const producer = await b.connect();
      for (let i = 0; i < 100; i++) producer.publish('nap', String(i));
      await waitFor(() => sub.pending >= 10, 3000, 'queue full');
      await sleep(400); // ten broker heartbeat intervals without reading
      const got = await take(sub, 100, 5000);
      assert.deepEqual(strings(got), Array.from({ length: 100 }, (_, i) => String(i)));
      await sleep(100); // a drop while we were not reading would surface only now
      assert.deepEqual(statuses, [], 'no reconnect');
      assert.equal(b.broker.status().counters.heartbeatTimeouts, 0);
    });

    it('block loses nothing: a slow consumer with maxPending 100 gets all 20k messages in order', async (t) => {
      const c = new Cleanup(t);
      const b = await startTestBroker(c, { via: 'unix' });
      const consumer = await b.connect();
      const sub = consumer.subscribe('flow', { maxPending: 100, overflow: 'block' });
      await consumer.flush();
      const producer = await b.connect();
      const N = 20_000;
      let maxSeen = 0;
      const done = (async () => {
        let expect = 0;
        for await (const m of sub) {
          assert.equal(Number(m.string()), expect, 'in order');
          expect++;
          maxSeen = Math.max(maxSeen, sub.pending);
          if (expect % 500 === 0) await sleep(1); // slower than the producer
          if (expect === N) break;
        }
        return expect;
      })();
      for (let i = 0; i < N; i++) {
        producer.publish('flow', String(i));
        if (!producer.isWritable) await producer.writable();
      }
      assert.equal(await within(done, 20_000, 'consumer'), N);
      assert.equal(sub.dropped, 0);
    });
  });

  it('a callback subscription receives everything and cannot be iterated', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const conn = await b.connect();
    const got: number[] = [];
    const sub = conn.subscribe('cb', { callback: (m) => got.push(Number(m.string())) });
    await conn.flush();
    for (let i = 0; i < 100; i++) conn.publish('cb', String(i));
    await waitFor(() => got.length === 100, 3000, '100 callbacks');
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i));
    await assert.rejects(sub.next(), { code: ErrorCode.INVALID_ARGUMENT });
  });
});

describe('queue groups and leaving members', { timeout: 30_000 }, () => {
  for (const how of ['said GOODBYE', 'is stalled (drop policy)'] as const) {
    it(`a member that ${how} gets no more group messages: the others get them all`, async (t) => {
      const c = new Cleanup(t);
      const b = await startTestBroker(c, { via: 'unix', slowConsumer: 'drop', maxPendingBytes: 64 * 1024, writeDeadlineMs: 20_000 });
      const stay = await b.connect();
      let got = 0;
      stay.subscribe('work', { queue: 'g', callback: () => got++ });
      await stay.flush();
      const leaving = await RawClient.connect(c, b.url);
      await leaving.hello();
      leaving.send({ type: FrameType.SUB, id: 2, subject: 'work', reply: 'g' });
      leaving.send({ type: FrameType.SUB, id: 3, subject: 'fill' });
      leaving.send({ type: FrameType.PING, id: 1 });
      await leaving.waitFrame((f) => f.type === FrameType.PONG, 3000, 'SUBs processed');
      // Stop reading and let output pile up: the member is over its limit, and a graceful
      // close of its connection cannot finish (it stays "closing" until its close timeout).
      leaving.socket.pause();
      const filler = await b.connect();
      for (let i = 0; i < 400; i++) filler.publish('fill', new Uint8Array(16 * 1024));
      await filler.flush();
      if (how === 'said GOODBYE') {
        leaving.send({ type: FrameType.GOODBYE });
        await sleep(50);
      }
      const pub = await b.connect();
      for (let i = 0; i < 100; i++) pub.publish('work', String(i));
      await pub.flush();
      await waitFor(() => got === 100, 3000, `all 100 to the remaining member (got ${got})`);
    });
  }
});

describe('delivery under outbound backpressure', { timeout: 30_000 }, () => {
  it('a max auto-unsubscribe while the outbound buffer is full does not throw into the socket handler', async (t) => {
    const c = new Cleanup(t);
    // A hand-made "broker": completes the handshake, then stops reading (so the client's
    // outbound queue fills), and pushes MSG frames for subscription 2.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
      socket.on('data', (chunk) =>
        decoder.push(chunk, {
          onFrame: (f) => {
            if (f.type !== FrameType.HELLO) return;
            const welcome = { version: 1, serverId: 'fake', connId: 'fake-1', identity: 'x', maxPayload: 1 << 20, heartbeatMs: 60_000, features: [] };
            socket.write(encodeFrame({ type: FrameType.WELCOME, payload: Buffer.from(JSON.stringify(welcome)) }));
            socket.pause();
          },
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    c.defer(() => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }));
    const url = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const conn = await connectClient(c, url, { maxOutboundBytes: 256 * 1024, reconnect: false });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    c.defer(() => process.off('uncaughtException', onUncaught));
    const sub = conn.subscribe('m', { max: 1 });
    let full = false;
    for (let i = 0; i < 10_000 && !full; i++) {
      try {
        conn.publish('fill', new Uint8Array(16 * 1024));
      } catch (err) {
        assert.equal(codeOf(err), ErrorCode.OUTBOUND_BUFFER_FULL);
        full = true;
      }
      if (i % 16 === 15) await sleep(1);
    }
    assert.ok(full, 'the outbound buffer filled up');
    const [server1] = sockets;
    server1!.write(encodeFrame({ type: FrameType.MSG, id: sub.sid, subject: 'm', payload: Buffer.from('one') }));
    const [m] = await take(sub, 1, 3000);
    assert.equal(m!.string(), 'one');
    await settle(50);
    assert.deepEqual(uncaught, []);
    assert.equal(sub.isClosed, true);
  });
});
