import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../../src/client/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { FrameType, decodeHeaders, encodeHeaders } from '../../src/wire/index.js';
import { Cleanup, settle, startTestBroker, take } from '../helpers/plexus.js';
import { RawClient } from '../helpers/raw.js';
import { generateTestCerts, sharedTestCerts } from '../helpers/certs.js';
import { rejectionCode, thrownCode } from '../helpers/wait.js';

const auth = {
  users: [
    { user: 'alice', password: 'a' },
    { user: 'eve', token: 'eve-token' },
  ],
};

describe('sender identity', { timeout: 30_000 }, () => {
  it('msg.from is the authenticated user of the sender, with its connection id', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth, via: 'unix' });
    const alice = await b.connect({ user: 'alice', pass: 'a' });
    const eve = await b.connect({ token: 'eve-token' });
    const sub = alice.subscribe('chat.*');
    await alice.flush();
    eve.publish('chat.room', 'hi from eve', { headers: { lang: 'en' } });
    alice.publish('chat.room', 'hi from alice');
    const [m1, m2] = await take(sub, 2, 3000);
    assert.equal(m1!.from, 'eve');
    assert.equal(m1!.fromConnection, eve.server!.connId);
    assert.deepEqual({ ...m1!.headers }, { lang: 'en' }, 'reserved headers are not application headers');
    assert.equal(m2!.from, 'alice');
    assert.equal(m2!.fromConnection, alice.server!.connId);
  });

  it("a client cannot send a ':from' (or any ':') header: publish and request throw PLEXUS_ERR_INVALID_HEADERS", async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth, via: 'inproc' });
    const eve = await b.connect({ token: 'eve-token' });
    assert.equal(thrownCode(() => eve.publish('x', 'forged', { headers: { ':from': 'alice' } })), ErrorCode.INVALID_HEADERS);
    assert.equal(thrownCode(() => eve.publish('x', 'forged', { headers: { ':conn': 'c1' } })), ErrorCode.INVALID_HEADERS);
    await assert.rejects(eve.request('x', '', { headers: { ':from': 'alice' } }), { code: ErrorCode.INVALID_HEADERS });
    assert.equal(eve.status, 'open');
  });

  it("a raw socket sending PUB with a ':from' header gets an ERR and nothing forged is delivered", async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const alice = await b.connect({ user: 'alice', pass: 'a' });
    const sub = alice.subscribe('bank.>');
    await alice.flush();

    const raw = await RawClient.connect(c, b.url);
    const welcome = await raw.hello({ token: 'eve-token' });
    assert.equal(welcome['identity'], 'eve');
    const forged: Record<string, string>[] = [
      { ':from': 'alice' },
      { note: 'x', ':from': 'alice' },
      { ':conn': 'someone-else' },
      { ':FROM': 'alice' },
    ];
    for (const h of forged) raw.send({ type: FrameType.PUB, subject: 'bank.transfer', headers: encodeHeaders(h)!, payload: Buffer.from('forged') });
    await raw.waitErr(3000, forged.length);
    assert.deepEqual(new Set(raw.errors.map((e) => e.code)), new Set([ErrorCode.INVALID_HEADERS]));

    // The connection stays usable: a clean publish goes through, stamped as eve.
    raw.send({ type: FrameType.PUB, subject: 'bank.transfer', headers: encodeHeaders({ note: 'honest' })!, payload: Buffer.from('ok') });
    const [m] = await take(sub, 1, 3000);
    assert.equal(m!.string(), 'ok');
    assert.equal(m!.from, 'eve');
    await settle(50);
    assert.equal(sub.pending, 0, 'no forged message was delivered');
  });

  it('the broker stamps :from and :conn on raw frames that carry no headers', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth: { ...auth, anonymous: {} } });
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    raw.send({ type: FrameType.SUB, id: 7, subject: 'echo' });
    raw.send({ type: FrameType.PUB, subject: 'echo', payload: Buffer.from('a') });
    const msg = await raw.waitFrame((f) => f.type === FrameType.MSG, 3000, 'MSG');
    const h = decodeHeaders(msg.headers)!;
    assert.equal(h[':from'], 'anonymous');
    assert.match(h[':conn']!, /-\d+$/);
    assert.equal(raw.errors.length, 0);
  });

  it('mTLS: a verified client certificate CN is the identity; an unverified one is not', async (t) => {
    const c = new Cleanup(t);
    const good = await sharedTestCerts();
    const forged = await generateTestCerts({ clientCN: good.clientCN }); // same CN, another CA
    const b = await startTestBroker(c, {
      listen: ['tls://127.0.0.1:0'],
      // Ask for a certificate but let the handshake through without one, so the broker's
      // auth (not TLS) decides: that is what lets the forged case reach it.
      tls: { cert: good.serverCert, key: good.serverKey, ca: good.ca, requestCert: true, rejectUnauthorized: false },
      auth: { users: [{ user: good.clientCN, token: 'cert-user-token' }, { user: 'alice', password: 'a' }] },
    });
    const viaCert = await b.connect({ tls: { ca: good.ca, cert: good.clientCert, key: good.clientKey } });
    assert.equal(viaCert.server?.identity, good.clientCN);
    const watcher = await b.connect({ tls: { ca: good.ca }, user: 'alice', pass: 'a' });
    const sub = watcher.subscribe('who');
    await watcher.flush();
    viaCert.publish('who', 'me');
    assert.equal((await take(sub, 1, 3000))[0]!.from, good.clientCN);
    // A certificate from another CA carrying the same CN proves nothing.
    const code = await rejectionCode(
      connect(b.url, { timeoutMs: 3000, tls: { ca: good.ca, cert: forged.clientCert, key: forged.clientKey } }),
      5000,
      'forged certificate',
    );
    assert.equal(code, ErrorCode.AUTH_FAILED);
  });

  it('a certificate-only user needs no password, and cannot sign in with one', async (t) => {
    const c = new Cleanup(t);
    const good = await sharedTestCerts();
    const b = await startTestBroker(c, {
      listen: ['tls://127.0.0.1:0'],
      tls: { cert: good.serverCert, key: good.serverKey, ca: good.ca, requestCert: true, rejectUnauthorized: false },
      auth: { users: [{ user: good.clientCN, certificate: true }] },
    });
    const viaCert = await b.connect({ tls: { ca: good.ca, cert: good.clientCert, key: good.clientKey } });
    assert.equal(viaCert.server?.identity, good.clientCN);
    const code = await rejectionCode(
      connect(b.url, { timeoutMs: 3000, tls: { ca: good.ca }, user: good.clientCN, pass: '' }),
      5000,
      'password sign-in of a certificate-only user',
    );
    assert.equal(code, ErrorCode.AUTH_FAILED);
  });
});
