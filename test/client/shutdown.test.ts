import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Connection } from '../../src/client/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { FrameType } from '../../src/wire/index.js';
import { Cleanup, startTestBroker, take } from '../helpers/plexus.js';
import { RawClient } from '../helpers/raw.js';
import { spawnNode } from '../helpers/child.js';
import { deferred, rejectionCode, sleep, thrownCode, waitFor, within } from '../helpers/wait.js';

function statusLog(conn: Connection): string[] {
  const log: string[] = [];
  conn.on('status', (s) => log.push(s));
  return log;
}

describe('graceful shutdown', { timeout: 30_000 }, () => {
  it('broker.close() sends GOODBYE; clients see it and go reconnecting', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const conn = await b.connect({ reconnectDelayMs: 20, maxReconnectDelayMs: 100 });
    const log = statusLog(conn);
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    const started = Date.now();
    await within(b.broker.close({ drainMs: 1000 }), 5000, 'broker close');
    assert.ok(Date.now() - started < 1000, 'clients left promptly, close did not wait out drainMs');
    await raw.waitClosed(3000);
    const bye = raw.frames.find((f) => f.type === FrameType.GOODBYE);
    assert.ok(bye, `raw client got ${raw.describe()}`);
    await waitFor(() => log.includes('reconnecting'), 3000, 'client reconnecting');
    assert.equal(conn.status, 'reconnecting');
    // A second close is a no-op.
    await within(b.broker.close(), 1000, 'second close');
  });

  it('broker.close() finishes within drainMs even with a client that never reads', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix', maxPendingBytes: 1024 * 1024 });
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    raw.send({ type: FrameType.SUB, id: 3, subject: 'fill' });
    raw.send({ type: FrameType.PING, id: 1 });
    await raw.waitFrame((f) => f.type === FrameType.PONG, 3000, 'SUB processed');
    raw.socket.pause();
    const pub = await b.connect({ reconnect: false });
    for (let i = 0; i < 200; i++) pub.publish('fill', new Uint8Array(8 * 1024));
    // (No flush: under the default `block` policy the broker holds this publisher back.)
    const stalled = () => b.broker.status().clients.find((x) => x.subscriptions === 1 && x.msgsOut > 0);
    await waitFor(() => (stalled()?.pendingBytes ?? 0) > 0, 3000, 'output piling up for the stalled client');
    const started = Date.now();
    await within(b.broker.close({ drainMs: 300 }), 5000, 'close with a stalled client');
    assert.ok(Date.now() - started < 3000);
  });

  it('drain() lets an in-flight handler finish and its reply arrive, then closes', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const svc = await b.connect();
    const started = deferred();
    const release = deferred();
    svc.serve('work', async (m) => {
      started.resolve();
      await release.promise;
      return `done ${m.string()}`;
    });
    const events = svc.subscribe('events');
    await svc.flush();
    const caller = await b.connect();
    caller.publish('events', 'queued before drain');
    await caller.flush();
    const reply = caller.request('work', 'job-1', { timeout: 10_000 });
    await within(started.promise, 3000, 'handler started');
    const log = statusLog(svc);
    const drained = svc.drain(5000);
    await sleep(20);
    assert.equal(svc.status, 'draining');
    assert.equal(thrownCode(() => svc.publish('x')), ErrorCode.CONNECTION_CLOSED, 'no new work while draining');
    // New requests no longer reach it: it unsubscribed when the drain began.
    assert.equal(await rejectionCode(caller.request('work', 'job-2', { timeout: 3000 }), 4000), ErrorCode.NO_RESPONDERS);
    release.resolve();
    assert.equal((await within(reply, 3000, 'reply from the draining responder')).string(), 'done job-1');
    await within(drained, 5000, 'drain');
    assert.equal(svc.status, 'closed');
    assert.deepEqual(log, ['draining', 'closed']);
    assert.equal(await within(svc.closed, 1000), undefined, 'a drain is a clean close');
    // Messages queued before the drain can still be read; then iteration ends.
    const rest = await take(events, 1, 1000);
    assert.equal(rest[0]!.string(), 'queued before drain');
    assert.equal((await events.next()).done, true);
  });

  it('drain() while reconnecting lets the reconnect deliver held publishes and answer pending requests', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const svc = await b.connect({ reconnectDelayMs: 10, maxReconnectDelayMs: 50 });
    svc.serve('svc', (m) => `ok ${m.string()}`);
    const seen = svc.subscribe('held');
    await svc.flush();
    // The draining client comes back after the service does.
    const conn = await b.connect({ reconnectDelayMs: 150, maxReconnectDelayMs: 200 });
    await b.broker.close({ drainMs: 200 });
    await waitFor(() => conn.status === 'reconnecting', 3000, 'reconnecting');
    conn.publish('held', 'published while disconnected');
    const reply = conn.request('svc', 'asked while disconnected', { timeout: 5000 });
    const drained = conn.drain(5000);
    const started = Date.now();
    await startTestBroker(c, { listen: [b.url] });
    assert.equal((await within(reply, 5000, 'pending request')).string(), 'ok asked while disconnected');
    await within(drained, 5000, 'drain');
    assert.ok(Date.now() - started < 4000, 'the drain finished when its work was done, not at its timeout');
    assert.equal((await take(seen, 1, 3000))[0]!.string(), 'published while disconnected');
    assert.equal(conn.status, 'closed');
  });

  it('drain() gives up on a handler that outlives its timeout and still closes', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const svc = await b.connect();
    let signalled: unknown;
    svc.serve('forever', (_m, ctx) => new Promise<string>((resolve) => ctx.signal.addEventListener('abort', () => {
      signalled = ctx.signal.reason;
      resolve('x');
    })));
    await svc.flush();
    const caller = await b.connect();
    const p = caller.request('forever', '', { timeout: 10_000 });
    const outcome = rejectionCode(p, 5000, 'request to a drained responder');
    await waitFor(() => b.broker.status().trackedRequests === 1, 3000, 'request delivered');
    await within(svc.drain(200), 3000, 'bounded drain');
    assert.equal(svc.status, 'closed');
    assert.equal(await outcome, ErrorCode.RESPONDER_GONE);
    assert.equal((signalled as { code?: string }).code, ErrorCode.CONNECTION_CLOSED);
  });

  it('close() rejects pending requests and flushes with PLEXUS_ERR_CONNECTION_CLOSED and ends subscriptions', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const svc = await b.connect();
    svc.serve('slow', () => new Promise<string>(() => undefined));
    await svc.flush();
    const conn = await b.connect();
    const sub = conn.subscribe('s');
    const pending = [conn.request('slow', '1', { timeout: 20_000 }), conn.request('slow', '2', { timeout: 0 })];
    const outcomes = pending.map((p) => rejectionCode(p, 3000, 'pending request'));
    await waitFor(() => b.broker.status().trackedRequests === 2, 3000, 'requests delivered');
    await within(conn.close(), 3000, 'close');
    for (const o of outcomes) assert.equal(await o, ErrorCode.CONNECTION_CLOSED);
    assert.equal((await within(sub.next(), 1000)).done, true);
    assert.equal(conn.status, 'closed');
    assert.equal(await rejectionCode(conn.request('slow', '3'), 1000), ErrorCode.CONNECTION_CLOSED);
    assert.equal(thrownCode(() => conn.subscribe('t')), ErrorCode.CONNECTION_CLOSED);
    await within(conn.close(), 1000, 'second close');
    await within(conn.drain(), 1000, 'drain after close');
    await waitFor(() => b.broker.status().connections === 1, 3000, 'the broker saw it go');
  });

  it('after close() nothing keeps the process alive, even a handler that ignores its signal', async (t) => {
    const c = new Cleanup(t);
    const child = await spawnNode(c, new URL('./fixtures/exit-after-close.js', import.meta.url), []);
    await child.waitLine(/^closed$/, 10_000);
    const code = await within(
      new Promise<number | null>((resolve) => {
        if (child.child.exitCode !== null) resolve(child.child.exitCode);
        else child.child.once('exit', (n) => resolve(n));
      }),
      5000,
      'the child exiting by itself (a timer left running keeps it alive until the 20 s deadline)',
    );
    assert.equal(code, 0);
  });
});
