import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../src/client/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { FrameType } from '../../src/wire/index.js';
import { Cleanup, startTestBroker, type TestBroker } from '../helpers/plexus.js';
import { RawClient } from '../helpers/raw.js';
import { sleep, waitFor, within } from '../helpers/wait.js';

/** A raw subscriber on `subject` that stops reading its socket at once. */
async function stalledSubscriber(c: Cleanup, b: TestBroker, subject: string): Promise<RawClient> {
  const raw = await RawClient.connect(c, b.url);
  await raw.hello({ name: 'stalled' });
  raw.send({ type: FrameType.SUB, id: 9, subject });
  raw.send({ type: FrameType.PING, id: 1 });
  await raw.waitFrame((f) => f.type === FrameType.PONG, 3000, 'SUB processed');
  raw.socket.pause();
  return raw;
}

/** Advisories published on $SYS.ADVISORY.SLOW_CONSUMER, collected by a normal client. */
async function advisories(b: TestBroker): Promise<Record<string, unknown>[]> {
  const watcher = await b.connect({ name: 'watcher' });
  const got: Record<string, unknown>[] = [];
  watcher.subscribe('$SYS.ADVISORY.SLOW_CONSUMER', {
    callback: (m: Message) => {
      assert.equal(m.from, '$SYS');
      got.push(m.json());
    },
  });
  await watcher.flush();
  return got;
}

const MSGS = (raw: RawClient): number => raw.frames.filter((f) => f.type === FrameType.MSG).length;

describe('slow consumers', { timeout: 30_000 }, () => {
  it('disconnect: a subscriber that never reads is dropped and an advisory is published', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix', slowConsumer: 'disconnect', maxPendingBytes: 64 * 1024 });
    const adv = await advisories(b);
    const raw = await stalledSubscriber(c, b, 'firehose');
    const pub = await b.connect({ name: 'publisher' });
    const chunk = new Uint8Array(16 * 1024);
    for (let i = 0; i < 2000 && !raw.isClosed && adv.length === 0; i++) {
      pub.publish('firehose', chunk);
      if (i % 32 === 31) await pub.flush();
    }
    await waitFor(() => adv.length > 0, 5000, 'slow-consumer advisory');
    assert.equal(adv[0]!['policy'], 'disconnect');
    assert.equal(adv[0]!['kind'], 'SLOW_CONSUMER');
    assert.match(String(adv[0]!['connId']), /-\d+$/);
    raw.socket.resume();
    await raw.waitClosed(5000, 'slow consumer disconnected');
    assert.ok(raw.errors.some((e) => e.code === ErrorCode.SLOW_CONSUMER), `got ${raw.describe().slice(-80)}`);
    assert.ok(b.broker.status().counters.slowConsumers >= 1);
    // The publisher was not harmed.
    assert.equal(pub.status, 'open');
    await within(pub.flush(), 3000, 'publisher flush');
  });

  it('block: the publisher is held back, and nothing is lost once the consumer reads', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix', slowConsumer: 'block', maxPendingBytes: 64 * 1024 });
    const adv = await advisories(b);
    const raw = await stalledSubscriber(c, b, 'stream');
    const pub = await b.connect({ name: 'publisher' });
    const N = 3000;
    const body = new Uint8Array(1024);
    for (let i = 0; i < N; i++) {
      const view = new DataView(body.buffer);
      view.setUint32(0, i);
      pub.publish('stream', body.slice());
    }
    const pubConn = pub.server!.connId;
    const pubStatus = () => b.broker.status().clients.find((x) => x.connId === pubConn)!;
    // The broker stops reading from the publisher: its count of received messages stalls.
    await waitFor(() => adv.length > 0, 5000, 'slow-consumer advisory');
    await sleep(100);
    const held = pubStatus().msgsIn;
    assert.ok(held < N, `the publisher was not held back (${held} of ${N} read)`);
    await sleep(100);
    assert.equal(pubStatus().msgsIn, held, 'no progress while the consumer is stalled');
    assert.equal(adv[0]!['policy'], 'block');

    raw.socket.resume();
    await waitFor(() => MSGS(raw) >= N, 10_000, `all ${N} messages (have ${MSGS(raw)})`);
    const seq = raw.frames.filter((f) => f.type === FrameType.MSG).map((f) => new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(0));
    assert.deepEqual(seq, Array.from({ length: N }, (_, i) => i), 'every message, in order');
    assert.equal(raw.isClosed, false);
    assert.equal(b.broker.status().counters.droppedMsgs, 0);
    await within(pub.flush(), 3000, 'publisher flush');
  });

  it('block with a tiny maxPendingBytes does not wedge the publisher of a fast consumer', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { slowConsumer: 'block', maxPendingBytes: 4096 });
    const consumer = await b.connect();
    let got = 0;
    consumer.subscribe('quick', { callback: () => got++ });
    await consumer.flush();
    const pub = await b.connect();
    const N = 2000;
    for (let i = 0; i < N; i++) pub.publish('quick', new Uint8Array(512));
    await waitFor(() => got === N, 8000, `all ${N} delivered (have ${got})`);
    await within(pub.flush(), 3000, 'publisher flush');
  });

  it('drop: messages for a stalled consumer are dropped and counted in status()', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix', slowConsumer: 'drop', maxPendingBytes: 32 * 1024, writeDeadlineMs: 20_000 });
    const adv = await advisories(b);
    const raw = await stalledSubscriber(c, b, 'lossy');
    const rawConn = () => b.broker.status().clients.find((x) => x.name === 'stalled');
    const pub = await b.connect();
    const N = 2000;
    for (let i = 0; i < N; i++) {
      pub.publish('lossy', new Uint8Array(4096));
      if (i % 64 === 63) await pub.flush();
    }
    await within(pub.flush(), 5000, 'publisher flush');
    const status = b.broker.status();
    assert.ok(status.counters.droppedMsgs > 0, 'drops counted');
    assert.equal(rawConn()!.dropped, status.counters.droppedMsgs);
    assert.equal(adv[0]?.['policy'], 'drop');
    raw.socket.resume();
    await waitFor(() => MSGS(raw) + status.counters.droppedMsgs >= N, 5000, 'everything not dropped arrives');
    assert.equal(MSGS(raw) + status.counters.droppedMsgs, N);
    assert.equal(raw.isClosed, false);
  });

  it('a stalled subscriber to > (which also matches the advisories) does not take the broker down', async (t) => {
    const c = new Cleanup(t);
    for (const policy of ['drop', 'block', 'disconnect'] as const) {
      const b = await startTestBroker(c, { via: 'unix', slowConsumer: policy, maxPendingBytes: 16 * 1024, writeDeadlineMs: 20_000 });
      const raw = await stalledSubscriber(c, b, '>');
      const pub = await b.connect();
      for (let i = 0; i < 500 && !raw.isClosed; i++) {
        pub.publish(`any.${i}`, new Uint8Array(8 * 1024));
        if (policy !== 'block' && i % 32 === 31) await pub.flush();
      }
      await waitFor(() => b.broker.status().counters.slowConsumers > 0, 5000, `${policy}: slow consumer noticed`);
      // The broker is alive and serving others.
      const other = await b.connect();
      const sub = other.subscribe('still.alive');
      await other.flush();
      other.publish('still.alive', policy);
      const first = await within(sub.next(), 3000, `${policy}: broker still routes`);
      assert.equal(first.value!.string(), policy);
      raw.socket.destroy();
    }
  });
});

