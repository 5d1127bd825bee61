import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameType, encodeFrame, parseFrame, type Frame } from '../../src/wire/index.js';

function decodeOne(bytes: Uint8Array): Frame {
  let out: Frame | undefined;
  const err = new FrameDecoder({ maxFrameBytes: 1 << 20 }).push(bytes, { onFrame: (f) => (out = f) });
  assert.equal(err, undefined);
  return out!;
}

test('payloadFrom copies a decoded frame payload from its raw buffer', () => {
  const src = decodeOne(encodeFrame({ type: FrameType.PUB, subject: 'a.b', payload: new Uint8Array([1, 2, 3, 250]) }));
  assert.ok(src.raw !== undefined, 'decoded frames expose their raw buffer');
  const out = parseFrame(encodeFrame({ type: FrameType.MSG, id: 7, subject: 'a.b', payloadFrom: src }));
  assert.ok(!(out instanceof Error));
  assert.deepEqual([...out.payload], [1, 2, 3, 250]);
});

test('payloadFrom falls back to payload for frames built in memory', () => {
  const literal: Frame = { type: FrameType.PUB, flags: 0, id: 0, aux: 0, subject: 's', reply: '', headers: undefined, payload: new Uint8Array([9, 8]) };
  const out = parseFrame(encodeFrame({ type: FrameType.MSG, subject: 's', payloadFrom: literal }));
  assert.ok(!(out instanceof Error));
  assert.deepEqual([...out.payload], [9, 8]);
});

test('large payloads (over the small-copy threshold) copy intact', () => {
  const big = new Uint8Array(5000).map((_, i) => i & 0xff);
  const src = decodeOne(encodeFrame({ type: FrameType.PUB, subject: 'x', payload: big }));
  const out = parseFrame(encodeFrame({ type: FrameType.MSG, subject: 'x', payloadFrom: src }));
  assert.ok(!(out instanceof Error));
  assert.deepEqual(out.payload, big);
});
