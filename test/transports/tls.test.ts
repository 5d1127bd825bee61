import assert from 'node:assert/strict';
import { before, describe, it, type TestContext } from 'node:test';
import {
  FramedTransport,
  dial,
  listen,
  type ByteChannel,
  type DialOptions,
  type ListenOptions,
  type Listener,
} from '../../src/transports/index.js';
import { FrameType } from '../../src/wire/index.js';
import { generateTestCerts, sharedTestCerts, type TestCerts } from '../helpers/certs.js';
import { FrameCollector } from '../helpers/frames.js';
import { delay, rejectionOf, withTimeout } from '../helpers/timeout.js';

let certs: TestCerts;
/** A second, unrelated CA and its certificates: trusted by nobody here. */
let strangers: TestCerts;

/** A listener that records each accepted channel; closed after the test. */
async function listenRecording(
  t: TestContext,
  address: string,
  options: ListenOptions,
): Promise<{ listener: Listener; accepted: ByteChannel[]; nextAccept: () => Promise<ByteChannel> }> {
  const accepted: ByteChannel[] = [];
  let waiting: ((ch: ByteChannel) => void) | undefined;
  const listener = await listen(address, options, (ch) => {
    accepted.push(ch);
    waiting?.(ch);
    waiting = undefined;
  });
  t.after(async () => {
    for (const ch of accepted) ch.destroy();
    await withTimeout(listener.close(), 3000, 'listener.close()');
  });
  const nextAccept = (): Promise<ByteChannel> =>
    withTimeout(new Promise<ByteChannel>((resolve) => (waiting = resolve)), 5000, 'accept');
  return { listener, accepted, nextAccept };
}

/** Dial and prove the connection carries a frame each way. */
async function dialAndPing(
  t: TestContext,
  url: string,
  options: DialOptions,
  nextAccept: Promise<ByteChannel>,
): Promise<{ client: FramedTransport; server: FramedTransport }> {
  const client = new FramedTransport(await withTimeout(dial(url, options), 5000, `dial ${url}`));
  t.after(() => client.destroy());
  const clientSink = new FrameCollector();
  client.start(clientSink);
  const server = new FramedTransport(await nextAccept);
  t.after(() => server.destroy());
  const serverSink = new FrameCollector();
  server.start(serverSink);
  client.send({ type: FrameType.PUB, subject: 'ping', payload: new Uint8Array([1, 2, 3]) });
  server.send({ type: FrameType.PUB, subject: 'pong' });
  await serverSink.waitForFrames(1, 3000, 'frame at server');
  await clientSink.waitForFrames(1, 3000, 'frame at client');
  assert.equal(serverSink.frames[0]!.subject, 'ping');
  assert.deepEqual([...serverSink.frames[0]!.payload], [1, 2, 3]);
  assert.equal(clientSink.frames[0]!.subject, 'pong');
  return { client, server };
}

/**
 * Expect the server to refuse a client. Depending on the TLS version the client learns
 * of a rejected client certificate either during the handshake (dial rejects) or just
 * after it (the connection closes with an error); either way nothing is accepted.
 */
async function expectRefused(url: string, options: DialOptions, accepted: readonly ByteChannel[]): Promise<void> {
  let channel: ByteChannel | undefined;
  try {
    channel = await withTimeout(dial(url, options), 5000, `dial ${url}`);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'PLEXUS_ERR_CONNECT_FAILED');
  }
  if (channel) {
    const client = new FramedTransport(channel);
    const sink = new FrameCollector();
    client.start(sink);
    client.send({ type: FrameType.PUB, subject: 'let.me.in' });
    // With TLS 1.3 the server's verdict arrives after the client's handshake: as an
    // alert (an error) when no certificate was sent, as a bare close for a bad one.
    await sink.waitClosed(5000, 'refused connection to close');
    assert.equal(sink.frames.length, 0);
  }
  await delay(50);
  assert.equal(accepted.length, 0, 'the server accepted nothing');
}

