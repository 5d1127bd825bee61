import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { PlexusError } from '../../src/errors/index.js';
import {
  FramedTransport,
  connectionLost,
  inprocPair,
  listen,
  type ByteChannel,
  type ChannelHandlers,
  type Lane,
} from '../../src/transports/index.js';
import { Flag, FrameDecoder, FrameType, encodeFrame, type Frame, type FrameInit } from '../../src/wire/index.js';
import { FrameCollector, assertFramesMatch, pattern, sendAll, trafficPlan } from '../helpers/frames.js';
import { delay, waitFor, withTimeout } from '../helpers/timeout.js';
import { connectFramed, transportCases } from './cases.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * A ByteChannel wrapper that checks the framer honours backpressure: after a write
 * returns false, nothing more may be written until `drain`.
 */
class SpyChannel implements ByteChannel {
  writes = 0;
  bytes = 0;
  writesWhileBlocked = 0;
  ends = 0;
  private blocked = false;
  constructor(private readonly inner: ByteChannel) {}
  get info() {
    return this.inner.info;
  }
  write(chunk: Uint8Array): boolean {
    this.writes++;
    this.bytes += chunk.length;
    if (this.blocked) this.writesWhileBlocked++;
    const ok = this.inner.write(chunk);
    if (!ok) this.blocked = true;
    return ok;
  }
  end(): void {
    this.ends++;
    this.inner.end();
  }
  destroy(err?: Error): void {
    this.inner.destroy(err);
  }
  pause(): void {
    this.inner.pause();
  }
  resume(): void {
    this.inner.resume();
  }
  attach(handlers: ChannelHandlers): void {
    this.inner.attach({
      data: (c) => handlers.data(c),
      drain: () => {
        this.blocked = false;
        handlers.drain();
      },
      close: (e) => handlers.close(e),
    });
  }
}

interface InprocSetup {
  readonly sender: FramedTransport;
  readonly receiver: FramedTransport;
  readonly senderSink: FrameCollector;
  readonly receiverSink: FrameCollector;
  readonly spy: SpyChannel;
}

function inprocFramed(t: TestContext, senderOptions = {}, receiverOptions = {}): InprocSetup {
  const [a, b] = inprocPair('framed-test');
  const spy = new SpyChannel(a);
  const sender = new FramedTransport(spy, senderOptions);
  const receiver = new FramedTransport(b, receiverOptions);
  t.after(() => {
    sender.destroy();
    receiver.destroy();
  });
  const senderSink = new FrameCollector();
  const receiverSink = new FrameCollector();
  sender.start(senderSink);
  receiver.start(receiverSink);
  return { sender, receiver, senderSink, receiverSink, spy };
}

const BULK_SUBJECT = 'bulk';
const BULK_PAYLOAD = 16 * KiB;
/** Encoded size of one bulk frame below: header + subject + payload. */
const BULK_FRAME_BYTES = 20 + BULK_SUBJECT.length + BULK_PAYLOAD;

function bulkFrame(id: number): FrameInit {
  return { type: FrameType.PUB, id, subject: BULK_SUBJECT, payload: pattern(7, id, BULK_PAYLOAD) };
}

/**
 * Send bulk frames to a paused peer, yielding to the event loop between batches, until
 * at least `minPending` bytes are stuck in the sender (the channel pushed back).
 * Returns how many frames were sent.
 */
async function fillUntilPending(sender: FramedTransport, minPending: number, alreadySent = 0): Promise<number> {
  let sent = alreadySent;
  while (sender.pendingBytes < minPending) {
    if (sent * BULK_FRAME_BYTES > 96 * MiB) throw new Error(`sender never pushed back (pending ${sender.pendingBytes})`);
    for (let i = 0; i < 32; i++) sender.send(bulkFrame(sent++));
    await delay(1);
  }
  return sent;
}

