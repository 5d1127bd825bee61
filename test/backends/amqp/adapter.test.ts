/**
 * amqp:// adapter specifics beyond the conformance suite: the wildcard mapping onto AMQP
 * binding keys, identity as RabbitMQ's checked user_id, refusals of what RabbitMQ cannot
 * give, and connect errors. Needs RabbitMQ on 127.0.0.1:5672 (guest/guest).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { ErrorCode, connectBus, kv, lock, queue, type Bus } from '../../../src/index.js';
import { bindingKey, parseReplyAddress, replyAddress } from '../../../src/backends/amqp/mapping.js';
import { Cleanup, take } from '../../helpers/plexus.js';
import { codeOf, deferred, rejection, thrownCode, within } from '../../helpers/wait.js';
import { AMQP_URL } from '../../conformance/amqp-target.js';

const WAIT_MS = 5000;

async function open(cleanup: Cleanup): Promise<Bus> {
  const bus = await connectBus(AMQP_URL, { timeoutMs: 3000 });
  cleanup.defer(() => bus.close());
  return bus;
}

test('binding keys: > becomes *.# (one or more tokens), * stays, literal subjects unchanged', () => {
  assert.equal(bindingKey('a.>'), 'a.*.#');
  assert.equal(bindingKey('>'), '*.#');
  assert.equal(bindingKey('a.*.c'), 'a.*.c');
  assert.equal(bindingKey('a.b'), 'a.b');
  assert.equal(thrownCode(() => bindingKey(`a.${'x'.repeat(300)}`)), ErrorCode.INVALID_SUBJECT);
  assert.deepEqual(parseReplyAddress(replyAddress('amq.rabbitmq.reply-to.abc', 'id.1')), { replyTo: 'amq.rabbitmq.reply-to.abc', correlationId: 'id.1' });
  assert.deepEqual(parseReplyAddress('plain.subject'), { replyTo: 'plain.subject', correlationId: undefined });
});

test("'>' does not match its prefix alone, and a literal '#' token is not a wildcard", async (t) => {
  const cleanup = new Cleanup(t);
  const [pub, sub] = [await open(cleanup), await open(cleanup)];
  const p = `t.${randomUUID().replaceAll('-', '')}`;
  const tail: string[] = [];
  const hash: string[] = [];
  sub.subscribe(`${p}.>`, { callback: (m) => tail.push(m.subject) });
  sub.subscribe(`${p}.#`, { callback: (m) => hash.push(m.subject) });
  const end = sub.subscribe(`${p}.end.x`);
  await sub.flush();
  for (const s of [p, `${p}.a`, `${p}.#`, `${p}.a.b`, `${p}.end.x`]) pub.publish(s, 'x');
  await pub.flush();
  await take(end, 1, WAIT_MS, 'the end marker');
  await sub.flush();
  assert.deepEqual(tail, [`${p}.a`, `${p}.#`, `${p}.a.b`, `${p}.end.x`]);
  assert.deepEqual(hash, [`${p}.#`]);
});

test('identity is the login user in user_id: a raw publish claiming another user is refused by RabbitMQ', async (t) => {
  const cleanup = new Cleanup(t);
  const sub = await open(cleanup);
  assert.equal(sub.server?.identity, 'guest');
  const subject = `t.${randomUUID().replaceAll('-', '')}.who`;
  const s = sub.subscribe(subject);
  await sub.flush();
  const raw = await amqplib.connect(AMQP_URL);
  cleanup.defer(() => raw.close().catch(() => undefined));
  const ch = await raw.createChannel();
  const closed = deferred<unknown>();
  ch.on('error', (err: unknown) => closed.resolve(err));
  // Without user_id the sender is unknown: `from` stays empty rather than trusting a header.
  ch.publish('plexus', subject, Buffer.from('anon'), { headers: { 'Plexus-From': 'root' } });
  const [anon] = await take(s, 1, WAIT_MS);
  assert.equal(anon!.from, '');
  ch.publish('plexus', subject, Buffer.from('forged'), { userId: 'root' });
  const err = await within(closed.promise, WAIT_MS, 'RabbitMQ to refuse the forged user_id');
  assert.match(String((err as Error).message), /PRECONDITION_FAILED|user_id/i);
});

test('what RabbitMQ cannot give is refused with PLEXUS_ERR_NOT_SUPPORTED and the reason', async (t) => {
  const cleanup = new Cleanup(t);
  const bus = await open(cleanup);
  assert.equal(thrownCode(() => bus.subscribe('a.b', { overflow: 'block' })), ErrorCode.NOT_SUPPORTED);
  for (const make of [() => kv(bus, 'b1'), () => lock(bus, 'l1')]) {
    assert.throws(make, (e: unknown) => codeOf(e) === ErrorCode.NOT_SUPPORTED && /amqp/.test((e as Error).message));
  }
  const qName = `q${randomUUID().replaceAll('-', '').slice(0, 20)}`;
  cleanup.defer(async () => {
    const conn = await amqplib.connect(AMQP_URL);
    await (await conn.createChannel()).deleteQueue(`plexus.queue.${qName}`).finally(() => conn.close());
  });
  const q = queue(bus, qName);
  assert.equal(codeOf(await rejection(q.send('x', { msgId: 'a' }), WAIT_MS)), ErrorCode.NOT_SUPPORTED, 'no dedup on RabbitMQ');
  assert.equal(codeOf(await rejection(q.send('x', { delayMs: 100 }), WAIT_MS)), ErrorCode.NOT_SUPPORTED, 'no delay on RabbitMQ');
  assert.equal(codeOf(await rejection(q.dlq().count(), WAIT_MS)), ErrorCode.NOT_SUPPORTED);
  assert.equal((await q.stat()).stored, 0, 'nothing was stored by the refused sends');
});

test('connect errors are coded: bad credentials PLEXUS_ERR_AUTH_FAILED, nobody listening PLEXUS_ERR_CONNECT_FAILED', async () => {
  const bad = await rejection(connectBus('amqp://guest:wrong@127.0.0.1:5672', { timeoutMs: 3000 }), WAIT_MS * 2, 'bad login');
  assert.equal(codeOf(bad), ErrorCode.AUTH_FAILED);
  const none = await rejection(connectBus('amqp://guest:guest@127.0.0.1:1', { timeoutMs: 2000 }), WAIT_MS * 2, 'refused dial');
  assert.equal(codeOf(none), ErrorCode.CONNECT_FAILED);
  assert.match((none as Error).message, /127\.0\.0\.1:1/);
  assert.doesNotMatch((bad as Error).message, /wrong/, 'the password is not echoed');
});
