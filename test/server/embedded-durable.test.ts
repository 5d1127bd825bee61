/**
 * startBroker({ durable }) — the broker with its durable service in the same process:
 * it works whatever the auth config says (the service signs in as a trusted in-process
 * principal), keeps data across restarts, and refuses a second broker on the same dir.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { connect, ErrorCode, PlexusError, startBroker, DURABLE_IDENTITY } from '../../src/index.js';
import { durable } from '../../src/durable/index.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';

const auth = {
  users: [
    // May publish orders and use the durable API, nothing else.
    { user: 'shop', token: 'shop-secret', permissions: { publish: { allow: ['orders.>', '$PLX.DS.>'] }, subscribe: { allow: ['_INBOX.>'] } } },
  ],
};

test('embedded durable service: acknowledged publish and fetch through an authenticated client, data kept across restart', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup, 'plexus-embedded-');
  const sock = `unix://${join(dir, 'b.sock')}`;
  const start = () => startBroker({ listen: [sock], auth, durable: { dir: join(dir, 'data'), sweepMs: 50 } });
  let broker = await start();
  cleanup.defer(() => broker.close({ drainMs: 0 }));
  assert.ok(broker.durable, 'the durable service runs');

  let bus = await connect(sock, { token: 'shop-secret' });
  let ds = durable(bus);
  await ds.createStream({ name: 'orders', subjects: ['orders.>'] });
  const ack = await ds.publish('orders.new', new TextEncoder().encode('o-1'), { msgId: 'o-1' });
  assert.equal(ack.seq, 1);
  await ds.createConsumer({ stream: 'orders', name: 'billing' });
  await bus.close();
  await broker.close({ drainMs: 0 });

  broker = await start();
  bus = await connect(sock, { token: 'shop-secret' });
  cleanup.defer(() => bus.close());
  ds = durable(bus);
  const msgs = await ds.fetch('orders', 'billing', { batch: 10, expiresMs: 500 });
  assert.deepEqual(
    msgs.map((m) => [m.seq, m.string(), m.from]),
    [[1, 'o-1', 'shop']],
  );
  await msgs[0]!.ack();
});

test('embedded durable service: a second broker on the same data directory is refused', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup, 'plexus-embedded-');
  const first = await startBroker({ listen: [], durable: { dir } });
  cleanup.defer(() => first.close({ drainMs: 0 }));
  await assert.rejects(
    startBroker({ listen: [`unix://${join(dir, 'second.sock')}`], durable: { dir } }),
    (err: unknown) => err instanceof PlexusError && err.code === ErrorCode.STORE_LOCKED,
  );
  await first.close({ drainMs: 0 });
  // Released on close: the directory can be used again.
  const again = await startBroker({ listen: [], durable: { dir } });
  await again.close({ drainMs: 0 });
});

test('embedded durable service: it shows in /status under its own identity, while clients without credentials are still refused', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup, 'plexus-embedded-');
  const sock = `unix://${join(dir, 'b.sock')}`;
  const broker = await startBroker({ listen: [sock], auth, durable: { dir: join(dir, 'data') } });
  cleanup.defer(() => broker.close({ drainMs: 0 }));
  const ids = broker.status().clients.map((c) => c.identity);
  assert.ok(ids.includes(DURABLE_IDENTITY), `status lists the service: ${ids.join(', ')}`);
  // Without credentials nobody gets in (no anonymous access in this config).
  await assert.rejects(connect(sock, { reconnect: false }), (err: unknown) => err instanceof PlexusError && err.code === ErrorCode.AUTH_FAILED);
});
