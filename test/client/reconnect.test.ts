import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Connection, ConnectOptions, RequestContext } from '../../src/client/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { FrameDecoder, FrameType, encodeFrame } from '../../src/wire/index.js';
import { spawnNode } from '../helpers/child.js';
import { Cleanup, connectClient, startTestBroker, take, tempDir, type TestBroker } from '../helpers/plexus.js';
import { startProxy } from '../helpers/proxy.js';
import { codeOf, rejectionCode, thrownCode, waitFor, within } from '../helpers/wait.js';

/** Fast reconnects for tests. */
const FAST: ConnectOptions = { reconnectDelayMs: 10, maxReconnectDelayMs: 100 };

/** Resolves when `conn` reaches `status` (checked now and on every change). */
function reaches(conn: Connection, status: Connection['status'], ms: number): Promise<void> {
  if (conn.status === status) return Promise.resolve();
  return within(
    new Promise<void>((resolve) => {
      const off = conn.on('status', (s) => {
        if (s === status) {
          off();
          resolve();
        }
      });
    }),
    ms,
    `connection ${status}`,
  );
}

/** Close `b`'s broker and start a new one on the same address. */
async function restart(c: Cleanup, b: TestBroker, between?: () => Promise<void>): Promise<TestBroker> {
  await b.broker.close({ drainMs: 200 });
  await between?.();
  return startTestBroker(c, { listen: [b.url] });
}

