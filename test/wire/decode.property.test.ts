import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FrameDecoder,
  FrameType,
  KNOWN_FLAGS,
  encodeFrame,
  encodeHeaders,
  type Frame,
  type FrameInit,
} from '../../src/wire/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { CollectSink, concat, feed, splitAt, toHex } from './helpers.js';

const MAX = 64 * 1024;
const RUNS = 300;

const frameType = fc.constantFrom(...Object.values(FrameType));
const flags = fc.integer({ min: 0, max: KNOWN_FLAGS }).map((f) => f & KNOWN_FLAGS);
const u32 = fc.nat({ max: 0xffffffff });
const text = fc.string({ unit: 'binary', maxLength: 20 });
const headerKey = fc.string({ unit: 'binary', minLength: 1, maxLength: 10 });
const headers = fc.option(
  fc.dictionary(headerKey, fc.string({ unit: 'binary', maxLength: 16 }), { maxKeys: 5 }),
  { nil: undefined },
);
const payload = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 3000 }) },
);

/** Any valid v1 frame. */
const frameInit: fc.Arbitrary<FrameInit> = fc.record({
  type: frameType,
  flags,
  id: u32,
  aux: u32,
  subject: text,
  reply: text,
  headers: headers.map((h) => encodeHeaders(h)),
  payload,
});

/** Cut points for a byte string of length n: any mix, sometimes every single byte. */
function cutsFor(n: number): fc.Arbitrary<number[]> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.array(fc.nat({ max: n }), { maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constant(Array.from({ length: n }, (_, i) => i)) },
  );
}

function assertSameFrame(got: Frame, want: FrameInit): void {
  assert.equal(got.type, want.type);
  assert.equal(got.flags, want.flags ?? 0);
  assert.equal(got.id, want.id ?? 0);
  assert.equal(got.aux, want.aux ?? 0);
  assert.equal(got.subject, want.subject ?? '');
  assert.equal(got.reply, want.reply ?? '');
  const wantHeaders = want.headers !== undefined && want.headers.length > 0 ? toHex(want.headers) : undefined;
  assert.equal(got.headers === undefined ? undefined : toHex(got.headers), wantHeaders);
  assert.equal(toHex(got.payload), toHex(want.payload ?? new Uint8Array(0)));
}

