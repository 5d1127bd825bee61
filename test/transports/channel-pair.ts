/**
 * Shared checks for the worker: and shm:// channel tests: a connected pair of byte
 * channels wrapped in FramedTransport, traffic both ways, backpressure, and close.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { FramedTransport, type ByteChannel } from '../../src/transports/index.js';
import { FrameType } from '../../src/wire/index.js';
import { FrameCollector, assertFramesMatch, pattern, sendAll, trafficPlan } from '../helpers/frames.js';
import { delay, waitFor } from '../helpers/timeout.js';

export interface FramedEnds {
  readonly client: FramedTransport;
  readonly server: FramedTransport;
  readonly clientSink: FrameCollector;
  readonly serverSink: FrameCollector;
}

/** Wrap both channels and start them; both are destroyed after the test. */
export function framedEnds(t: TestContext, clientChannel: ByteChannel, serverChannel: ByteChannel): FramedEnds {
  const client = new FramedTransport(clientChannel);
  const server = new FramedTransport(serverChannel);
  t.after(() => {
    client.destroy();
    server.destroy();
  });
  const clientSink = new FrameCollector();
  const serverSink = new FrameCollector();
  client.start(clientSink);
  server.start(serverSink);
  return { client, server, clientSink, serverSink };
}

/** Thousands of small frames and two 1 MiB frames each way, then a close seen once per side. */
export async function checkRoundTrip(ends: FramedEnds, kind: string): Promise<void> {
  const { client, server, clientSink, serverSink } = ends;
  assert.equal(client.info.kind, kind);
  assert.equal(server.info.kind, kind);
  const up = trafficPlan(1);
  const down = trafficPlan(2);
  sendAll(client, up);
  sendAll(server, down);
  await serverSink.waitForFrames(up.length, 10_000, 'client→server frames');
  await clientSink.waitForFrames(down.length, 10_000, 'server→client frames');
  assertFramesMatch(serverSink.frames, up, 'client→server');
  assertFramesMatch(clientSink.frames, down, 'server→client');
  assert.equal(server.bytesIn, client.bytesOut);
  assert.equal(client.bytesIn, server.bytesOut);
  client.close();
  assert.equal(await clientSink.waitClosed(5000, 'client close'), undefined);
  assert.equal(await serverSink.waitClosed(5000, 'server close'), undefined);
  await delay(50);
  assert.equal(clientSink.closeCount, 1);
  assert.equal(serverSink.closeCount, 1);
}

/** A paused receiver makes the writer queue (pendingBytes grows); resuming drains it. */
export async function checkBackpressure(ends: FramedEnds): Promise<void> {
  const { client, server, clientSink, serverSink } = ends;
  server.pause();
  const frames = 256;
  const size = 64 * 1024;
  for (let i = 0; i < frames; i++) client.send({ type: FrameType.PUB, id: i, subject: 'bp', payload: pattern(7, i, size) });
  await delay(200);
  assert.ok(client.pendingBytes > 4 * 1024 * 1024, `writer should hold back bytes, pending ${client.pendingBytes}`);
  assert.equal(client.writable, false);
  const received = serverSink.frames.length;
  assert.ok(received < frames, `a paused reader must not get everything (${received})`);
  server.resume();
  await serverSink.waitForFrames(frames, 10_000, 'frames after resume');
  await waitFor(() => clientSink.drainCount > 0, 5000, 'drain after resume');
  assert.equal(client.pendingBytes, 0);
  for (let i = 0; i < frames; i++) assert.equal(serverSink.frames[i]!.id, i);
}

/** destroy() on one end closes both, once each. */
export async function checkDestroy(ends: FramedEnds): Promise<void> {
  ends.server.destroy();
  await ends.clientSink.waitClosed(5000, 'client close');
  await ends.serverSink.waitClosed(5000, 'server close');
  await delay(50);
  assert.equal(ends.clientSink.closeCount, 1);
  assert.equal(ends.serverSink.closeCount, 1);
}

/**
 * Writes that ignore `false` are still delivered, in order (the channel queues them);
 * `drain` follows. 8 MiB in 64 KiB chunks straight to the channel, no framer.
 */
export async function checkRawOrder(writer: ByteChannel, reader: ByteChannel): Promise<void> {
  const chunks = 128;
  const size = 64 * 1024;
  let drains = 0;
  let refused = 0;
  const got: Uint8Array[] = [];
  let gotBytes = 0;
  writer.attach({ data: () => undefined, drain: () => drains++, close: () => undefined });
  reader.attach({
    data: (c) => {
      got.push(c.slice());
      gotBytes += c.length;
    },
    drain: () => undefined,
    close: () => undefined,
  });
  for (let i = 0; i < chunks; i++) if (!writer.write(pattern(11, i, size))) refused++;
  await waitFor(() => gotBytes >= chunks * size, 10_000, 'all raw bytes');
  assert.equal(gotBytes, chunks * size);
  const all = Buffer.concat(got);
  for (let i = 0; i < chunks; i++) assert.ok(all.subarray(i * size, (i + 1) * size).equals(pattern(11, i, size)), `chunk ${i} intact`);
  if (refused > 0) await waitFor(() => drains > 0, 5000, 'drain');
  writer.destroy();
  reader.destroy();
}
