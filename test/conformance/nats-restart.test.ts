/**
 * Fault test: the NATS server restarts mid-traffic. The adapter reconnects on its own,
 * resubscribes, and serving and requesting work again. (Core NATS keeps nothing across a
 * restart: messages published while it is down are lost by design — durable queues on
 * JetStream are later work, see docs/backends.md.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectBus, type Bus } from '../../src/index.js';
import { Cleanup, take } from '../helpers/plexus.js';
import { waitFor, within } from '../helpers/wait.js';
import { startPrivateNats } from './nats-server.js';

test('nats server restart: clients reconnect, resubscribe, and request/reply works again', async (t) => {
  const cleanup = new Cleanup(t);
  const nats = await startPrivateNats(cleanup);
  const open = async (): Promise<Bus> => {
    const bus = await connectBus(nats.url, { timeoutMs: 3000, reconnectDelayMs: 50 });
    cleanup.defer(() => bus.close());
    return bus;
  };
  const [caller, server] = [await open(), await open()];
  const statuses: string[] = [];
  caller.on('status', (s) => statuses.push(s));
  server.serve('svc.echo', (msg) => `echo ${msg.string()}`);
  const events = server.subscribe('ev.*');
  await server.flush();
  assert.equal((await caller.request('svc.echo', 'one', { timeout: 3000 })).string(), 'echo one');

  await nats.stop();
  await waitFor(() => caller.status === 'reconnecting' && server.status === 'reconnecting', 10_000, 'both to notice');
  await nats.start();
  await waitFor(() => caller.status === 'open' && server.status === 'open', 15_000, 'both to reconnect');
  assert.deepEqual(statuses.slice(0, 2), ['reconnecting', 'open']);
  await server.flush(); // its subscriptions are back on the new server

  assert.equal((await within(caller.request('svc.echo', 'two', { timeout: 3000 }), 5000)).string(), 'echo two');
  caller.publish('ev.after', 'x');
  assert.equal((await take(events, 1, 5000))[0]!.subject, 'ev.after');
});
