/**
 * NATS-adapter behaviour outside the shared suite: what it refuses, the optional-package
 * loading, and closing. Needs nats-server on 127.0.0.1:4222 (fails, not skips, when down).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, connectBus } from '../../src/index.js';
import { loadBackendClient } from '../../src/backends/load.js';
import { Cleanup, take } from '../helpers/plexus.js';
import { startProxy } from '../helpers/proxy.js';
import { codeOf, deferred, rejection, thrownCode, waitFor, within } from '../helpers/wait.js';
import { NATS_HOST, NATS_PORT, natsTarget, probe } from './targets.js';

test('a missing backend client package is PLEXUS_ERR_BACKEND_UNAVAILABLE naming it', async () => {
  const err = await rejection(loadBackendClient('plexus-no-such-backend-client', 'nope'), 5000);
  assert.equal(codeOf(err), ErrorCode.BACKEND_UNAVAILABLE);
  assert.match((err as Error).message, /plexus-no-such-backend-client/);
});

test('mixing nats:// with other schemes is PLEXUS_ERR_INVALID_URL', async () => {
  const err = await rejection(connectBus(['nats://127.0.0.1:4222', 'tcp://127.0.0.1:4850']), 5000);
  assert.equal(codeOf(err), ErrorCode.INVALID_URL);
});

test('nats: options it cannot honour are refused, not faked', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect, prefix } = await natsTarget.open(cleanup);
  const bus = await connect();
  assert.equal(thrownCode(() => bus.subscribe(`${prefix}.x`, { overflow: 'block' })), ErrorCode.NOT_SUPPORTED);
  assert.equal(thrownCode(() => bus.publish(`${prefix}.x`, 'x', { headers: { 'Plexus-From': 'root' } })), ErrorCode.INVALID_HEADERS);
  assert.equal(thrownCode(() => bus.publish(`${prefix}.x`, 'x', { headers: { 'bad key': 'v' } })), ErrorCode.INVALID_HEADERS);
  assert.equal(thrownCode(() => bus.publish(`${prefix}.*`, 'x')), ErrorCode.INVALID_SUBJECT);
  assert.equal(thrownCode(() => bus.publish(`${prefix}.x`, new Uint8Array(bus.server!.maxPayload + 1))), ErrorCode.PAYLOAD_TOO_LARGE);
});

test('nats: the subscribe headers filter is applied on receipt', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect, prefix } = await natsTarget.open(cleanup);
  const [pub, sub] = [await connect(), await connect()];
  const got: string[] = [];
  const done = deferred();
  sub.subscribe(`${prefix}.f`, {
    headers: { region: 'eu' },
    callback: (m) => {
      got.push(m.string());
      if (m.string() === 'last') done.resolve();
    },
  });
  await sub.flush();
  pub.publish(`${prefix}.f`, 'us', { headers: { region: 'us' } });
  pub.publish(`${prefix}.f`, 'none');
  pub.publish(`${prefix}.f`, 'eu', { headers: { region: 'eu' } });
  pub.publish(`${prefix}.f`, 'last', { headers: { region: 'eu' } });
  await within(done.promise, 5000, 'the filtered messages');
  assert.deepEqual(got, ['eu', 'last']);
});

test('nats: close fails pending requests with PLEXUS_ERR_CONNECTION_CLOSED and ends subscriptions', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect, prefix } = await natsTarget.open(cleanup);
  const [caller, server] = [await connect(), await connect()];
  const started = deferred();
  server.serve(`${prefix}.hang`, () => {
    started.resolve();
    return new Promise<void>(() => {});
  });
  await server.flush();
  const sub = caller.subscribe(`${prefix}.ev`);
  const pending = caller.request(`${prefix}.hang`, 'x', { timeout: 30_000 });
  await within(started.promise, 5000, 'the handler to start');
  await caller.close();
  assert.equal(codeOf(await rejection(pending, 5000)), ErrorCode.CONNECTION_CLOSED);
  await within(sub.closed, 5000, 'the subscription to end');
  assert.equal(caller.status, 'closed');
  assert.equal(thrownCode(() => caller.publish(`${prefix}.ev`, 'x')), ErrorCode.CONNECTION_CLOSED);
});

test('nats: drain lets a running handler answer before closing', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect, prefix } = await natsTarget.open(cleanup);
  const [caller, server] = [await connect(), await connect()];
  const started = deferred();
  const release = deferred();
  server.serve(`${prefix}.work`, async () => {
    started.resolve();
    await release.promise;
    return 'done';
  });
  await server.flush();
  const pending = caller.request(`${prefix}.work`, 'x', { timeout: 10_000 });
  await within(started.promise, 5000, 'the handler to start');
  const draining = server.drain(5000);
  assert.equal(server.status, 'draining');
  release.resolve();
  assert.equal((await within(pending, 5000, 'the reply')).string(), 'done');
  await within(draining, 6000, 'drain');
  assert.equal(server.status, 'closed');
});

test('a target server that is down fails with a clear message (CI must start it), it does not skip', async () => {
  // Port 1 on loopback: nothing listens there unprivileged.
  const err = await rejection(probe('127.0.0.1', 1, 1000), 5000);
  assert.match((err as Error).message, /not reachable at 127\.0\.0\.1:1 .*fail rather than skip/);
});

test('nats: a cut link reconnects (status reconnecting → open) and subscriptions keep receiving', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect, prefix } = await natsTarget.open(cleanup);
  const proxy = await startProxy(cleanup, `tcp://${NATS_HOST}:${NATS_PORT}`);
  const viaProxy = await connectBus(proxy.url.replace('tcp://', 'nats://'), { timeoutMs: 3000, reconnectDelayMs: 50 });
  cleanup.defer(() => viaProxy.close());
  const pub = await connect();
  const statuses: string[] = [];
  viaProxy.on('status', (s) => statuses.push(s));
  const sub = viaProxy.subscribe(`${prefix}.r`);
  await viaProxy.flush();
  pub.publish(`${prefix}.r`, 'before');
  assert.equal((await take(sub, 1, 5000))[0]!.string(), 'before');
  proxy.cut();
  await waitFor(() => statuses.includes('reconnecting') && viaProxy.status === 'open', 10_000, 'reconnect');
  assert.ok(proxy.accepted >= 2, 'a second link was made');
  await viaProxy.flush();
  pub.publish(`${prefix}.r`, 'after');
  assert.equal((await take(sub, 1, 5000))[0]!.string(), 'after');
});

test('nats: a reply larger than the server allows reaches the caller as PLEXUS_ERR_PAYLOAD_TOO_LARGE, not a timeout', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect, prefix } = await natsTarget.open(cleanup);
  const [caller, server] = [await connect(), await connect()];
  server.serve(`${prefix}.big`, () => new Uint8Array(server.server!.maxPayload + 1));
  await server.flush();
  const err = await rejection(caller.request(`${prefix}.big`, 'x', { timeout: 30_000 }), 5000, 'oversized reply');
  assert.equal(codeOf(err), ErrorCode.PAYLOAD_TOO_LARGE);
  assert.equal(codeOf(await rejection(caller.request(`${prefix}.big`, new Uint8Array(caller.server!.maxPayload + 1)), 5000)), ErrorCode.PAYLOAD_TOO_LARGE);
});
