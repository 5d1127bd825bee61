import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Flag,
  FrameType,
  HEADER_BYTES,
  KNOWN_FLAGS,
  MIN_BODY_BYTES,
  encodeFrame,
  encodeHeaders,
  frameTypeName,
  isControlType,
  isKnownFrameType,
  maxEncodedLength,
  parseFrame,
  writeFrame,
} from '../../src/wire/index.js';
import { PlexusError } from '../../src/errors/index.js';
import { toHex } from './helpers.js';

void describe('constants', () => {
  void it('has the documented sizes', () => {
    assert.equal(HEADER_BYTES, 20);
    assert.equal(MIN_BODY_BYTES, 16);
    assert.equal(KNOWN_FLAGS, 0x0f);
    assert.deepEqual({ ...Flag }, { PRIORITY: 0x01, REQUEST: 0x02, RESUME: 0x04, ERROR: 0x08 });
  });

  void it('numbers frame types 0x01..0x0e without gaps', () => {
    const values = Object.values(FrameType).sort((a, b) => a - b);
    assert.deepEqual(values, Array.from({ length: 14 }, (_, i) => i + 1));
    for (let t = 0; t < 256; t++) assert.equal(isKnownFrameType(t), t >= 1 && t <= 14, `type ${t}`);
    assert.equal(frameTypeName(FrameType.MSG), 'MSG');
    assert.equal(frameTypeName(0x2a), '0x2a');
  });

  void it('puts exactly the control types on the control lane', () => {
    const control = Object.entries(FrameType)
      .filter(([, v]) => isControlType(v))
      .map(([k]) => k)
      .sort();
    assert.deepEqual(control, ['CANCEL', 'CREDIT', 'ERR', 'GOODBYE', 'PING', 'PONG']);
  });
});

void describe('encode: layout', () => {
  void it('writes every fixed field big-endian at its documented offset', () => {
    const bytes = encodeFrame({
      type: FrameType.PUB,
      flags: Flag.REQUEST | Flag.PRIORITY,
      id: 0x01020304,
      aux: 0xa0b0c0d0,
      subject: 'ab',
      reply: 'r',
      headers: encodeHeaders({ k: 'v' }),
      payload: new Uint8Array([0xde, 0xad]),
    });
    const hex = toHex(bytes);
    const body = bytes.length - 4;
    assert.equal(hex.slice(0, 8), body.toString(16).padStart(8, '0'), 'u32 length prefix counts the bytes after it');
    assert.equal(hex.slice(8, 10), '03', 'type');
    assert.equal(hex.slice(10, 12), '03', 'flags');
    assert.equal(hex.slice(12, 20), '01020304', 'id');
    assert.equal(hex.slice(20, 28), 'a0b0c0d0', 'aux');
    assert.equal(hex.slice(28, 32), '0002', 'subject length');
    assert.equal(hex.slice(32, 36), '0001', 'reply length');
    assert.equal(hex.slice(36, 40), '0008', 'header block length');
    assert.equal(hex.slice(40), '6162' + '72' + '0001' + '0001' + '6b' + '0001' + '76' + 'dead');
  });

  void it('encodes the smallest frame as 20 bytes with a length of 16', () => {
    assert.equal(toHex(encodeFrame({ type: FrameType.PING })), '00000010' + '09' + '00' + '00000000' + '00000000' + '000000000000');
  });

  void it('counts UTF-8 bytes, not UTF-16 units, in field lengths', () => {
    const bytes = encodeFrame({ type: FrameType.PUB, subject: 'é.𝄞' });
    assert.equal((bytes[14]! << 8) | bytes[15]!, 7);
    assert.equal(bytes.length, 27);
  });

  void it('writes an empty header block as absent (length 0)', () => {
    const bytes = encodeFrame({ type: FrameType.PUB, subject: 'a', headers: new Uint8Array(0) });
    assert.equal((bytes[18]! << 8) | bytes[19]!, 0);
  });

  void it('wraps id and aux modulo 2^32', () => {
    const bytes = encodeFrame({ type: FrameType.DATA, id: 2 ** 32 + 5, aux: -1 });
    assert.equal(toHex(bytes.subarray(6, 14)), '00000005' + 'ffffffff');
  });

  void it('writes at an offset inside a larger buffer and reports the end', () => {
    const init = { type: FrameType.MSG, id: 7, subject: 'x', payload: new Uint8Array([1]) } as const;
    const buf = new Uint8Array(5 + maxEncodedLength(init)).fill(0xee);
    const end = writeFrame(buf, 5, init);
    assert.equal(end, 5 + 22);
    assert.deepEqual(buf.subarray(5, end), encodeFrame(init));
    assert.equal(buf[4], 0xee);
  });

  void it('maxEncodedLength is an upper bound', () => {
    for (const subject of ['', 'a', 'é', '€€', '𝄞', '\ud800']) {
      const init = { type: FrameType.PUB, subject, reply: subject };
      assert.ok(encodeFrame(init).length <= maxEncodedLength(init));
    }
  });

  void it('refuses unknown flags and oversized fields with RangeError', () => {
    assert.throws(() => encodeFrame({ type: FrameType.PUB, flags: 0x10 }), RangeError);
    assert.throws(() => encodeFrame({ type: FrameType.PUB, flags: 0x80 }), RangeError);
    assert.throws(() => encodeFrame({ type: FrameType.PUB, subject: 'x'.repeat(0x10000) }), RangeError);
    assert.throws(() => encodeFrame({ type: FrameType.PUB, reply: '€'.repeat(0x5556) }), RangeError);
    assert.throws(() => encodeFrame({ type: FrameType.PUB, headers: new Uint8Array(0x10000) }), RangeError);
  });

  void it('accepts fields of exactly 65,535 bytes', () => {
    const subject = 'x'.repeat(0xffff);
    const frame = parseFrame(encodeFrame({ type: FrameType.PUB, subject, reply: subject }));
    assert.ok(!(frame instanceof PlexusError));
    assert.equal(frame.subject.length, 0xffff);
    assert.equal(frame.reply, subject);
  });
});

void describe('parseFrame', () => {
  void it('parses one whole frame', () => {
    const frame = parseFrame(encodeFrame({ type: FrameType.SUB, id: 3, subject: 'a.*', reply: 'q' }));
    assert.ok(!(frame instanceof PlexusError));
    assert.equal(frame.type, FrameType.SUB);
    assert.equal(frame.id, 3);
    assert.equal(frame.subject, 'a.*');
    assert.equal(frame.reply, 'q');
    assert.equal(frame.headers, undefined);
    assert.equal(frame.payload.length, 0);
  });

  void it('returns a coded error (never throws) for bytes that are not exactly one frame', () => {
    const good = encodeFrame({ type: FrameType.PING });
    for (const bytes of [new Uint8Array(0), good.subarray(0, 19), new Uint8Array([...good, 0])]) {
      const r = parseFrame(bytes);
      assert.ok(r instanceof PlexusError);
      assert.equal(r.code, 'PLEXUS_ERR_MALFORMED_FRAME');
    }
  });
});
