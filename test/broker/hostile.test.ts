import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../src/errors/index.js';
import { FrameType, PROTOCOL_VERSION, encodeFrame } from '../../src/wire/index.js';
import { Cleanup, startTestBroker, type TestBroker } from '../helpers/plexus.js';
import { RawClient, json } from '../helpers/raw.js';
import { sleep, waitFor, within } from '../helpers/wait.js';

/** A frame with every field under the caller's control, bypassing the encoder's checks. */
function rawFrame(type: number, body: Uint8Array = new Uint8Array(0), patch?: (b: Uint8Array) => void): Uint8Array {
  const f = encodeFrame({ type: FrameType.PUB, subject: 'x', payload: body });
  f[4] = type;
  patch?.(f);
  return f;
}

const HELLO = encodeFrame({ type: FrameType.HELLO, payload: json({ version: PROTOCOL_VERSION }) });

interface Case {
  readonly name: string;
  /** Bytes to send (each entry written separately). */
  readonly send: () => Uint8Array[];
  /** The ERR code due, or undefined when the broker just closes. */
  readonly code: string | undefined;
  /** Whether the broker must close the connection (else it must keep it open). */
  readonly closes: boolean;
  /** Close our end after sending (truncation cases). */
  readonly hangUp?: boolean;
}

const u32 = (n: number): Uint8Array => new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

