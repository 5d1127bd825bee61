import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Flag, FrameDecoder, FrameType, decodeHeaders, encodeFrame, encodeHeaders } from '../../src/wire/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { CollectSink, concat, feed, fromHex, toHex } from './helpers.js';

const MAX = 1024;

/** A 4-byte big-endian length prefix. */
function prefix(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** A valid PUB frame to corrupt: patch bytes at fixed offsets. */
function patched(init: Parameters<typeof encodeFrame>[0], patch: (b: Uint8Array) => void): Uint8Array {
  const b = encodeFrame(init);
  patch(b);
  return b;
}

function expectError(bytes: Uint8Array, code: string, maxFrameBytes = MAX): PlexusError {
  const r = feed([bytes], maxFrameBytes);
  assert.ok(r.error, `expected ${code}, got no error`);
  assert.equal(r.error.code, code);
  assert.equal(r.frames.length, 0);
  assert.ok(r.error instanceof PlexusError);
  return r.error;
}

void describe('FrameDecoder: good input', () => {
  const pub = encodeFrame({
    type: FrameType.PUB,
    flags: Flag.REQUEST,
    id: 9,
    aux: 1500,
    subject: 'svc.rides.place',
    reply: '_INBOX.abc.1',
    headers: encodeHeaders({ traceparent: '00-01' }),
    payload: new TextEncoder().encode('{"from":"a","to":"b"}'),
  });

  void it('decodes one frame in one chunk', () => {
    const { frames, error, decoder } = feed([pub]);
    assert.equal(error, undefined);
    assert.equal(frames.length, 1);
    const f = frames[0]!;
    assert.equal(f.type, FrameType.PUB);
    assert.equal(f.flags, Flag.REQUEST);
    assert.equal(f.id, 9);
    assert.equal(f.aux, 1500);
    assert.equal(f.subject, 'svc.rides.place');
    assert.equal(f.reply, '_INBOX.abc.1');
    assert.deepEqual({ ...decodeHeaders(f.headers)! }, { traceparent: '00-01' });
    assert.equal(new TextDecoder().decode(f.payload), '{"from":"a","to":"b"}');
    assert.equal(decoder.buffered, 0);
  });

  void it('decodes a frame fed one byte at a time, holding exactly the bytes seen', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: MAX });
    const sink = new CollectSink();
    for (let i = 0; i < pub.length; i++) {
      assert.equal(decoder.push(pub.subarray(i, i + 1), sink), undefined);
      if (i < pub.length - 1) {
        assert.equal(sink.frames.length, 0);
        assert.equal(decoder.buffered, i + 1);
      }
    }
    assert.equal(sink.frames.length, 1);
    assert.equal(decoder.buffered, 0);
    assert.equal(toHex(encodeFrame(sink.frames[0]!)), toHex(pub));
  });

  void it('decodes several frames in one chunk and a frame spanning chunks', () => {
    const ping = encodeFrame({ type: FrameType.PING, id: 1 });
    const all = concat([ping, pub, ping, pub]);
    const cut = ping.length + pub.length + ping.length + 3;
    const { frames, error } = feed([all.subarray(0, cut), all.subarray(cut)]);
    assert.equal(error, undefined);
    assert.deepEqual(
      frames.map((f) => f.type),
      [FrameType.PING, FrameType.PUB, FrameType.PING, FrameType.PUB],
    );
  });

  void it('accepts a frame of exactly maxFrameBytes and ignores empty chunks', () => {
    const payload = new Uint8Array(MAX - 20).fill(7);
    const frame = encodeFrame({ type: FrameType.DATA, payload });
    assert.equal(frame.length, MAX);
    const { frames, error } = feed([new Uint8Array(0), frame.subarray(0, 2), new Uint8Array(0), frame.subarray(2)]);
    assert.equal(error, undefined);
    assert.deepEqual(frames[0]!.payload, payload);
  });

  void it('gives an empty payload and undefined headers when there are none', () => {
    const { frames } = feed([encodeFrame({ type: FrameType.UNSUB, id: 4 })]);
    assert.equal(frames[0]!.payload.length, 0);
    assert.equal(frames[0]!.headers, undefined);
    assert.equal(frames[0]!.subject, '');
    assert.equal(frames[0]!.reply, '');
  });

  void it('requires a sane maxFrameBytes', () => {
    assert.throws(() => new FrameDecoder({ maxFrameBytes: 19 }), RangeError);
    assert.throws(() => new FrameDecoder({ maxFrameBytes: Number.NaN }), RangeError);
  });
});