void describe('FrameDecoder: properties', () => {
  void it('round-trips arbitrary frames through encodeFrame and any chunking', () => {
    const scenario = fc
      .array(frameInit, { minLength: 1, maxLength: 6 })
      .chain((inits) => {
        const bytes = concat(inits.map((i) => encodeFrame(i)));
        return fc.tuple(fc.constant(inits), fc.constant(bytes), cutsFor(bytes.length));
      });
    fc.assert(
      fc.property(scenario, ([inits, bytes, cuts]) => {
        const { frames, error, decoder } = feed(splitAt(bytes, cuts), MAX);
        assert.equal(error, undefined);
        assert.equal(frames.length, inits.length);
        frames.forEach((f, i) => assertSameFrame(f, inits[i]!));
        assert.equal(decoder.buffered, 0);
        // Re-encoding what was decoded gives the same bytes.
        assert.equal(toHex(concat(frames.map((f) => encodeFrame(f)))), toHex(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  void it('round-trips with 1-byte chunks', () => {
    fc.assert(
      fc.property(fc.array(frameInit, { minLength: 1, maxLength: 3 }), (inits) => {
        const bytes = concat(inits.map((i) => encodeFrame(i)));
        const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
        const { frames, error } = feed(chunks, MAX);
        assert.equal(error, undefined);
        frames.forEach((f, i) => assertSameFrame(f, inits[i]!));
      }),
      { numRuns: 100 },
    );
  });

  void it('a truncated stream waits: whole frames come out, the rest is buffered, no error', () => {
    const scenario = fc
      .array(frameInit, { minLength: 1, maxLength: 4 })
      .chain((inits) => {
        const bytes = concat(inits.map((i) => encodeFrame(i)));
        return fc.tuple(fc.constant(inits), fc.constant(bytes), fc.nat({ max: bytes.length - 1 }));
      });
    fc.assert(
      fc.property(scenario, ([inits, bytes, cut]) => {
        const { frames, error, decoder } = feed([bytes.subarray(0, cut)], MAX);
        assert.equal(error, undefined);
        let whole = 0;
        let n = 0;
        for (const init of inits) {
          const len = encodeFrame(init).length;
          if (whole + len > cut) break;
          whole += len;
          n++;
        }
        assert.equal(frames.length, n);
        assert.equal(decoder.buffered, cut - whole);
      }),
      { numRuns: RUNS },
    );
  });

  void it('hostile length prefixes fail at once with the right code and nothing buffered', () => {
    const length = fc.oneof(
      fc.integer({ min: 0, max: 15 }),
      fc.integer({ min: MAX - 3, max: 0xffffffff }),
      fc.constantFrom(0, 15, MAX - 3, 2 ** 31, 2 ** 32 - 1),
    );
    fc.assert(
      fc.property(length, fc.uint8Array({ maxLength: 8 }), (n, tail) => {
        const decoder = new FrameDecoder({ maxFrameBytes: MAX });
        const head = new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
        const err = decoder.push(concat([head, tail]), new CollectSink());
        assert.ok(err instanceof PlexusError);
        assert.equal(err.code, n < 16 ? ErrorCode.MALFORMED_FRAME : ErrorCode.FRAME_TOO_LARGE);
        assert.equal(decoder.buffered, 0);
      }),
      { numRuns: RUNS },
    );
  });

  void it('a frame whose header block is truncated inside a consistent frame is MALFORMED_FRAME', () => {
    const withHeaders = fc
      .dictionary(headerKey, fc.string({ unit: 'binary', maxLength: 8 }), { minKeys: 1, maxKeys: 4 })
      .map((h) => encodeHeaders(h)!);
    fc.assert(
      fc.property(withHeaders, fc.nat(), frameType, (block, cutSeed, type) => {
        const cut = cutSeed % block.length; // a strict prefix of the block
        const bytes = encodeFrame({ type, subject: 's', headers: block.subarray(0, cut) });
        if (cut === 0) {
          // An empty block is simply "no headers".
          assert.equal(feed([bytes], MAX).error, undefined);
          return;
        }
        assert.equal(feed([bytes], MAX).error?.code, ErrorCode.MALFORMED_FRAME);
      }),
      { numRuns: RUNS },
    );
  });

  void it('random garbage never throws: the decoder returns an error or waits for more', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat({ max: 200 }), { maxLength: 8 }), (bytes, cuts) => {
        const decoder = new FrameDecoder({ maxFrameBytes: 256 });
        const sink = new CollectSink();
        let err: PlexusError | undefined;
        for (const chunk of splitAt(bytes, cuts)) {
          err = decoder.push(chunk, sink);
          if (err) {
            assert.ok(err instanceof PlexusError);
            assert.equal(decoder.push(new Uint8Array([1, 2, 3]), sink), err, 'a failed decoder stays failed');
            break;
          }
          assert.ok(decoder.buffered >= 0 && decoder.buffered < 256);
        }
      }),
      { numRuns: 500 },
    );
  });

  void it('garbage with a plausible length prefix never throws', () => {
    // Valid-looking lengths push random bytes past the prefix checks into field parsing.
    const plausible = fc.integer({ min: 16, max: 120 }).chain((n) =>
      fc.tuple(fc.constant(n), fc.uint8Array({ minLength: n, maxLength: n })),
    );
    fc.assert(
      fc.property(fc.array(plausible, { minLength: 1, maxLength: 4 }), (parts) => {
        const bytes = concat(
          parts.map(([n, body]) => concat([new Uint8Array([0, 0, 0, n]), body])),
        );
        const r = feed([bytes], 256);
        if (r.error) assert.ok(r.error instanceof PlexusError);
        else assert.equal(r.frames.length, parts.length);
      }),
      { numRuns: 500 },
    );
  });

  void it('a corrupted byte in a valid frame never throws', () => {
    const scenario = frameInit.chain((init) => {
      const bytes = encodeFrame(init);
      return fc.tuple(fc.constant(bytes), fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }));
    });
    fc.assert(
      fc.property(scenario, ([bytes, at, value]) => {
        const copy = bytes.slice();
        copy[at] = value;
        const r = feed([copy], MAX);
        if (r.error) assert.ok(Object.values(ErrorCode).includes(r.error.code));
      }),
      { numRuns: RUNS },
    );
  });
});
