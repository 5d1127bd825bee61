import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../../src/client/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { FrameType } from '../../src/wire/index.js';
import { Cleanup, startTestBroker, take } from '../helpers/plexus.js';
import { RawClient } from '../helpers/raw.js';
import { rejectionCode, thrownCode, waitFor, within } from '../helpers/wait.js';

describe('broker limits', { timeout: 30_000 }, () => {
  it('max payload: the client throws PLEXUS_ERR_PAYLOAD_TOO_LARGE before sending', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc', maxPayloadBytes: 1024 });
    const conn = await b.connect();
    assert.equal(conn.server?.maxPayload, 1024);
    const sub = conn.subscribe('p');
    assert.equal(thrownCode(() => conn.publish('p', new Uint8Array(1025))), ErrorCode.PAYLOAD_TOO_LARGE);
    assert.equal(await rejectionCode(conn.request('p', new Uint8Array(5000)), 1000), ErrorCode.PAYLOAD_TOO_LARGE);
    conn.publish('p', new Uint8Array(1024)); // exactly the limit is fine
    const [m] = await take(sub, 1, 3000);
    assert.equal(m!.data.length, 1024);
  });

  it('max payload: a raw socket that bypasses the client gets an ERR and keeps its connection', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { maxPayloadBytes: 1024 });
    const watcher = await b.connect();
    const sub = watcher.subscribe('big.>');
    await watcher.flush();
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    raw.send({ type: FrameType.PUB, subject: 'big.one', payload: new Uint8Array(4096) });
    const err = await raw.waitErr(3000);
    assert.equal(err.code, ErrorCode.PAYLOAD_TOO_LARGE);
    assert.equal(err.subject, 'big.one');
    // Still open and working.
    raw.send({ type: FrameType.PUB, subject: 'big.ok', payload: new Uint8Array(10) });
    raw.send({ type: FrameType.PING, id: 42 });
    await raw.waitFrame((f) => f.type === FrameType.PONG && f.id === 42, 3000, 'PONG');
    const [m] = await take(sub, 1, 3000);
    assert.equal(m!.subject, 'big.ok');
    assert.equal(raw.isClosed, false);
  });

  it('a frame larger than the frame limit closes that connection with PLEXUS_ERR_FRAME_TOO_LARGE', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix', maxPayloadBytes: 1024 });
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    raw.send({ type: FrameType.PUB, subject: 'x', payload: new Uint8Array(1024 + 3 * 0xffff + 100) });
    assert.equal((await raw.waitErr(3000)).code, ErrorCode.FRAME_TOO_LARGE);
    await raw.waitClosed(3000);
  });

  it('max connections: one past the limit is refused with PLEXUS_ERR_MAX_CONNECTIONS; a slot frees on close', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { maxConnections: 2 });
    const a1 = await b.connect();
    await b.connect();
    assert.equal(await rejectionCode(connect(b.url, { timeoutMs: 3000 }), 5000, 'third connection'), ErrorCode.MAX_CONNECTIONS);
    await a1.close();
    await waitFor(() => b.broker.status().connections === 1, 3000, 'slot freed');
    const again = await b.connect();
    assert.equal(again.status, 'open');
  });

  it('max subscriptions per connection: the extra subscription fails with PLEXUS_ERR_MAX_SUBSCRIPTIONS', async (t) => {
    const c = new Cleanup(t);
    // The connection's own reply inbox uses one of the slots.
    const b = await startTestBroker(c, { via: 'inproc', maxSubscriptionsPerConnection: 3 });
    const conn = await b.connect();
    const s1 = conn.subscribe('s.1');
    const s2 = conn.subscribe('s.2');
    const s3 = conn.subscribe('s.3');
    await assert.rejects(within(s3.next(), 3000, 'third subscription'), { code: ErrorCode.MAX_SUBSCRIPTIONS });
    assert.equal(s3.isClosed, true);
    conn.publish('s.1', 'a');
    conn.publish('s.2', 'b');
    assert.equal((await take(s1, 1, 3000))[0]!.string(), 'a');
    assert.equal((await take(s2, 1, 3000))[0]!.string(), 'b');
    // Freeing a slot lets a new subscription in.
    s1.unsubscribe();
    const s4 = conn.subscribe('s.4');
    await conn.flush();
    conn.publish('s.4', 'd');
    assert.equal((await take(s4, 1, 3000))[0]!.string(), 'd');
  });

  it('auth timeout: a socket that never sends HELLO gets ERR PLEXUS_ERR_AUTH_TIMEOUT and is closed', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { authTimeoutMs: 100 });
    const raw = await RawClient.connect(c, b.url);
    await raw.waitClosed(3000);
    assert.deepEqual(raw.errors.map((e) => e.code), [ErrorCode.AUTH_TIMEOUT]);
    assert.equal(b.broker.status().counters.authFailures, 1);
    // A client that does say HELLO in time is unaffected.
    const ok = await b.connect();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ok.status, 'open');
  });
});