describe('reconnect', { timeout: 30_000 }, () => {
  for (const via of ['tcp', 'unix'] as const) {
    it(`${via}: reconnects to a broker restarted on the same address and resubscribes`, async (t) => {
      const c = new Cleanup(t);
      const b = await startTestBroker(c, { via });
      const sub = await b.connect(FAST);
      const pub = await b.connect(FAST);
      const statuses: string[] = [];
      sub.on('status', (s) => statuses.push(s));
      const it1 = sub.subscribe('news.*');
      const q = sub.subscribe('work', { queue: 'w' });
      await sub.flush();
      pub.publish('news.before', '1');
      assert.equal((await take(it1, 1, 3000))[0]!.subject, 'news.before');

      const b2 = await restart(c, b);
      assert.equal(b2.url, b.url);
      await Promise.all([reaches(sub, 'open', 5000), reaches(pub, 'open', 5000)]);
      assert.deepEqual(statuses.slice(0, 2), ['reconnecting', 'open']);
      await sub.flush(); // the broker has processed the re-sent SUBs
      pub.publish('news.after', '2');
      pub.publish('work', '3');
      assert.equal((await take(it1, 1, 3000))[0]!.subject, 'news.after');
      assert.equal((await take(q, 1, 3000))[0]!.string(), '3', 'queue subscription restored too');
      assert.notEqual(sub.server!.serverId, undefined);
      assert.equal(b2.broker.status().connections, 2);
    });
  }

  it('with several URLs: connects past a dead first one, and fails over when its broker goes', async (t) => {
    const c = new Cleanup(t);
    const b1 = await startTestBroker(c);
    const b2 = await startTestBroker(c, { via: 'unix' });
    const dead = await startTestBroker(c);
    await dead.broker.close({ drainMs: 100 });
    // A dead address first: the first connect moves on to the next.
    const conn = await connectClient(c, [dead.url, b1.url, b2.url], FAST);
    assert.equal(conn.url, b1.url);
    assert.equal(conn.server!.serverId, b1.broker.serverId);
    const sub = conn.subscribe('fo');
    await conn.flush();
    await b1.broker.close({ drainMs: 100 });
    await waitFor(() => conn.status === 'open' && conn.server!.serverId === b2.broker.serverId, 5000, 'failed over to b2');
    await conn.flush();
    const other = await b2.connect();
    other.publish('fo', 'on b2');
    assert.equal((await take(sub, 1, 3000))[0]!.string(), 'on b2');
  });

  it('publishes made while disconnected are held and delivered after reconnect, in order', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const conn = await b.connect(FAST);
    const sub = conn.subscribe('held');
    await conn.flush();
    let b2: TestBroker | undefined;
    await restart(c, b, async () => {
      await reaches(conn, 'reconnecting', 3000);
      for (let i = 0; i < 100; i++) conn.publish('held', String(i));
      assert.ok(conn.pendingBytes > 0, 'held in the reconnect buffer');
    }).then((x) => (b2 = x));
    const got = await take(sub, 100, 5000);
    assert.deepEqual(
      got.map((m) => m.string()),
      Array.from({ length: 100 }, (_, i) => String(i)),
    );
    assert.equal(b2!.broker.status().counters.msgsIn, 100);
  });

  it('writable() waits out a full reconnect buffer: bounded by its timeout, released by the reconnect', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const conn = await b.connect({ ...FAST, reconnectBufferBytes: 2048 });
    let released: Promise<void> | undefined;
    await restart(c, b, async () => {
      await reaches(conn, 'reconnecting', 3000);
      for (let i = 0; i < 15 && conn.isWritable; i++) conn.publish('buf', new Uint8Array(100));
      assert.equal(conn.isWritable, false, 'the held buffer is past half full');
      assert.equal(await rejectionCode(conn.writable({ timeoutMs: 50 }), 3000, 'writable timeout'), ErrorCode.TIMEOUT);
      const ac = new AbortController();
      const aborted = conn.writable({ signal: ac.signal });
      ac.abort(new PlexusError(ErrorCode.CANCELLED, 'gave up'));
      assert.equal(await rejectionCode(aborted, 3000, 'writable abort'), ErrorCode.CANCELLED);
      released = conn.writable();
    });
    await within(released!, 5000, 'writable after the reconnect');
    assert.equal(conn.isWritable, true);
  });

  it('a full reconnect buffer throws PLEXUS_ERR_RECONNECT_BUFFER_FULL; what fit is delivered', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const conn = await b.connect({ ...FAST, reconnectBufferBytes: 2048 });
    const sub = conn.subscribe('buf');
    await conn.flush();
    let accepted = 0;
    let code: string | undefined;
    await restart(c, b, async () => {
      await reaches(conn, 'reconnecting', 3000);
      for (let i = 0; i < 1000; i++) {
        try {
          conn.publish('buf', new Uint8Array(100));
          accepted++;
        } catch (err) {
          code = codeOf(err);
          break;
        }
      }
      assert.equal(code, ErrorCode.RECONNECT_BUFFER_FULL);
      assert.ok(accepted > 5 && accepted < 20, `accepted ${accepted}`);
      assert.equal(conn.isWritable, false);
    });
    await reaches(conn, 'open', 5000);
    const got = await take(sub, accepted, 5000);
    assert.equal(got.length, accepted);
    conn.publish('buf', 'after');
    assert.equal((await take(sub, 1, 3000))[0]!.string(), 'after');
  });

  it('a request in flight when the link drops: non-idempotent fails CONNECTION_LOST, idempotent is re-sent and answered', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const proxy = await startProxy(c, b.url);
    const responder = await b.connect();
    const calls = new Map<string, number>();
    const aborted: unknown[] = [];
    responder.serve('op', (msg, ctx: RequestContext) => {
      const n = (calls.get(msg.string()) ?? 0) + 1;
      calls.set(msg.string(), n);
      if (n > 1) return `answered ${msg.string()} on try ${n}`;
      return new Promise<string>((resolve) =>
        ctx.signal.addEventListener('abort', () => {
          aborted.push(ctx.signal.reason);
          resolve('never seen');
        }),
      );
    });
    await responder.flush();
    const caller = await connectClient(c, proxy.url, FAST);
    const plain = caller.request('op', 'plain', { timeout: 10_000 });
    const idem = caller.request('op', 'idem', { timeout: 10_000, idempotent: true });
    const plainOutcome = rejectionCode(plain, 5000, 'non-idempotent request');
    await waitFor(() => calls.size === 2, 3000, 'both requests reached the responder');
    proxy.cut();
    assert.equal(await plainOutcome, ErrorCode.CONNECTION_LOST);
    const reply = await within(idem, 5000, 'idempotent request');
    assert.equal(reply.string(), 'answered idem on try 2');
    assert.equal(calls.get('plain'), 1, 'the non-idempotent request was not sent again');
    // The broker cancelled the first tries when the caller's connection went away.
    await waitFor(() => aborted.length === 2, 3000, 'first tries cancelled');
    assert.ok(aborted.every((r) => codeOf(r) === ErrorCode.CANCELLED));
  });

  it('after a broker restart, re-sent requests wait for responders that reconnect later instead of failing NO_RESPONDERS', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    // The responder comes back well after the caller does.
    const responder = await b.connect({ reconnectDelayMs: 300, maxReconnectDelayMs: 400 });
    let calls = 0;
    responder.serve('svc', (m, ctx) => {
      calls++;
      if (m.string() === 'in flight' && calls === 1) {
        return new Promise<string>((resolve) => ctx.signal.addEventListener('abort', () => resolve('lost')));
      }
      return `ok ${m.string()}`;
    });
    await responder.flush();
    const caller = await b.connect(FAST);
    const inFlight = caller.request('svc', 'in flight', { timeout: 8000, idempotent: true });
    await waitFor(() => calls === 1, 3000, 'first try delivered');
    let queued: Promise<unknown> | undefined;
    const b2 = await restart(c, b, async () => {
      await reaches(caller, 'reconnecting', 3000);
      queued = caller.request('svc', 'queued', { timeout: 8000 });
    });
    await reaches(caller, 'open', 3000);
    assert.notEqual(responder.status, 'open', 'the caller is back before the responder');
    assert.equal((await within(inFlight, 6000, 'idempotent request')).string(), 'ok in flight');
    assert.equal(((await within(queued!, 6000, 'queued request')) as { string(): string }).string(), 'ok queued');
    // A fresh request to a subject nobody serves still fails fast with NO_RESPONDERS.
    assert.equal(await rejectionCode(caller.request('nobody', '', { timeout: 1000 }), 2000), ErrorCode.NO_RESPONDERS);
    assert.ok(b2.broker.status().counters.noResponders >= 2);
  });

  it('requests sent while reconnecting go out after the reconnect', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const proxy = await startProxy(c, b.url);
    const responder = await b.connect();
    responder.serve('later', (m) => `ok ${m.string()}`);
    await responder.flush();
    const caller = await connectClient(c, proxy.url, FAST);
    proxy.refuse = true;
    proxy.cut();
    await reaches(caller, 'reconnecting', 3000);
    const p = caller.request('later', 'x', { timeout: 5000 }); // not idempotent, but never sent yet
    const flushed = caller.flush(5000);
    proxy.refuse = false;
    assert.equal((await within(p, 5000, 'request after reconnect')).string(), 'ok x');
    await within(flushed, 5000, 'flush held across the reconnect');
  });

  it('maxReconnectAttempts exhausted: the connection closes with a coded error and everything pending rejects', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const conn = await b.connect({ ...FAST, maxReconnectAttempts: 3 });
    const sub = conn.subscribe('gone');
    await conn.flush();
    const errors: PlexusError[] = [];
    conn.on('error', (e) => errors.push(e));
    await b.broker.close({ drainMs: 200 });
    await reaches(conn, 'reconnecting', 3000);
    const req = conn.request('anything', '', { timeout: 20_000 });
    const reqOutcome = rejectionCode(req, 5000, 'request pending while reconnecting');
    const flushOutcome = rejectionCode(conn.flush(20_000), 5000, 'flush pending while reconnecting');
    const iterOutcome = rejectionCode(sub.next(), 5000, 'subscription iterator');
    const why = await within(conn.closed, 5000, 'connection closed for good');
    assert.ok(why instanceof PlexusError);
    assert.equal(why.code, ErrorCode.CONNECTION_LOST);
    assert.match(why.message, /3 attempts/);
    assert.equal(conn.status, 'closed');
    assert.equal(await reqOutcome, ErrorCode.CONNECTION_LOST);
    assert.equal(await flushOutcome, ErrorCode.CONNECTION_LOST);
    assert.equal(await iterOutcome, ErrorCode.CONNECTION_LOST);
    assert.ok(errors.filter((e) => e.code === ErrorCode.CONNECT_FAILED).length >= 3, 'each failed attempt is reported');
    assert.equal(thrownCode(() => conn.publish('x')), ErrorCode.CONNECTION_CLOSED);
  });

  it('credentials refused on reconnect close the connection with PLEXUS_ERR_AUTH_FAILED (no retry loop)', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth: { users: [{ user: 'u', token: 'old' }] } });
    const conn = await b.connect({ ...FAST, token: 'old' });
    await b.broker.close({ drainMs: 100 });
    await reaches(conn, 'reconnecting', 3000);
    const pending = rejectionCode(conn.request('x', '', { timeout: 0 }), 5000, 'request made while reconnecting');
    await startTestBroker(c, { listen: [b.url], auth: { users: [{ user: 'u', token: 'rotated' }] } });
    const why = await within(conn.closed, 5000, 'connection closed');
    assert.equal(why?.code, ErrorCode.AUTH_FAILED);
    assert.equal(await pending, ErrorCode.AUTH_FAILED);
  });

  it('heartbeat: a broker that goes silent after WELCOME is dropped and the client reconnects', async (t) => {
    const c = new Cleanup(t);
    let accepted = 0;
    const pings: number[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      accepted++;
      sockets.add(socket);
      socket.on('error', () => undefined);
      const decoder = new FrameDecoder({ maxFrameBytes: 1024 * 1024 });
      socket.on('data', (chunk) => {
        decoder.push(chunk, {
          onFrame: (f) => {
            if (f.type === FrameType.HELLO) {
              const welcome = { version: 1, serverId: 'silent', connId: `silent-${accepted}`, identity: 'x', maxPayload: 1024, heartbeatMs: 60_000, features: [] };
              socket.write(encodeFrame({ type: FrameType.WELCOME, payload: Buffer.from(JSON.stringify(welcome)) }));
            } else if (f.type === FrameType.PING) pings.push(accepted); // ...and never answer
          },
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    c.defer(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    const url = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const conn = await connectClient(c, url, { ...FAST, heartbeatMs: 40 });
    const errors: PlexusError[] = [];
    conn.on('error', (e) => errors.push(e));
    await reaches(conn, 'reconnecting', 3000);
    const lost = errors.find((e) => e.code === ErrorCode.CONNECTION_LOST);
    assert.equal(codeOf(lost?.cause), ErrorCode.HEARTBEAT_TIMEOUT, `cause: ${String(lost?.cause)}`);
    assert.ok(pings.length >= 1, 'the client pinged before giving up on the link');
    await waitFor(() => accepted >= 2, 3000, 'a reconnect attempt');
    await reaches(conn, 'open', 3000);
  });

  it('a broker process killed with SIGKILL and restarted on the same Unix socket: the client reconnects', async (t) => {
    const c = new Cleanup(t);
    const dir = await tempDir(c);
    const address = `unix://${join(dir, 'hard.sock')}`;
    const fixture = new URL('./fixtures/broker.js', import.meta.url);
    const first = await spawnNode(c, fixture, [address]);
    await first.waitLine(/^listening /, 10_000);
    const conn = await connectClient(c, address, FAST);
    const sub = conn.subscribe('hard');
    await conn.flush();
    await first.kill(); // no GOODBYE, and the socket file stays behind
    await reaches(conn, 'reconnecting', 5000);
    conn.publish('hard', 'held while the broker was dead');
    const second = await spawnNode(c, fixture, [address]);
    await second.waitLine(/^listening /, 10_000);
    await reaches(conn, 'open', 5000);
    assert.equal((await take(sub, 1, 5000))[0]!.string(), 'held while the broker was dead');
    conn.publish('hard', 'after');
    assert.equal((await take(sub, 1, 3000))[0]!.string(), 'after');
  });
});