describe('tls transport', { timeout: 30_000 }, () => {
  before(async () => {
    [certs, strangers] = await Promise.all([sharedTestCerts(), generateTestCerts({ clientCN: 'stranger' })]);
  });

  it('the cert helper returns PEM for a CA, a server and a client', () => {
    for (const pem of [certs.ca, certs.serverCert, certs.clientCert]) assert.match(pem, /^-----BEGIN CERTIFICATE-----\n/);
    for (const pem of [certs.serverKey, certs.clientKey]) assert.match(pem, /-----BEGIN (EC |)PRIVATE KEY-----\n/);
    assert.equal(certs.clientCN, 'plexus-test-client');
    assert.equal(strangers.clientCN, 'stranger');
    assert.notEqual(strangers.ca, certs.ca);
  });

  it('a client that trusts the CA connects; without client auth there is no certSubject', async (t) => {
    const { listener, nextAccept } = await listenRecording(t, 'tls://127.0.0.1:0', {
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
    const { client, server } = await dialAndPing(t, listener.url, { tls: { ca: certs.ca } }, nextAccept());
    assert.equal(client.info.kind, 'tls');
    assert.equal(server.info.kind, 'tls');
    assert.equal(server.info.certSubject, undefined);
    assert.match(client.info.remote ?? '', /^127\.0\.0\.1:\d+$/);
  });

  it('SNI: a DNS name in the certificate verifies; a name not in it is refused', async (t) => {
    const { listener, accepted, nextAccept } = await listenRecording(t, 'tls://127.0.0.1:0', {
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
    await dialAndPing(t, listener.url, { tls: { ca: certs.ca, servername: 'localhost' } }, nextAccept());
    accepted.length = 0;
    const err = await rejectionOf(dial(listener.url, { tls: { ca: certs.ca, servername: 'not-this-host.invalid' } }), 5000);
    assert.equal((err as { code?: string }).code, 'PLEXUS_ERR_CONNECT_FAILED');
  });

  it('a client without the CA is refused with PLEXUS_ERR_CONNECT_FAILED', async (t) => {
    const { listener, accepted } = await listenRecording(t, 'tls://127.0.0.1:0', {
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
    const err = await rejectionOf(dial(listener.url), 5000, 'dial without CA');
    assert.equal((err as { code?: string }).code, 'PLEXUS_ERR_CONNECT_FAILED');
    const err2 = await rejectionOf(dial(listener.url, { tls: { ca: strangers.ca } }), 5000, 'dial with the wrong CA');
    assert.equal((err2 as { code?: string }).code, 'PLEXUS_ERR_CONNECT_FAILED');
    await delay(20);
    assert.equal(accepted.length, 0);
  });

  describe('mTLS (requestCert + rejectUnauthorized)', () => {
    const mtls = (): ListenOptions => ({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
    });

    it('a client with a valid certificate connects and the server sees its CN as certSubject', async (t) => {
      const { listener, nextAccept } = await listenRecording(t, 'tls://127.0.0.1:0', mtls());
      const { server, client } = await dialAndPing(
        t,
        listener.url,
        { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } },
        nextAccept(),
      );
      assert.equal(server.info.certSubject, certs.clientCN);
      assert.equal(client.info.certSubject, undefined);
    });

    it('a client without a certificate is refused', async (t) => {
      const { listener, accepted } = await listenRecording(t, 'tls://127.0.0.1:0', mtls());
      await expectRefused(listener.url, { tls: { ca: certs.ca } }, accepted);
    });

    it('a client certificate from another CA is refused', async (t) => {
      const { listener, accepted } = await listenRecording(t, 'tls://127.0.0.1:0', mtls());
      await expectRefused(listener.url, { tls: { ca: certs.ca, cert: strangers.clientCert, key: strangers.clientKey } }, accepted);
    });

    it('wss: a client with a valid certificate connects and the server sees its CN', async (t) => {
      const { listener, nextAccept } = await listenRecording(t, 'wss://127.0.0.1:0/', mtls());
      const { server } = await dialAndPing(
        t,
        listener.url,
        { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } },
        nextAccept(),
      );
      assert.equal(server.info.kind, 'wss');
      assert.equal(server.info.certSubject, certs.clientCN);
    });

    it('wss: a client without a certificate is refused', async (t) => {
      const { listener, accepted } = await listenRecording(t, 'wss://127.0.0.1:0/', mtls());
      await expectRefused(listener.url, { tls: { ca: certs.ca } }, accepted);
    });
  });

  it('requestCert without rejectUnauthorized: a certless client connects, with no certSubject', async (t) => {
    const { listener, nextAccept } = await listenRecording(t, 'tls://127.0.0.1:0', {
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: false },
    });
    const first = await dialAndPing(t, listener.url, { tls: { ca: certs.ca } }, nextAccept());
    assert.equal(first.server.info.certSubject, undefined);
    // An unverified certificate (another CA) is not an identity either.
    const second = await dialAndPing(
      t,
      listener.url,
      { tls: { ca: certs.ca, cert: strangers.clientCert, key: strangers.clientKey } },
      nextAccept(),
    );
    assert.equal(second.server.info.certSubject, undefined);
  });

  it('listening on tls:// or wss:// without cert and key is a config error', async () => {
    await assert.rejects(listen('tls://127.0.0.1:0', {}, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
    await assert.rejects(listen('tls://127.0.0.1:0', { tls: { cert: certs.serverCert } }, () => undefined), {
      code: 'PLEXUS_ERR_CONFIG',
    });
    await assert.rejects(listen('wss://127.0.0.1:0/', {}, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
  });
});
