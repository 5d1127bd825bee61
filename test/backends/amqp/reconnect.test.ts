/**
 * Reconnect with channel recovery: a client whose link to RabbitMQ is cut (through a TCP
 * proxy; the shared server keeps running) dials again, re-declares its queues and
 * bindings, and its subscriptions and responders carry on. Needs RabbitMQ on
 * 127.0.0.1:5672.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { ErrorCode, connectBus, type Bus } from '../../../src/index.js';
import { Cleanup, take } from '../../helpers/plexus.js';
import { startProxy } from '../../helpers/proxy.js';
import { codeOf, deferred, rejection, thrownCode, waitFor, within } from '../../helpers/wait.js';
import { AMQP_HOST, AMQP_PORT, AMQP_URL } from '../../conformance/amqp-target.js';

const WAIT_MS = 10_000;

test('a cut link is re-established: subscriptions and responders resume, nothing is reported sent while down', async (t) => {
  const cleanup = new Cleanup(t);
  const proxy = await startProxy(cleanup, `tcp://${AMQP_HOST}:${AMQP_PORT}`);
  const port = new URL(proxy.url).port;
  const flaky: Bus = await connectBus(`amqp://guest:guest@127.0.0.1:${port}`, { timeoutMs: 3000, reconnectDelayMs: 100 });
  cleanup.defer(() => flaky.close());
  const steady: Bus = await connectBus(AMQP_URL, { timeoutMs: 3000 });
  cleanup.defer(() => steady.close());
  const p = `t.${randomUUID().replaceAll('-', '')}`;
  const s = flaky.subscribe(`${p}.events.*`);
  flaky.serve(`${p}.echo`, (m) => `echo ${m.string()}`);
  await flaky.flush();

  const statuses: string[] = [];
  flaky.on('status', (st) => statuses.push(st));
  const reconnected = deferred();
  flaky.on('status', (st) => (st === 'open' ? reconnected.resolve() : undefined));
  proxy.refuse = true;
  proxy.cut();
  await waitFor(() => flaky.status === 'reconnecting', WAIT_MS, 'the bus to notice the cut');
  assert.equal(thrownCode(() => flaky.publish(`${p}.x`, 'lost?')), ErrorCode.CONNECTION_LOST, 'a publish while down is refused, not buffered and lost');
  proxy.refuse = false;
  await within(reconnected.promise, WAIT_MS, 'the bus to reconnect');
  assert.deepEqual(statuses, ['reconnecting', 'open']);
  await flaky.flush();

  steady.publish(`${p}.events.a`, 'after');
  await steady.flush();
  const [m] = await take(s, 1, WAIT_MS, 'a message on the resumed subscription');
  assert.equal(m!.string(), 'after');
  assert.equal((await steady.request(`${p}.echo`, 'hi', { timeout: WAIT_MS })).string(), 'echo hi');
  assert.ok(proxy.accepted >= 2, 'the client dialled again');
});

test('a request waiting when the link drops fails with PLEXUS_ERR_CONNECTION_LOST instead of hanging', async (t) => {
  const cleanup = new Cleanup(t);
  const proxy = await startProxy(cleanup, `tcp://${AMQP_HOST}:${AMQP_PORT}`);
  const port = new URL(proxy.url).port;
  const caller = await connectBus(`amqp://guest:guest@127.0.0.1:${port}`, { timeoutMs: 3000, reconnectDelayMs: 100 });
  cleanup.defer(() => caller.close());
  const server = await connectBus(AMQP_URL, { timeoutMs: 3000 });
  cleanup.defer(() => server.close());
  const subject = `t.${randomUUID().replaceAll('-', '')}.slow`;
  const started = deferred();
  server.serve(subject, () => {
    started.resolve();
    return new Promise<void>(() => {});
  });
  await server.flush();
  const pending = caller.request(subject, 'x', { timeout: 60_000 });
  await within(started.promise, WAIT_MS, 'the handler to start');
  proxy.cut();
  assert.equal(codeOf(await rejection(pending, WAIT_MS, 'the orphaned request')), ErrorCode.CONNECTION_LOST);
});

test('with reconnect off, a dropped link closes the bus with PLEXUS_ERR_CONNECTION_LOST', async (t) => {
  const cleanup = new Cleanup(t);
  const proxy = await startProxy(cleanup, `tcp://${AMQP_HOST}:${AMQP_PORT}`);
  const port = new URL(proxy.url).port;
  const bus = await connectBus(`amqp://guest:guest@127.0.0.1:${port}`, { timeoutMs: 3000, reconnect: false });
  cleanup.defer(() => bus.close());
  proxy.cut();
  const reason = await within(bus.closed, WAIT_MS, 'the bus to close');
  assert.equal(codeOf(reason), ErrorCode.CONNECTION_LOST);
  assert.equal(bus.status, 'closed');
});