const cases: Case[] = [
  { name: 'an HTTP request (garbage bytes)', send: () => [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')], code: ErrorCode.FRAME_TOO_LARGE, closes: true },
  { name: 'all-zero bytes', send: () => [new Uint8Array(64)], code: ErrorCode.MALFORMED_FRAME, closes: true },
  { name: 'a length prefix of 2^32-1', send: () => [u32(0xffffffff), new Uint8Array(16)], code: ErrorCode.FRAME_TOO_LARGE, closes: true },
  { name: 'an unknown frame type', send: () => [rawFrame(0x7f)], code: ErrorCode.UNKNOWN_FRAME_TYPE, closes: true },
  { name: 'unknown flag bits', send: () => [rawFrame(FrameType.HELLO, json({ version: 1 }), (b) => (b[5] = 0x80))], code: ErrorCode.MALFORMED_FRAME, closes: true },
  {
    name: 'field lengths that overrun the frame',
    send: () => [rawFrame(FrameType.HELLO, json({ version: 1 }), (b) => (b[18] = 0xff))],
    code: ErrorCode.MALFORMED_FRAME,
    closes: true,
  },
  {
    name: 'a subject that is not UTF-8',
    send: () => [HELLO, rawFrame(FrameType.PUB, new Uint8Array(0), (b) => (b[20] = 0xff))],
    code: ErrorCode.MALFORMED_FRAME,
    closes: true,
  },
  { name: 'PUB before HELLO', send: () => [encodeFrame({ type: FrameType.PUB, subject: 'a', payload: Buffer.from('x') })], code: ErrorCode.PROTOCOL, closes: true },
  { name: 'HELLO with invalid JSON', send: () => [encodeFrame({ type: FrameType.HELLO, payload: Buffer.from('{"version":') })], code: ErrorCode.PROTOCOL, closes: true },
  { name: 'HELLO with a JSON array', send: () => [encodeFrame({ type: FrameType.HELLO, payload: json([1]) })], code: ErrorCode.PROTOCOL, closes: true },
  { name: 'HELLO with version 0', send: () => [encodeFrame({ type: FrameType.HELLO, payload: json({ version: 0 }) })], code: ErrorCode.VERSION_MISMATCH, closes: true },
  { name: 'HELLO without a version', send: () => [encodeFrame({ type: FrameType.HELLO, payload: json({ name: 'x' }) })], code: ErrorCode.VERSION_MISMATCH, closes: true },
  { name: 'a second HELLO', send: () => [HELLO, HELLO], code: ErrorCode.PROTOCOL, closes: true },
  { name: 'a WELCOME from the client', send: () => [HELLO, encodeFrame({ type: FrameType.WELCOME })], code: ErrorCode.PROTOCOL, closes: true },
  {
    name: 'a malformed header block',
    send: () => [HELLO, encodeFrame({ type: FrameType.PUB, subject: 'a', headers: new Uint8Array([0, 5, 0, 1]) })],
    code: ErrorCode.MALFORMED_FRAME,
    closes: true,
  },
  // Refused frames that do not end the connection.
  { name: 'PUB to a wildcard subject', send: () => [HELLO, encodeFrame({ type: FrameType.PUB, subject: 'a.*' })], code: ErrorCode.INVALID_SUBJECT, closes: false },
  { name: 'a request without a reply subject', send: () => [HELLO, encodeFrame({ type: FrameType.PUB, flags: 0x02, subject: 'a' })], code: ErrorCode.PROTOCOL, closes: false },
  { name: 'SUB with id 0', send: () => [HELLO, encodeFrame({ type: FrameType.SUB, id: 0, subject: 'a' })], code: ErrorCode.PROTOCOL, closes: false },
  {
    name: 'SUB with a duplicate id',
    send: () => [HELLO, encodeFrame({ type: FrameType.SUB, id: 5, subject: 'a' }), encodeFrame({ type: FrameType.SUB, id: 5, subject: 'b' })],
    code: ErrorCode.PROTOCOL,
    closes: false,
  },
  { name: 'UNSUB of an unknown id', send: () => [HELLO, encodeFrame({ type: FrameType.UNSUB, id: 77 })], code: undefined, closes: false },
  // Truncation: the broker must just clean up.
  { name: 'half a length prefix, then hang up', send: () => [new Uint8Array([0, 0])], code: undefined, closes: true, hangUp: true },
  { name: 'a truncated HELLO, then hang up', send: () => [HELLO.subarray(0, HELLO.length - 3)], code: undefined, closes: true, hangUp: true },
  {
    name: 'a truncated PUB after HELLO, then hang up',
    send: () => [HELLO, encodeFrame({ type: FrameType.PUB, subject: 'a', payload: new Uint8Array(1000) }).subarray(0, 500)],
    code: undefined,
    closes: true,
    hangUp: true,
  },
];

/** A well-behaved client doing a request/reply round trip on the same broker. */
async function stillWorks(b: TestBroker, tag: string): Promise<void> {
  const conn = await b.connect({ name: `good-${tag}` });
  const reply = await within(conn.request('svc.echo', tag, { timeout: 3000 }), 4000, `round trip after ${tag}`);
  assert.equal(reply.string(), tag);
  await conn.close();
}

describe('hostile input', { timeout: 40_000 }, () => {
  it('each bad input gets the right coded ERR and costs only its own connection', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { maxPayloadBytes: 64 * 1024, authTimeoutMs: 2000 });
    // A long-lived good client serving requests throughout.
    const svc = await b.connect({ name: 'svc' });
    svc.serve('svc.echo', (m) => m.data);
    const sub = svc.subscribe('heartbeat.>');
    await svc.flush();
    let beats = 0;

    for (const k of cases) {
      const raw = await RawClient.connect(c, b.url);
      for (const bytes of k.send()) raw.write(bytes);
      if (k.hangUp) raw.socket.end();
      if (k.closes) {
        await raw.waitClosed(3000, `${k.name}: close`);
      } else {
        // Prove the connection is still served: PING must come back as PONG.
        raw.send({ type: FrameType.PING, id: 4242 });
        await raw.waitFrame((f) => f.type === FrameType.PONG && f.id === 4242, 3000, `${k.name}: PONG`);
        assert.equal(raw.isClosed, false, `${k.name}: must stay open`);
      }
      const codes = raw.errors.map((e) => e.code);
      if (k.code === undefined) assert.deepEqual(codes, [], `${k.name}: no ERR expected`);
      else assert.equal(codes[0], k.code, `${k.name}: got ${codes.join(',') || 'no ERR'}`);
      raw.socket.destroy();
      // The good client still works after every case.
      svc.publish(`heartbeat.${beats++}`, k.name);
      await within(sub.next(), 3000, `${k.name}: good client`);
      await stillWorks(b, k.name);
    }
    assert.equal(svc.status, 'open');
    await waitFor(() => b.broker.status().connections === 1, 3000, 'only the good client left');
    // Every connection closed for bad input is counted, decode errors included.
    assert.equal(b.broker.status().counters.protocolErrors, cases.filter((k) => k.closes && k.code !== undefined).length);
  });

  it('a flood of SUBs past the limit: one ERR per extra SUB, the connection and the broker stay up', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { maxSubscriptionsPerConnection: 50 });
    const svc = await b.connect();
    svc.serve('svc.echo', (m) => m.data);
    await svc.flush();
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    const N = 2000;
    const batch: Uint8Array[] = [];
    for (let i = 1; i <= N; i++) batch.push(encodeFrame({ type: FrameType.SUB, id: i, subject: `flood.${i}` }));
    raw.write(Buffer.concat(batch));
    raw.send({ type: FrameType.PING, id: 1 });
    await raw.waitFrame((f) => f.type === FrameType.PONG, 5000, 'PONG after the flood');
    const errs = raw.errors;
    assert.equal(errs.length, N - 50);
    assert.ok(errs.every((e) => e.code === ErrorCode.MAX_SUBSCRIPTIONS));
    assert.equal(errs[0]!.id, 51);
    assert.equal(raw.isClosed, false);
    assert.equal(b.broker.status().clients.find((x) => x.subscriptions === 50) !== undefined, true);
    await stillWorks(b, 'flood');
  });

  it('a flood of garbage connections (bounded) leaves the broker serving', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const svc = await b.connect();
    svc.serve('svc.echo', (m) => m.data);
    await svc.flush();
    const raws = await Promise.all(Array.from({ length: 30 }, () => RawClient.connect(c, b.url)));
    raws.forEach((r, i) => r.write(Buffer.from(`\x00\x00\x00\x14garbage-${i}-${'x'.repeat(20 + i)}`)));
    await Promise.all(raws.map((r, i) => r.waitClosed(5000, `garbage #${i}`)));
    await stillWorks(b, 'garbage flood');
    await waitFor(() => b.broker.status().clients.length === 1, 3000, 'garbage sessions cleaned up');
  });

  for (const flood of ['PINGs', 'refused PUBs'] as const) {
    it(`a client flooding ${flood} without reading the answers is cut off at the hard cap`, async (t) => {
      const c = new Cleanup(t);
      const maxPendingBytes = 64 * 1024;
      const b = await startTestBroker(c, { via: 'unix', maxPendingBytes });
      const svc = await b.connect();
      svc.serve('svc.echo', (m) => m.data);
      await svc.flush();
      const raw = await RawClient.connect(c, b.url);
      await raw.hello({ name: 'flooder' });
      raw.socket.pause();
      const frame =
        flood === 'PINGs'
          ? encodeFrame({ type: FrameType.PING, id: 1 })
          : encodeFrame({ type: FrameType.PUB, subject: `${'x'.repeat(900)}.*`, payload: new Uint8Array(0) });
      const chunk = Buffer.concat(Array.from({ length: Math.ceil(64 * 1024 / frame.length) }, () => frame));
      const flooder = () => b.broker.status().clients.find((x) => x.name === 'flooder');
      let maxSeen = 0;
      // Bounded: at most ~64 MiB of requests for answers.
      for (let i = 0; i < 1000 && flooder() !== undefined && !raw.socket.destroyed; i++) {
        raw.write(chunk);
        maxSeen = Math.max(maxSeen, flooder()?.pendingBytes ?? 0);
        if (i % 8 === 7) await sleep(1);
      }
      await waitFor(() => flooder() === undefined, 5000, 'the flooder disconnected');
      assert.ok(maxSeen <= 4 * maxPendingBytes + 256 * 1024, `broker queued ${maxSeen} bytes of answers`);
      assert.ok(b.broker.status().counters.slowConsumers >= 1);
      await stillWorks(b, `after a ${flood} flood`);
    });
  }
});
