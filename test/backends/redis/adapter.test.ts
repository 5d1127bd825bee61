/** redis:// adapter behaviour beyond the conformance suite: exact wildcards over globs, interop, refusals. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { ErrorCode, connectBus, kv, lock, mailbox, queue, type Message } from '../../../src/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../../src/backends/redis/envelope.js';
import { redisInterest } from '../../../src/backends/redis/channels.js';
import { Cleanup, take } from '../../helpers/plexus.js';
import { rejectionCode, thrownCode } from '../../helpers/wait.js';
import { REDIS_HOST, REDIS_PORT, redisTarget } from '../../conformance/redis-target.js';

const WAIT_MS = 5000;

test('wildcards are exact although Redis globs match dots and glob metacharacters', async (t) => {
  const cleanup = new Cleanup(t);
  const s = await redisTarget.open(cleanup);
  const [pub, sub] = [await s.connect(), await s.connect()];
  const p = s.prefix;
  const one = sub.subscribe(`${p}.[ab].*`);
  const end = sub.subscribe(`${p}.end`);
  await sub.flush();
  for (const subject of [`${p}.a.x`, `${p}.[ab].x.y`, `${p}.[ab].x`, `${p}.[ab]`, `${p}.end`]) pub.publish(subject, subject);
  await pub.flush();
  await take(end, 1, WAIT_MS, 'the end marker');
  const got = (await take(one, 1, WAIT_MS)).map((m: Message) => m.subject);
  assert.deepEqual(got, [`${p}.[ab].x`]);
  assert.equal(one.pending, 0, 'nothing else matched');
});

test('glob mapping: literal tokens are escaped, * and > become a coarse *', () => {
  assert.deepEqual(redisInterest('a.b'), { kind: 'channel', key: 'a.b' });
  assert.deepEqual(redisInterest('a.*.c?'), { kind: 'pattern', key: 'a.*.c\\?' });
  assert.deepEqual(redisInterest('a.>'), { kind: 'pattern', key: 'a.*' });
});

test('a message published by a plain Redis client arrives as a bare payload with no sender', async (t) => {
  const cleanup = new Cleanup(t);
  const s = await redisTarget.open(cleanup);
  const bus = await s.connect();
  const subject = `${s.prefix}.raw`;
  const sub = bus.subscribe(subject);
  await bus.flush();
  const raw = new Redis(REDIS_PORT, REDIS_HOST);
  cleanup.defer(() => raw.disconnect());
  assert.equal(await raw.publish(subject, 'plain text'), 1);
  const [m] = (await take(sub, 1, WAIT_MS)) as [Message];
  assert.equal(m.string(), 'plain text');
  assert.equal(m.from, '');
  assert.deepEqual({ ...m.headers }, {});
});

test('envelope: round trip, and malformed bytes are a bare payload, never a throw', () => {
  const env = decodeEnvelope(encodeEnvelope({ from: 'me', conn: 'c1', id: 'c1.1', reply: 'r.1', timeoutMs: 7, headers: { k: 'v' } }, Uint8Array.of(1, 2)));
  assert.equal(env.meta?.from, 'me');
  assert.equal(env.meta?.reply, 'r.1');
  assert.equal(env.meta?.timeoutMs, 7);
  assert.deepEqual({ ...env.meta?.headers }, { k: 'v' });
  assert.deepEqual([...env.payload], [1, 2]);
  for (const bad of [Uint8Array.of(0x50, 1, 0xff, 0xff, 0xff, 0xff), Uint8Array.of(0x50, 1, 0, 0, 0, 2, 0x7b, 0x7b), Uint8Array.of(0x50)]) {
    const d = decodeEnvelope(bad);
    assert.equal(d.meta, undefined);
    assert.deepEqual([...d.payload], [...bad]);
  }
});

test("overflow 'block' and reserved headers are refused with coded errors", async (t) => {
  const cleanup = new Cleanup(t);
  const s = await redisTarget.open(cleanup);
  const bus = await s.connect();
  assert.equal(thrownCode(() => bus.subscribe(`${s.prefix}.x`, { overflow: 'block' })), ErrorCode.NOT_SUPPORTED);
  assert.equal(thrownCode(() => bus.publish(`${s.prefix}.x`, 'x', { headers: { 'Plexus-From': 'root' } })), ErrorCode.INVALID_HEADERS);
  assert.equal(await rejectionCode(bus.request(`${s.prefix}.x`, 'x', { headers: { ':from': 'root' } }), WAIT_MS), ErrorCode.INVALID_HEADERS);
});

test('connecting to a port where no Redis listens fails with PLEXUS_ERR_CONNECT_FAILED', async () => {
  // Port 1 on loopback: nothing listens there, the dial is refused at once.
  const code = await rejectionCode(connectBus('redis://127.0.0.1:1', { timeoutMs: 3000, reconnect: false }), 10_000);
  assert.equal(code, ErrorCode.CONNECT_FAILED);
});

test('a queue group member that unsubscribes gets no more messages; the other takes them all', async (t) => {
  const cleanup = new Cleanup(t);
  const s = await redisTarget.open(cleanup);
  const [pub, a, b] = [await s.connect(), await s.connect(), await s.connect()];
  const subject = `${s.prefix}.jobs.${randomUUID().slice(0, 8)}`;
  const subA = a.subscribe(subject, { queue: 'w' });
  const subB = b.subscribe(subject, { queue: 'w' });
  await a.flush();
  await b.flush();
  subA.unsubscribe();
  await a.flush();
  for (let i = 0; i < 10; i++) pub.publish(subject, String(i));
  await pub.flush();
  const got = (await take(subB, 10, WAIT_MS)).map((m: Message) => m.string());
  assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => String(i)));
});

test('queue, mailbox, kv and lock on redis:// are refused with PLEXUS_ERR_NOT_SUPPORTED and the reason', async (t) => {
  const cleanup = new Cleanup(t);
  const s = await redisTarget.open(cleanup);
  const bus = await s.connect();
  for (const make of [() => queue(bus, s.name), () => mailbox(bus, s.name), () => kv(bus, s.name), () => lock(bus, s.name)]) {
    assert.throws(make, (e: unknown) => (e as { code?: string }).code === ErrorCode.NOT_SUPPORTED && /redis/.test((e as Error).message));
  }
});

test('a serving connection that closes leaves the rotation at once: every later request is answered', async (t) => {
  const cleanup = new Cleanup(t);
  const s = await redisTarget.open(cleanup);
  const [caller, a, b] = [await s.connect(), await s.connect(), await s.connect()];
  const subject = `${s.prefix}.svc`;
  a.serve(subject, () => 'a');
  b.serve(subject, () => 'b');
  await a.flush();
  await b.flush();
  await a.close();
  // Well inside the 3 s a silent member would stay in the rotation.
  for (let i = 0; i < 6; i++) assert.equal((await caller.request(subject, 'x', { timeout: WAIT_MS })).string(), 'b');
});
