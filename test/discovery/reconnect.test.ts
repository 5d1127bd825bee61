/** An instance whose client reconnects before the broker noticed the old link died. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { registerInstance, services } from '../../src/discovery/index.js';
import type { PlexusError } from '../../src/errors/index.js';
import { Cleanup, connectClient, startTestBroker } from '../helpers/plexus.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A TCP proxy that can freeze its current connections: nothing is forwarded any more and
 * the broker side stays open after the client gives up on its side, like a peer behind a
 * dead network path. New connections go through normally.
 */
async function freezingProxy(cleanup: Cleanup, target: string): Promise<{ url: string; freeze(): void }> {
  const t = new URL(target);
  const live = new Set<{ frozen: boolean }>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: t.hostname, port: Number(t.port) });
    const state = { frozen: false };
    live.add(state);
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => void (state.frozen || upstream.write(d)));
    upstream.on('data', (d: Buffer) => void (state.frozen || client.write(d)));
    client.on('error', () => undefined).on('close', () => {
      if (!state.frozen) upstream.destroy();
    });
    upstream.on('error', () => undefined).on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.defer(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return {
    url: `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    freeze: () => {
      for (const s of live) s.frozen = true;
    },
  };
}

describe('re-registration', { timeout: 30_000 }, () => {
  it('retries while the broker still holds the dead connection, then the instance is back', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { heartbeatMs: 500 });
    const proxy = await freezingProxy(c, b.url);
    const watcher = await b.connect();
    // This client gives up on a silent link after 3 × 100 ms; the broker only after 3 × 500 ms.
    const bus = await connectClient(c, proxy.url, { heartbeatMs: 100 });
    const errors: PlexusError[] = [];
    const inst = await registerInstance(bus, { name: 'blip', version: '1.0.0', id: 'blip-1' }, { onError: (e) => errors.push(e) });
    const firstConn = inst.registration.connId;
    proxy.freeze();
    // Back under a new connection once the broker has dropped the old one.
    // Both sides: the broker lists it under the new connection, and the client has the
    // REGISTER reply (the watcher's list can arrive before that reply does).
    await waitFor(
      async () => inst.registration.connId !== firstConn && (await services(watcher).list('blip')).some((i) => i.id === 'blip-1' && i.connId === inst.registration.connId),
      10_000,
      'the instance registered again on the new connection',
    );
    assert.deepEqual(errors.map((e) => e.code), []);
    assert.notEqual(inst.registration.connId, firstConn);
  });
});