/** Assert the bulk frames (ids 0..n-1) arrived complete and in order, ignoring others. */
function assertBulkInOrder(frames: readonly Frame[], n: number): void {
  const bulk = frames.filter((f) => f.subject === BULK_SUBJECT);
  assert.equal(bulk.length, n, 'bulk frame count');
  bulk.forEach((f, i) => {
    assert.equal(f.id, i, `bulk frame ${i} out of order`);
    assert.equal(f.payload.length, BULK_PAYLOAD);
  });
  // Spot-check contents.
  for (const i of [0, Math.floor(n / 2), n - 1]) {
    assert.ok(Buffer.from(bulk[i]!.payload).equals(Buffer.from(pattern(7, i, BULK_PAYLOAD))), `bulk frame ${i} payload`);
  }
}

/** Decode everything a raw channel received. */
function decodeAll(chunks: readonly Uint8Array[]): Frame[] {
  const frames: Frame[] = [];
  const dec = new FrameDecoder({ maxFrameBytes: 1 * MiB });
  for (const c of chunks) assert.equal(dec.push(c, { onFrame: (f) => frames.push(f) }), undefined);
  return frames;
}

/** Attach to the raw end of an inproc pair, recording data and closes. */
function rawEnd(ch: ByteChannel): { chunks: Uint8Array[]; closes: Array<Error | undefined>; closed: Promise<void> } {
  const chunks: Uint8Array[] = [];
  const closes: Array<Error | undefined> = [];
  let done!: () => void;
  const closed = new Promise<void>((resolve) => (done = resolve));
  ch.attach({
    data: (c) => chunks.push(c),
    drain: () => undefined,
    close: (e) => {
      closes.push(e);
      done();
    },
  });
  return { chunks, closes, closed };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

describe('FramedTransport over an inproc pair', { timeout: 20_000 }, () => {
  it('backpressure: pendingBytes grows and writable turns false past highWaterBytes; onDrain fires after resume', async (t) => {
    const { sender, receiver, senderSink, receiverSink, spy } = inprocFramed(t, { highWaterBytes: 64 * KiB });
    receiver.pause();
    assert.equal(sender.writable, true);
    const sent = await fillUntilPending(sender, 64 * KiB);
    assert.equal(sender.writable, false);
    assert.ok(sender.pendingBytes >= 64 * KiB);
    // The in-memory channel buffers 4 MiB before it pushes back; the rest waits in the framer.
    assert.ok(spy.bytes > 4 * MiB, `channel took ${spy.bytes} bytes`);
    assert.equal(spy.bytes + sender.pendingBytes, sent * BULK_FRAME_BYTES);

    // Nothing moves while the receiver is paused. (Drains before this point were the
    // queue crossing the mark between batches while the channel still took everything.)
    const pending = sender.pendingBytes;
    const drains = senderSink.drainCount;
    await delay(30);
    assert.equal(receiverSink.frames.length, 0);
    assert.equal(senderSink.drainCount, drains);
    assert.equal(sender.pendingBytes, pending);

    receiver.resume();
    await waitFor(() => senderSink.drainCount > drains, 5000, 'onDrain');
    assert.equal(sender.writable, true);
    await receiverSink.waitForFrames(sent, 5000);
    assertBulkInOrder(receiverSink.frames, sent);
    assert.equal(sender.pendingBytes, 0);
    assert.equal(senderSink.drainCount, drains + 1, 'one drain per trip above the high-water mark');
    assert.equal(spy.writesWhileBlocked, 0, 'no write after the channel returned false, before drain');
  });

  it('onDrain follows writable=false even when the queue empties without the channel pushing back', async (t) => {
    // A high-water mark below the framer's 64 KiB write size: small frames pile up past
    // it before the (microtask) flush, which then hands everything over at once.
    const { sender, senderSink, receiverSink } = inprocFramed(t, { highWaterBytes: 16 * KiB });
    let sent = 0;
    while (sender.writable) sender.send({ type: FrameType.PUB, id: sent++, subject: 's', payload: new Uint8Array(100) });
    assert.ok(sent > 100);
    await waitFor(() => senderSink.drainCount === 1, 2000, 'onDrain after writable went false');
    assert.equal(sender.writable, true);
    await receiverSink.waitForFrames(sent, 2000);
  });

  it('coalesces many small frames into few channel writes', async (t) => {
    const { sender, receiverSink, spy } = inprocFramed(t);
    const plan = trafficPlan(11, { tiny: 3000, bigBytes: 10 });
    sendAll(sender, plan);
    await receiverSink.waitForFrames(plan.length, 5000);
    assertFramesMatch(receiverSink.frames, plan);
    assert.ok(spy.writes < plan.length / 20, `${spy.writes} writes for ${plan.length} frames`);
  });

  for (const [label, init, lane] of [
    ['CANCEL', { type: FrameType.CANCEL, id: 424242 }, undefined],
    ['PING', { type: FrameType.PING, id: 424242 }, undefined],
    ['PRIORITY-flagged PUB', { type: FrameType.PUB, flags: Flag.PRIORITY, id: 424242, subject: 'urgent' }, undefined],
    ['PUB sent on the control lane explicitly', { type: FrameType.PUB, id: 424242, subject: 'urgent' }, 'control'],
  ] as Array<[string, FrameInit, Lane | undefined]>) {
    it(`control lane: a ${label} overtakes every bulk frame still queued in the sender`, async (t) => {
      const { sender, receiver, receiverSink, spy } = inprocFramed(t);
      receiver.pause();
      const sent = await fillUntilPending(sender, 1 * MiB);
      const pendingAtSend = sender.pendingBytes;
      assert.equal(pendingAtSend % BULK_FRAME_BYTES, 0, 'lanes hold whole frames');
      const handedToChannel = sent - pendingAtSend / BULK_FRAME_BYTES;
      sender.send(init, lane);
      // ...and more bulk after it, which must stay behind it.
      for (let i = 0; i < 10; i++) sender.send(bulkFrame(sent + i));
      receiver.resume();
      await receiverSink.waitForFrames(sent + 11, 5000);
      const pos = receiverSink.frames.findIndex((f) => f.id === 424242);
      assert.ok(pos >= 0, 'control frame arrived');
      assert.ok(pos <= handedToChannel, `control frame at ${pos}, but ${handedToChannel} bulk frames had left the sender before it`);
      // Exactly: right behind what the channel had already taken.
      assert.equal(pos, handedToChannel);
      assert.equal(receiverSink.frames[pos]!.type, init.type);
      assert.equal(receiverSink.frames[pos]!.flags, init.flags ?? 0);
      assertBulkInOrder(receiverSink.frames, sent + 10);
      assert.equal(spy.writesWhileBlocked, 0);
    });
  }

  it('a PING sent on the bulk lane stays behind the data before it (a flush marker)', async (t) => {
    const { sender, receiver, receiverSink } = inprocFramed(t);
    receiver.pause();
    const sent = await fillUntilPending(sender, 1 * MiB);
    sender.send({ type: FrameType.PING, id: 424242 }, 'bulk');
    receiver.resume();
    await receiverSink.waitForFrames(sent + 1, 5000);
    assert.equal(receiverSink.frames.at(-1)!.type, FrameType.PING);
    assertBulkInOrder(receiverSink.frames, sent);
  });

  it('sendEncoded queues pre-encoded frames on either lane', async (t) => {
    const { sender, receiver, receiverSink } = inprocFramed(t);
    receiver.pause();
    const sent = await fillUntilPending(sender, 1 * MiB);
    const two = concat(encodeFrame({ type: FrameType.PUB, id: 900001, subject: 'enc' }), encodeFrame({ type: FrameType.PUB, id: 900002, subject: 'enc' }));
    sender.sendEncoded(encodeFrame({ type: FrameType.CANCEL, id: 900000 }), 'control');
    sender.sendEncoded(two);
    receiver.resume();
    await receiverSink.waitForFrames(sent + 3, 5000);
    const ids = receiverSink.frames.map((f) => f.id);
    assert.ok(ids.indexOf(900000) < sent, 'encoded CANCEL overtook queued bulk');
    assert.deepEqual(ids.slice(-2), [900001, 900002], 'encoded bulk frames stay last, in order');
  });

  it('close() flushes everything queued, then both sides close once', async (t) => {
    const { sender, senderSink, receiverSink, spy } = inprocFramed(t);
    const frames = Math.ceil((12 * MiB) / BULK_FRAME_BYTES);
    for (let i = 0; i < frames; i++) sender.send(bulkFrame(i));
    assert.ok(sender.pendingBytes > 4 * MiB, 'most of it is still queued in the sender');
    sender.close();
    assert.equal(sender.isClosed, true);
    sender.send(bulkFrame(99999)); // ignored after close()
    assert.equal(await receiverSink.waitClosed(5000), undefined);
    assert.equal(await senderSink.waitClosed(5000), undefined);
    assertBulkInOrder(receiverSink.frames, frames);
    await delay(20);
    assert.equal(spy.ends, 1, 'the channel is ended once');
    assert.equal(spy.writesWhileBlocked, 0);
    assert.equal(senderSink.closeCount, 1);
    assert.equal(receiverSink.closeCount, 1);
  });

  it('close() gives up after closeTimeoutMs when the peer never reads', async (t) => {
    const { sender, receiver, senderSink, receiverSink } = inprocFramed(t, { closeTimeoutMs: 100 });
    receiver.pause();
    await fillUntilPending(sender, 1 * MiB);
    const started = Date.now();
    sender.close();
    await senderSink.waitClosed(2000, 'sender close after timeout');
    await receiverSink.waitClosed(2000, 'receiver close after timeout');
    const took = Date.now() - started;
    assert.ok(took >= 90 && took < 1500, `closed after ${took} ms`);
    assert.equal(sender.pendingBytes, 0, 'queued bytes are dropped once closed');
  });

  it('fail() sends the error as an ERR frame, then closes; the local onClose gets the error', async (t) => {
    const { sender, senderSink, receiverSink } = inprocFramed(t);
    const err = new PlexusError('PLEXUS_ERR_SLOW_CONSUMER', 'you are too slow', { details: { pending: 5 } });
    sender.fail(err);
    assert.equal(await senderSink.waitClosed(3000), err);
    assert.equal(await receiverSink.waitClosed(3000), undefined);
    assert.equal(receiverSink.frames.length, 1);
    const f = receiverSink.frames[0]!;
    assert.equal(f.type, FrameType.ERR);
    assert.deepEqual(JSON.parse(Buffer.from(f.payload).toString('utf8')), {
      code: 'PLEXUS_ERR_SLOW_CONSUMER',
      message: 'you are too slow',
      details: { pending: 5 },
    });
  });

  it('destroy(err) closes at once with that error locally and cleanly on the peer', async (t) => {
    const { sender, senderSink, receiverSink } = inprocFramed(t);
    const err = connectionLost(new Error('gone'));
    assert.equal(err.code, 'PLEXUS_ERR_CONNECTION_LOST');
    sender.destroy(err);
    assert.equal(await senderSink.waitClosed(3000), err);
    await receiverSink.waitClosed(3000);
    sender.destroy(err); // idempotent
    await delay(20);
    assert.equal(senderSink.closeCount, 1);
  });

  it('frames split at every possible boundary are reassembled', async (t) => {
    const [raw, b] = inprocPair();
    const receiver = new FramedTransport(b);
    t.after(() => receiver.destroy());
    const sink = new FrameCollector();
    receiver.start(sink);
    rawEnd(raw);
    const plan = trafficPlan(12, { tiny: 200, bigBytes: 3000 });
    const bytes = concat(...plan.map((f) => encodeFrame(f)));
    // Chunk sizes 1, 2, 3, ... cycling up to 29, so every offset inside a header is cut somewhere.
    for (let o = 0, n = 1; o < bytes.length; o += n, n = (n % 29) + 1) raw.write(bytes.slice(o, o + n));
    await sink.waitForFrames(plan.length, 5000);
    assertFramesMatch(sink.frames, plan);
    assert.equal(receiver.bytesIn, bytes.length);
  });

  describe('malformed input from the peer', () => {
    async function feedBad(t: TestContext, bytes: Uint8Array, maxFrameBytes?: number) {
      const [raw, b] = inprocPair();
      const receiver = new FramedTransport(b, maxFrameBytes === undefined ? {} : { maxFrameBytes });
      t.after(() => receiver.destroy());
      const sink = new FrameCollector();
      receiver.start(sink);
      const peer = rawEnd(raw);
      raw.write(bytes);
      const err = await sink.waitClosed(3000, 'receiver close');
      await withTimeout(peer.closed, 3000, 'peer close');
      const replies = decodeAll(peer.chunks);
      return { err, sink, replies, peer };
    }

    function assertErrReply(replies: Frame[], code: string): void {
      assert.equal(replies.length, 1, 'exactly one reply frame');
      assert.equal(replies[0]!.type, FrameType.ERR);
      const wire = JSON.parse(Buffer.from(replies[0]!.payload).toString('utf8')) as { code: string; message: string };
      assert.equal(wire.code, code);
      assert.equal(typeof wire.message, 'string');
    }

    it('an unknown frame type: ERR with PLEXUS_ERR_UNKNOWN_FRAME_TYPE, and the connection closes', async (t) => {
      const bad = encodeFrame({ type: FrameType.PUB, subject: 'bad' });
      bad[4] = 0x7f;
      const good = encodeFrame({ type: FrameType.PUB, subject: 'good' });
      const { err, sink, replies, peer } = await feedBad(t, concat(good, bad, good));
      assert.equal((err as PlexusError).code, 'PLEXUS_ERR_UNKNOWN_FRAME_TYPE');
      assert.deepEqual(sink.frames.map((f) => f.subject), ['good'], 'frames before the bad one are delivered, none after');
      assertErrReply(replies, 'PLEXUS_ERR_UNKNOWN_FRAME_TYPE');
      assert.equal(peer.closes.length, 1);
      await delay(20);
      assert.equal(sink.closeCount, 1);
    });

    it('an oversize length prefix: PLEXUS_ERR_FRAME_TOO_LARGE before anything is buffered', async (t) => {
      const { err, replies } = await feedBad(t, new Uint8Array([0xff, 0xff, 0xff, 0xf0, 0x03, 0x00]));
      assert.equal((err as PlexusError).code, 'PLEXUS_ERR_FRAME_TOO_LARGE');
      assertErrReply(replies, 'PLEXUS_ERR_FRAME_TOO_LARGE');
    });

    it('maxFrameBytes is the limit: a frame of exactly that size passes, one byte more fails', async (t) => {
      const fits = encodeFrame({ type: FrameType.PUB, subject: 's', payload: new Uint8Array(1000 - 21) });
      assert.equal(fits.length, 1000);
      const tooBig = encodeFrame({ type: FrameType.PUB, subject: 's', payload: new Uint8Array(1000 - 20) });
      const { err, sink, replies } = await feedBad(t, concat(fits, tooBig), 1000);
      assert.equal(sink.frames.length, 1);
      assert.equal((err as PlexusError).code, 'PLEXUS_ERR_FRAME_TOO_LARGE');
      assertErrReply(replies, 'PLEXUS_ERR_FRAME_TOO_LARGE');
    });

    it('the default limit admits a 1 MiB payload with full-size subject and headers fields', async (t) => {
      const { sender, receiverSink } = inprocFramed(t);
      const big = { type: FrameType.PUB, subject: 'x'.repeat(0xffff), reply: 'r'.repeat(0xffff), payload: new Uint8Array(MiB) };
      sender.send(big);
      await receiverSink.waitForFrames(1, 3000);
      assert.equal(receiverSink.frames[0]!.payload.length, MiB);
    });

    it('a length below the fixed header: PLEXUS_ERR_MALFORMED_FRAME', async (t) => {
      const { err, replies } = await feedBad(t, new Uint8Array([0, 0, 0, 3, 1, 2, 3]));
      assert.equal((err as PlexusError).code, 'PLEXUS_ERR_MALFORMED_FRAME');
      assertErrReply(replies, 'PLEXUS_ERR_MALFORMED_FRAME');
    });

    it('unknown flag bits: PLEXUS_ERR_MALFORMED_FRAME', async (t) => {
      const bad = encodeFrame({ type: FrameType.PUB, subject: 'x' });
      bad[5] = 0x80;
      const { err, replies } = await feedBad(t, bad);
      assert.equal((err as PlexusError).code, 'PLEXUS_ERR_MALFORMED_FRAME');
      assertErrReply(replies, 'PLEXUS_ERR_MALFORMED_FRAME');
    });
  });
});

describe('FramedTransport over every transport', { timeout: 30_000 }, () => {
  for (const tc of transportCases) {
    it(`${tc.name}: backpressure and the control lane across a paused peer`, async (t) => {
      const ep = await tc.endpoint(t);
      const { client, server, clientSink, serverSink } = await connectFramed(t, ep, { highWaterBytes: 64 * KiB });
      server.pause();
      // Socket buffers (kernel, TLS) keep absorbing for a while after the first push-back:
      // fill until the framer's queue stops shrinking.
      let sent = 0;
      for (;;) {
        sent = await fillUntilPending(client, 256 * KiB, sent);
        const pending = client.pendingBytes;
        await delay(50);
        if (client.pendingBytes === pending) break;
      }
      assert.equal(client.writable, false);
      const handedToChannel = sent - client.pendingBytes / BULK_FRAME_BYTES;
      client.send({ type: FrameType.CANCEL, id: 424242 });
      const drains = clientSink.drainCount;
      await delay(30);
      assert.equal(clientSink.drainCount, drains, 'no drain while the peer is paused');
      server.resume();
      await serverSink.waitForFrames(sent + 1, 10_000);
      await waitFor(() => clientSink.drainCount > drains, 3000, 'onDrain');
      assert.equal(client.writable, true);
      const pos = serverSink.frames.findIndex((f) => f.id === 424242);
      assert.ok(pos >= 0 && pos <= handedToChannel, `CANCEL at ${pos}; ${handedToChannel} bulk frames had left the sender before it`);
      assertBulkInOrder(serverSink.frames, sent);
    });
  }
});

describe('a protocol error costs only its own connection', { timeout: 20_000 }, () => {
  it('over TCP: the bad client gets ERR and is closed; another client carries on', async (t) => {
    const servers: FramedTransport[] = [];
    const sinks: FrameCollector[] = [];
    const listener = await listen('tcp://127.0.0.1:0', {}, (ch) => {
      const s = new FramedTransport(ch);
      const sink = new FrameCollector();
      s.start(sink);
      // Echo, so the good client can see the server is still there.
      sink.onEach = (f) => s.send({ type: FrameType.MSG, id: f.id, subject: f.subject, payload: f.payload });
      servers.push(s);
      sinks.push(sink);
    });
    t.after(async () => {
      servers.forEach((s) => s.destroy());
      await withTimeout(listener.close(), 3000, 'listener.close()');
    });
    const { port } = new URL(listener.url);

    const goodSock = net.connect(Number(port), '127.0.0.1');
    const badSock = net.connect(Number(port), '127.0.0.1');
    t.after(() => {
      goodSock.destroy();
      badSock.destroy();
    });
    await Promise.all([goodSock, badSock].map((s) => withTimeout(new Promise((r) => s.once('connect', r)), 3000, 'connect')));
    await waitFor(() => servers.length === 2, 3000, 'two accepted');

    const badChunks: Buffer[] = [];
    badSock.on('data', (c: Buffer) => badChunks.push(c));
    const badClosed = new Promise((r) => badSock.once('close', r));
    const bad = encodeFrame({ type: FrameType.PUB, subject: 'x' });
    bad[4] = 0xee;
    badSock.write(bad);
    await withTimeout(badClosed, 3000, 'bad client closed');
    const replies = decodeAll(badChunks);
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.type, FrameType.ERR);
    assert.equal((JSON.parse(Buffer.from(replies[0]!.payload).toString()) as { code: string }).code, 'PLEXUS_ERR_UNKNOWN_FRAME_TYPE');

    const goodChunks: Buffer[] = [];
    goodSock.on('data', (c: Buffer) => goodChunks.push(c));
    goodSock.write(encodeFrame({ type: FrameType.PUB, id: 5, subject: 'still.fine' }));
    await waitFor(() => decodeAll(goodChunks).length === 1, 3000, 'echo on the good connection');
    assert.equal(decodeAll(goodChunks)[0]!.subject, 'still.fine');

    const closedCodes = sinks.map((s) => (s.closeError as PlexusError | undefined)?.code);
    assert.equal(sinks.filter((s) => s.closeCount === 1).length, 1, 'exactly one server-side connection closed');
    assert.ok(closedCodes.includes('PLEXUS_ERR_UNKNOWN_FRAME_TYPE'));
  });
});
