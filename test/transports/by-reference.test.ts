import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FramedTransport, inprocPair } from '../../src/transports/index.js';
import { FrameType, type Frame } from '../../src/wire/index.js';

test('large immutable payloads travel by reference, in order with the frames around them', async () => {
  const [x, y] = inprocPair('byref');
  const sender = new FramedTransport(x);
  const receiver = new FramedTransport(y);
  const got: Frame[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  receiver.start({ onFrame: (f) => (got.push(f), got.length === 4 && resolveDone()), onClose: () => undefined });
  sender.start({ onFrame: () => undefined, onClose: () => undefined });
  const big = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  sender.send({ type: FrameType.DATA, subject: 'a', aux: 1, payload: new Uint8Array([1]) });
  sender.send({ type: FrameType.DATA, subject: 'a', aux: 2, payload: big, payloadImmutable: true });
  sender.send({ type: FrameType.DATA, subject: 'a', aux: 3, payload: new Uint8Array(20_000).fill(9), payloadImmutable: true });
  sender.send({ type: FrameType.DATA, subject: 'a', aux: 4, payload: new Uint8Array([4]) });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([done, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('frames did not arrive')), 5000)))]);
  clearTimeout(timer);
  assert.deepEqual(got.map((f) => f.aux), [1, 2, 3, 4]);
  assert.deepEqual(got[1]!.payload, big);
  assert.equal(got[2]!.payload.length, 20_000);
  assert.ok(got[2]!.payload.every((b) => b === 9));
  sender.destroy();
  receiver.destroy();
});