describe('slow consumers and liveness', { timeout: 30_000 }, () => {
  it('a publisher held back by `block` is not dropped by heartbeats (the broker keeps pinging it)', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix', slowConsumer: 'block', maxPendingBytes: 64 * 1024, heartbeatMs: 40, writeDeadlineMs: 20_000 });
    const raw = await stalledSubscriber(c, b, 'held');
    // The stalled raw socket would itself be dropped for silence; keep it "alive" by
    // answering nothing but sending PINGs on a timer (writes still work while we do not read).
    const keepAlive = setInterval(() => raw.send({ type: FrameType.PING, id: 0 }), 20);
    c.defer(() => clearInterval(keepAlive));
    const pub = await b.connect({ name: 'held-publisher' });
    const statuses: string[] = [];
    pub.on('status', (s) => statuses.push(s));
    for (let i = 0; i < 2000; i++) pub.publish('held', new Uint8Array(1024));
    const held = () => b.broker.status().clients.find((x) => x.name === 'held-publisher')?.msgsIn ?? 0;
    await waitFor(() => held() > 0, 3000, 'publisher started');
    await sleep(400); // ten heartbeat intervals while held back
    assert.ok(held() < 2000, 'the publisher is held back');
    assert.deepEqual(statuses, [], 'the held publisher kept its connection');
    assert.equal(b.broker.status().counters.heartbeatTimeouts, 0);
    raw.socket.resume();
    await waitFor(() => held() === 2000, 5000, 'publisher released');
  });

  it('a silent client (no traffic, no PONG) is dropped with PLEXUS_ERR_HEARTBEAT_TIMEOUT', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { heartbeatMs: 30 });
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    await raw.waitClosed(3000, 'silent client dropped');
    assert.ok(raw.frames.some((f) => f.type === FrameType.PING), 'it was pinged first');
    assert.equal(raw.errors.at(-1)?.code, ErrorCode.HEARTBEAT_TIMEOUT);
    assert.equal(b.broker.status().counters.heartbeatTimeouts, 1);
    // A real client answers the pings and stays.
    const conn = await b.connect();
    await sleep(200);
    assert.equal(conn.status, 'open');
  });
});
