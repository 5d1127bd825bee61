/**
 * Fault proof for redis://: a private redis-server (append-only file, fsync always) is
 * stopped and started under live pub/sub and request/reply traffic. The adapter must
 * report `reconnecting`, fail requests made during the outage with a coded error (never
 * hang), then resubscribe by itself: messages and requests flow again after the restart.
 * (The redis:// adapter has no durable queues yet, so there are no acks to lose.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectBus, type Bus, type ConnectionStatus } from '../../src/index.js';
import { Cleanup } from '../helpers/plexus.js';
import { codeOf, rejection, waitFor } from '../helpers/wait.js';
import { startPrivateRedis } from '../backends/redis/redis-server.js';

const WAIT_MS = 15_000;

test('redis:// survives a server restart: reconnects, resubscribes, and no request hangs', async (t) => {
  const cleanup = new Cleanup(t, 15_000);
  const redis = await startPrivateRedis(cleanup);
  const open = async (): Promise<Bus> => {
    const bus = await connectBus(redis.url, { timeoutMs: 3000, reconnectDelayMs: 50 });
    cleanup.defer(() => bus.close());
    return bus;
  };
  const [pub, sub, server] = [await open(), await open(), await open()];
  const statuses: ConnectionStatus[] = [];
  sub.on('status', (s) => statuses.push(s));
  const got = new Set<string>();
  sub.subscribe('events.>', { callback: (m) => got.add(m.string()) });
  server.serve('rpc.echo', (m) => `echo ${m.string()}`);
  await sub.flush();
  await server.flush();
  pub.publish('events.a', 'before');
  assert.equal((await pub.request('rpc.echo', 'one', { timeout: 5000 })).string(), 'echo one');
  await waitFor(() => got.has('before'), WAIT_MS, 'the message sent before the restart');

  await redis.stop();
  await waitFor(() => sub.status === 'reconnecting', WAIT_MS, 'the subscriber to notice the outage');
  const during = await rejection(pub.request('rpc.echo', 'lost', { timeout: 2000 }), 5000, 'a request during the outage');
  assert.ok(codeOf(during)?.startsWith('PLEXUS_ERR_'), `a coded error, got ${String(during)}`);

  await redis.start();
  await waitFor(() => sub.status === 'open' && pub.status === 'open' && server.status === 'open', WAIT_MS, 'every client to reconnect');
  assert.deepEqual(statuses.slice(0, 2), ['reconnecting', 'open']);
  // Resubscription runs as the link comes back; keep publishing until it has landed.
  let n = 0;
  await waitFor(
    () => {
      pub.publish('events.b', `after ${++n}`);
      return [...got].some((s) => s.startsWith('after'));
    },
    WAIT_MS,
    'a message published after the restart',
  );
  let reply = '';
  await waitFor(
    async () => {
      reply = await pub.request('rpc.echo', 'two', { timeout: 1000 }).then(
        (m) => m.string(),
        () => '',
      );
      return reply !== '';
    },
    WAIT_MS,
    'a request answered after the restart',
  );
  assert.equal(reply, 'echo two');
});
