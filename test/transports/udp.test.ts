import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { FrameType, encodeFrame } from '../../src/wire/index.js';
import { UdpPublisher, UdpReceiver, defaultTransports } from '../../src/transports/index.js';
import { Cleanup } from '../helpers/plexus.js';
import { rejectionCode, waitFor, within } from '../helpers/wait.js';

async function pair(cleanup: Cleanup, options = {}): Promise<{ rx: UdpReceiver; tx: UdpPublisher }> {
  const rx = await UdpReceiver.open('udp://127.0.0.1:0', options);
  cleanup.defer(() => rx.close());
  const tx = UdpPublisher.open(rx.url, options);
  cleanup.defer(() => tx.close());
  return { rx, tx };
}

/** Send raw bytes to the receiver, as a hostile or broken sender would. */
async function sendRaw(url: string, bytes: Uint8Array): Promise<void> {
  const port = Number(new URL(url).port);
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => s.send(bytes, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  s.close();
}

test('udp: one PUB frame per datagram arrives with subject, headers, payload and the sender address', async (t) => {
  const cleanup = new Cleanup(t);
  const { rx, tx } = await pair(cleanup);
  assert.match(rx.url, /^udp:\/\/127\.0\.0\.1:\d+$/);
  await tx.publish('telemetry.cpu', '{"load":0.5}', { host: 'a' });
  const m = await rx.next({ timeoutMs: 5000 });
  assert.equal(m!.subject, 'telemetry.cpu');
  assert.deepEqual({ ...m!.headers }, { host: 'a' });
  assert.equal(Buffer.from(m!.payload).toString(), '{"load":0.5}');
  assert.equal(m!.from.address, '127.0.0.1');
  assert.ok(m!.from.port > 0);
  assert.equal(rx.stats.delivered, 1);
});

test('udp: a frame over maxDatagramBytes is refused before sending (PAYLOAD_TOO_LARGE); the limit is checked', async (t) => {
  const cleanup = new Cleanup(t);
  const { rx, tx } = await pair(cleanup, { maxDatagramBytes: 200 });
  const err = await tx.publish('big', new Uint8Array(300)).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'PLEXUS_ERR_PAYLOAD_TOO_LARGE');
  assert.deepEqual((err as { details?: unknown }).details, { size: 300 + 20 + 3, maxBytes: 200 });
  await tx.publish('small', new Uint8Array(100));
  assert.equal((await rx.next({ timeoutMs: 5000 }))!.subject, 'small');
  assert.equal(rx.stats.received, 1, 'the large one never went out');
  assert.throws(() => UdpPublisher.open(rx.url, { maxDatagramBytes: 70_000 }), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  assert.equal(await rejectionCode(tx.publish('bad..subject'), 1000), 'PLEXUS_ERR_INVALID_SUBJECT');
  assert.equal(await rejectionCode(tx.publish('s', 'x', { ':from': 'forged' }), 1000), 'PLEXUS_ERR_INVALID_HEADERS');
});

test('udp: malformed and oversized datagrams are dropped and counted; good ones around them arrive', async (t) => {
  const cleanup = new Cleanup(t);
  const drops: string[] = [];
  const { rx, tx } = await pair(cleanup, { maxDatagramBytes: 1000, onDrop: (why: string) => drops.push(why) });
  await sendRaw(rx.url, Buffer.from('not a frame at all'));
  await sendRaw(rx.url, encodeFrame({ type: FrameType.SUB, subject: 'x', id: 1 })); // a frame, but not PUB
  await sendRaw(rx.url, encodeFrame({ type: FrameType.PUB, subject: 'x', reply: 'r', flags: 0x02 })); // a request: no way back
  await sendRaw(rx.url, encodeFrame({ type: FrameType.PUB, subject: 'x', payload: new Uint8Array(2000) }));
  const truncated = encodeFrame({ type: FrameType.PUB, subject: 'ok', payload: new Uint8Array(10) });
  await sendRaw(rx.url, truncated.subarray(0, truncated.length - 3));
  await tx.publish('after.all', 'fine');
  const m = await within(rx.next(), 5000, 'the good datagram');
  assert.equal(m!.subject, 'after.all');
  await waitFor(() => rx.stats.received === 6, 5000, 'all datagrams counted');
  assert.equal(rx.stats.malformed, 4);
  assert.equal(rx.stats.tooLarge, 1);
  assert.equal(rx.stats.delivered, 1);
  assert.deepEqual(drops.sort(), ['malformed', 'malformed', 'malformed', 'malformed', 'tooLarge']);
});

test('udp: a full queue drops new datagrams and counts them; close ends the iteration', async (t) => {
  const cleanup = new Cleanup(t);
  const { rx, tx } = await pair(cleanup, { maxQueued: 3 });
  for (let i = 0; i < 10; i++) await tx.publish('n', String(i));
  await waitFor(() => rx.stats.received === 10, 5000, 'datagrams in');
  assert.equal(rx.stats.delivered, 3);
  assert.equal(rx.stats.overflow, 7);
  const seen: string[] = [];
  setTimeout(() => rx.close(), 50);
  for await (const m of rx) seen.push(Buffer.from(m.payload).toString());
  assert.equal(seen.length, 3);
  assert.equal(await rx.next(), null);
  assert.equal(await rejectionCode(UdpReceiver.open('udp://127.0.0.1'), 1000), 'PLEXUS_ERR_INVALID_URL');
});

test('udp: binding a port in use fails with PLEXUS_ERR_CONFIG; udp:// in the table points to the datagram API', async (t) => {
  const cleanup = new Cleanup(t);
  const { rx } = await pair(cleanup);
  assert.equal(await rejectionCode(UdpReceiver.open(rx.url), 2000), 'PLEXUS_ERR_CONFIG');
  await assert.rejects(defaultTransports['udp:']!.dial(new URL(rx.url), {}), { code: 'PLEXUS_ERR_CONFIG' });
});

test('udp: several next() calls waiting at once each get a message', async (t) => {
  const cleanup = new Cleanup(t);
  const { rx, tx } = await pair(cleanup);
  const a = rx.next({ timeoutMs: 5000 });
  const b = rx.next({ timeoutMs: 5000 });
  await tx.publish('one', '1');
  await tx.publish('two', '2');
  const got = await within(Promise.all([a, b]), 5000, 'both waiters');
  assert.deepEqual(got.map((m) => m!.subject).sort(), ['one', 'two']);
});
