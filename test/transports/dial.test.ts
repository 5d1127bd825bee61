import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import {
  InprocHub,
  defaultTransports,
  dial,
  listen,
  type ByteChannel,
  type TransportTable,
} from '../../src/transports/index.js';
import { sharedTestCerts } from '../helpers/certs.js';
import { delay, rejectionOf } from '../helpers/timeout.js';

/** A TCP port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts and then says nothing (no TLS, no HTTP); closed after the test. */
async function silentServer(t: TestContext): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

function codeOf(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

describe('dial errors', { timeout: 20_000 }, () => {
  it('a closed TCP port, for tcp, tls, ws and wss, rejects quickly with PLEXUS_ERR_CONNECT_FAILED', async () => {
    const port = await closedPort();
    const { ca } = await sharedTestCerts();
    for (const address of [`tcp://127.0.0.1:${port}`, `tls://127.0.0.1:${port}`, `ws://127.0.0.1:${port}/`, `wss://127.0.0.1:${port}/`]) {
      const started = Date.now();
      const err = await rejectionOf(dial(address, { tls: { ca } }), 3000, address);
      assert.equal(codeOf(err), 'PLEXUS_ERR_CONNECT_FAILED', address);
      assert.ok(Date.now() - started < 1000, `${address} failed fast`);
      assert.ok((err as Error).cause instanceof Error, 'the socket error is kept as the cause');
    }
  });

  it('nothing listening on inproc:// rejects with PLEXUS_ERR_CONNECT_FAILED', async () => {
    const hub = new InprocHub();
    await assert.rejects(dial('inproc://nobody', { inproc: hub }), { code: 'PLEXUS_ERR_CONNECT_FAILED' });
  });

  it('a server that never completes the handshake: tls and ws give up after timeoutMs', async (t) => {
    const port = await silentServer(t);
    for (const address of [`tls://127.0.0.1:${port}`, `ws://127.0.0.1:${port}/`, `wss://127.0.0.1:${port}/`]) {
      const started = Date.now();
      const err = await rejectionOf(dial(address, { timeoutMs: 150 }), 3000, address);
      const took = Date.now() - started;
      assert.equal(codeOf(err), 'PLEXUS_ERR_CONNECT_FAILED', address);
      assert.ok(took >= 100 && took < 2000, `${address} took ${took} ms`);
    }
  });

  it('an already-aborted signal rejects with PLEXUS_ERR_CANCELLED for every transport', async (t) => {
    const port = await silentServer(t);
    const hub = new InprocHub();
    const stop = hub.listen('x', (ch) => ch.destroy());
    t.after(stop);
    const reason = new Error('caller gave up');
    const signal = AbortSignal.abort(reason);
    for (const address of [
      `tcp://127.0.0.1:${port}`,
      `tls://127.0.0.1:${port}`,
      `ws://127.0.0.1:${port}/`,
      `wss://127.0.0.1:${port}/`,
      'unix:///nonexistent-dir-for-plexus-tests/p.sock',
      'inproc://x',
      'stdio:',
    ]) {
      const err = await rejectionOf(dial(address, { signal, inproc: hub }), 2000, address);
      assert.equal(codeOf(err), 'PLEXUS_ERR_CANCELLED', address);
      assert.equal((err as Error).cause, reason, `${address}: the abort reason is the cause`);
    }
    // Nothing was left running that would fire an unhandled error later.
    await delay(50);
  });

  it('aborting while connecting rejects with PLEXUS_ERR_CANCELLED promptly', async (t) => {
    const port = await silentServer(t);
    for (const address of [`tls://127.0.0.1:${port}`, `ws://127.0.0.1:${port}/`, `wss://127.0.0.1:${port}/`]) {
      const ac = new AbortController();
      const pending = dial(address, { signal: ac.signal, timeoutMs: 5000 });
      setTimeout(() => ac.abort(), 50);
      const started = Date.now();
      const err = await rejectionOf(pending, 2000, address);
      assert.equal(codeOf(err), 'PLEXUS_ERR_CANCELLED', address);
      assert.ok(Date.now() - started < 1000);
    }
    await delay(50);
  });

  it('an unknown scheme gives PLEXUS_ERR_UNSUPPORTED_TRANSPORT, for dial and listen', async () => {
    await assert.rejects(dial('carrier-pigeon://coop/1'), { code: 'PLEXUS_ERR_UNSUPPORTED_TRANSPORT' });
    await assert.rejects(listen('carrier-pigeon://coop/1', {}, () => undefined), { code: 'PLEXUS_ERR_UNSUPPORTED_TRANSPORT' });
    // Only the table's own keys count, not inherited properties.
    await assert.rejects(dial('constructor://x'), { code: 'PLEXUS_ERR_UNSUPPORTED_TRANSPORT' });
  });

  it('a bad URL gives PLEXUS_ERR_INVALID_URL, for dial and listen', async () => {
    for (const bad of ['not a url', 'tcp://', 'unix://']) {
      await assert.rejects(dial(bad), { code: 'PLEXUS_ERR_INVALID_URL' }, bad);
      await assert.rejects(listen(bad, {}, () => undefined), { code: 'PLEXUS_ERR_INVALID_URL' }, bad);
    }
  });

  it('a custom transport table is used instead of the defaults', async () => {
    const seen: string[] = [];
    const hub = new InprocHub();
    const table: TransportTable = {
      ...defaultTransports,
      'mem:': {
        async dial(url) {
          seen.push(`dial ${url.href}`);
          return hub.dial(url.host);
        },
        async listen(url, _options, accept) {
          seen.push(`listen ${url.href}`);
          const stop = hub.listen(url.host, accept);
          return { url: url.href, close: async () => stop() };
        },
      },
    };
    const accepted: ByteChannel[] = [];
    const l = await listen('mem://a', {}, (ch) => accepted.push(ch), table);
    const ch = await dial('mem://a', {}, table);
    assert.equal(ch.info.kind, 'inproc');
    assert.equal(accepted.length, 1);
    assert.deepEqual(seen, ['listen mem://a', 'dial mem://a']);
    ch.destroy();
    await l.close();
    await assert.rejects(dial('mem://a'), { code: 'PLEXUS_ERR_UNSUPPORTED_TRANSPORT' });
  });

  it('listening twice on one inproc name is a config error', async () => {
    const hub = new InprocHub();
    const l = await listen('inproc://dup', { inproc: hub }, () => undefined);
    await assert.rejects(listen('inproc://dup', { inproc: hub }, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
    await l.close();
    const again = await listen('inproc://dup', { inproc: hub }, () => undefined);
    await again.close();
  });

  it('a TCP port already in use gives PLEXUS_ERR_CONFIG from listen, for tcp, tls, ws and wss', async (t) => {
    const l = await listen('tcp://127.0.0.1:0', {}, (ch) => ch.destroy());
    t.after(() => l.close());
    const port = new URL(l.url).port;
    const c = await sharedTestCerts();
    const tls = { cert: c.serverCert, key: c.serverKey };
    for (const address of [`tcp://127.0.0.1:${port}`, `tls://127.0.0.1:${port}`, `ws://127.0.0.1:${port}/`, `wss://127.0.0.1:${port}/`]) {
      const err = await rejectionOf(listen(address, { tls }, () => undefined), 2000, address);
      assert.equal(codeOf(err), 'PLEXUS_ERR_CONFIG', address);
      assert.equal(((err as Error).cause as { code?: string }).code, 'EADDRINUSE');
    }
  });
});
