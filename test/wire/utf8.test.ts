import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeUtf8, readUtf8, utf8Length, writeUtf8 } from '../../src/wire/index.js';
import { fromHex } from './helpers.js';

/** The strict reference decoder: throws on anything that is not well-formed UTF-8. */
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function reference(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

function decodeAll(bytes: Uint8Array): string | undefined {
  return readUtf8(bytes, 0, bytes.length);
}

/** Strings that may hold lone surrogates (and, by chance, valid pairs built from them). */
const anyUtf16 = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 4 }),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    ),
    { maxLength: 24 },
  )
  .map((parts) => parts.join(''));

/** Byte strings biased towards the edges of UTF-8: lead bytes, continuations, overlongs. */
const utf8ishBytes = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
    ),
    { maxLength: 24 },
  )
  .map((a) => Uint8Array.from(a));

void describe('utf8: unit', () => {
  void it('encodes ASCII, 2-, 3- and 4-byte sequences', () => {
    assert.deepEqual(encodeUtf8('a'), fromHex('61'));
    assert.deepEqual(encodeUtf8('é'), fromHex('c3a9'));
    assert.deepEqual(encodeUtf8('€'), fromHex('e282ac'));
    assert.deepEqual(encodeUtf8('𝄞'), fromHex('f09d849e'));
    assert.deepEqual(encodeUtf8(''), new Uint8Array(0));
  });

  void it('encodes lone surrogates as U+FFFD (EF BF BD), like Buffer', () => {
    assert.deepEqual(encodeUtf8('\ud800'), fromHex('efbfbd'));
    assert.deepEqual(encodeUtf8('\udc00x'), fromHex('efbfbd78'));
    assert.deepEqual(encodeUtf8('a\ud83d'), fromHex('61efbfbd'));
    // A low surrogate before a high one is two lone surrogates, not a pair.
    assert.deepEqual(encodeUtf8('\udc00\ud800'), fromHex('efbfbdefbfbd'));
    assert.equal(utf8Length('\ud800'), 3);
  });

  void it('writes at an offset and returns the end', () => {
    const buf = new Uint8Array(8).fill(0xaa);
    assert.equal(writeUtf8(buf, 2, 'hé'), 5);
    assert.deepEqual(buf, fromHex('aaaa68c3a9aaaaaa'));
  });

  void it('reads a slice of a larger buffer', () => {
    const buf = fromHex('ff68c3a9ff');
    assert.equal(readUtf8(buf, 1, 4), 'hé');
    assert.equal(readUtf8(buf, 1, 1), '');
  });

  void it('reads long ASCII and long non-ASCII strings (chunked fromCharCode paths)', () => {
    const ascii = 'x'.repeat(10_000);
    assert.equal(decodeAll(encodeUtf8(ascii)), ascii);
    const mixed = 'ü𝄞'.repeat(5000);
    assert.equal(decodeAll(encodeUtf8(mixed)), mixed);
  });

  const invalid: [string, string][] = [
    ['overlong NUL', 'c080'],
    ['overlong slash (2 bytes)', 'c0af'],
    ['overlong slash (3 bytes)', 'e080af'],
    ['overlong (4 bytes)', 'f08080af'],
    ['UTF-16 high surrogate', 'eda080'],
    ['UTF-16 low surrogate', 'edbfbf'],
    ['above U+10FFFF', 'f4908080'],
    ['lead byte F5', 'f5808080'],
    ['lone continuation', '80'],
    ['truncated 2-byte', 'c3'],
    ['truncated 3-byte', 'e282'],
    ['truncated 4-byte', 'f09d84'],
    ['bad continuation', 'c328'],
    ['FF byte', 'ff'],
  ];
  for (const [name, hex] of invalid) {
    void it(`rejects ${name} (${hex})`, () => {
      assert.equal(decodeAll(fromHex(hex)), undefined);
      assert.equal(reference(fromHex(hex)), undefined, 'the reference agrees');
    });
  }

  void it('accepts the edges of each range', () => {
    for (const hex of ['7f', 'c280', 'dfbf', 'e0a080', 'ed9fbf', 'ee8080', 'efbfbf', 'f0908080', 'f48fbfbf']) {
      const bytes = fromHex(hex);
      assert.equal(decodeAll(bytes), reference(bytes), hex);
      assert.notEqual(decodeAll(bytes), undefined, hex);
    }
  });

  void it('does not read past `end` when a sequence is cut by it', () => {
    const buf = fromHex('61e282ac');
    assert.equal(readUtf8(buf, 0, 3), undefined);
    assert.equal(readUtf8(buf, 0, 4), 'a€');
  });
});

void describe('utf8: properties', () => {
  void it('encodeUtf8 and utf8Length agree with Buffer for any UTF-16 string (lone surrogates included)', () => {
    fc.assert(
      fc.property(anyUtf16, (s) => {
        const expected = new Uint8Array(Buffer.from(s, 'utf8'));
        assert.deepEqual(encodeUtf8(s), expected);
        assert.equal(utf8Length(s), expected.length);
      }),
      { numRuns: 500 },
    );
  });

  void it('round-trips any well-formed Unicode string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => {
        assert.equal(decodeAll(encodeUtf8(s)), s);
      }),
      { numRuns: 500 },
    );
  });

  void it('readUtf8 accepts exactly what a strict decoder accepts, with the same result', () => {
    fc.assert(
      fc.property(utf8ishBytes, (bytes) => {
        assert.equal(decodeAll(bytes), reference(bytes));
      }),
      { numRuns: 500 },
    );
  });

  void it('readUtf8 agrees with the strict decoder on mutated valid text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (s, at, byte) => {
          const bytes = encodeUtf8(s);
          bytes[at % bytes.length] = byte;
          assert.equal(decodeAll(bytes), reference(bytes));
        },
      ),
      { numRuns: 500 },
    );
  });
});