void describe('FrameDecoder: hostile length prefixes', () => {
  const cases: [string, number, string][] = [
    ['0', 0, ErrorCode.MALFORMED_FRAME],
    ['15', 15, ErrorCode.MALFORMED_FRAME],
    ['max + 1 (frame one byte over the limit)', MAX - 3, ErrorCode.FRAME_TOO_LARGE],
    ['2^31', 2 ** 31, ErrorCode.FRAME_TOO_LARGE],
    ['2^32 - 1', 2 ** 32 - 1, ErrorCode.FRAME_TOO_LARGE],
  ];
  for (const [name, n, code] of cases) {
    void it(`length ${name}: ${code} from the 4-byte prefix alone, nothing buffered`, () => {
      const decoder = new FrameDecoder({ maxFrameBytes: MAX });
      const sink = new CollectSink();
      const err = decoder.push(prefix(n), sink);
      assert.ok(err);
      assert.equal(err.code, code);
      assert.equal(decoder.buffered, 0);
      assert.equal(decoder.failure, err);
    });

    void it(`length ${name}: ${code} when the prefix arrives byte by byte`, () => {
      const decoder = new FrameDecoder({ maxFrameBytes: MAX });
      const sink = new CollectSink();
      const p = prefix(n);
      for (let i = 0; i < 3; i++) {
        assert.equal(decoder.push(p.subarray(i, i + 1), sink), undefined);
        assert.equal(decoder.buffered, i + 1);
      }
      const err = decoder.push(p.subarray(3), sink);
      assert.equal(err?.code, code);
      assert.equal(decoder.buffered, 0);
    });

    void it(`length ${name}: ${code} after a good frame in the same chunk`, () => {
      const r = feed([concat([encodeFrame({ type: FrameType.PING }), prefix(n), new Uint8Array(16)])], MAX);
      assert.equal(r.frames.length, 1);
      assert.equal(r.error?.code, code);
    });
  }
});

void describe('FrameDecoder: malformed frames', () => {
  const base = { type: FrameType.PUB, subject: 'ab', reply: 'cd', headers: encodeHeaders({ k: 'v' }), payload: fromHex('0102') };

  void it('rejects unknown frame types (0x00, 0x0f, 0xff)', () => {
    for (const t of [0x00, 0x0f, 0xff]) {
      expectError(patched(base, (b) => (b[4] = t)), ErrorCode.UNKNOWN_FRAME_TYPE);
    }
  });

  void it('rejects unknown flag bits', () => {
    for (const f of [0x10, 0x20, 0x80, 0xff]) {
      expectError(patched(base, (b) => (b[5] = f)), ErrorCode.MALFORMED_FRAME);
    }
  });

  void it('rejects field lengths that exceed the frame', () => {
    expectError(patched(base, (b) => (b[15] = 0xff)), ErrorCode.MALFORMED_FRAME); // subject
    expectError(patched(base, (b) => (b[17] = 0x40)), ErrorCode.MALFORMED_FRAME); // reply
    expectError(patched(base, (b) => (b[18] = 0x01)), ErrorCode.MALFORMED_FRAME); // headers
  });

  void it('rejects invalid UTF-8 in subject and reply', () => {
    expectError(patched(base, (b) => ((b[20] = 0xc0), (b[21] = 0xaf))), ErrorCode.MALFORMED_FRAME);
    expectError(patched(base, (b) => (b[23] = 0xff)), ErrorCode.MALFORMED_FRAME);
  });

  void it('rejects a malformed header block', () => {
    // Header block starts at 24: count 0001, keyLen 0001 'k', valLen 0001 'v'.
    expectError(patched(base, (b) => (b[25] = 2)), ErrorCode.MALFORMED_FRAME); // count too large
    expectError(patched(base, (b) => (b[27] = 0)), ErrorCode.MALFORMED_FRAME); // empty key
    expectError(patched(base, (b) => (b[28] = 0xff)), ErrorCode.MALFORMED_FRAME); // bad UTF-8 key
    // Header length one byte short: the block no longer ends where its entries do.
    expectError(patched(base, (b) => (b[19] = 7)), ErrorCode.MALFORMED_FRAME);
  });

  void it('moving a byte from the header block into the payload is not silently accepted', () => {
    // hl = 9 claims one payload byte as part of the block: trailing garbage in the block.
    expectError(patched(base, (b) => (b[19] = 9)), ErrorCode.MALFORMED_FRAME);
  });

  void it('stays failed: later input returns the same error and emits nothing', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: MAX });
    const sink = new CollectSink();
    const err = decoder.push(prefix(0), sink);
    assert.ok(err);
    assert.equal(decoder.push(encodeFrame({ type: FrameType.PING }), sink), err);
    assert.equal(sink.frames.length, 0);
  });

  void it('emits the frames before a bad one, then stops', () => {
    const good = encodeFrame({ type: FrameType.PING, id: 1 });
    const bad = patched(base, (b) => (b[4] = 0x42));
    const r = feed([concat([good, good, bad, good])]);
    assert.equal(r.frames.length, 2);
    assert.equal(r.error?.code, ErrorCode.UNKNOWN_FRAME_TYPE);
  });
});
