import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FROM_HEADER,
  appendHeader,
  decodeHeaders,
  encodeHeaderEntry,
  encodeHeaders,
  hasReservedHeader,
  validateHeaderBlock,
} from '../../src/wire/index.js';
import { fromHex, toHex } from './helpers.js';

/** Build a null-prototype record from ordered entries (keys like `__proto__` stay data). */
function record(entries: readonly (readonly [string, string])[]): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

void describe('headers: unit', () => {
  void it('encodes the documented layout: u16 count, then u16 len + key, u16 len + value', () => {
    const block = encodeHeaders({ a: 'bc', 'x-é': '' })!;
    assert.equal(toHex(block), '0002' + '0001' + '61' + '0002' + '6263' + '0004' + '782dc3a9' + '0000');
  });

  void it('returns undefined for no headers or an empty record', () => {
    assert.equal(encodeHeaders(undefined), undefined);
    assert.equal(encodeHeaders({}), undefined);
  });

  void it('decodes undefined as an empty null-prototype record', () => {
    const h = decodeHeaders(undefined)!;
    assert.deepEqual(Object.keys(h), []);
    assert.equal(Object.getPrototypeOf(h), null);
  });

  void it('round-trips keys and values, UTF-8 included', () => {
    const h = { 'content-type': 'application/json', traceparent: '00-abc-01', 'ключ': 'значение 𝄞' };
    const back = decodeHeaders(encodeHeaders(h))!;
    assert.deepEqual({ ...back }, h);
  });

  void it('lets the later of duplicate keys win', () => {
    const block = fromHex('0002' + '0001' + '6b' + '0001' + '31' + '0001' + '6b' + '0001' + '32');
    assert.equal(validateHeaderBlock(block), true);
    assert.equal(decodeHeaders(block)!['k'], '2');
  });

  void it('accepts a block with zero entries', () => {
    assert.equal(validateHeaderBlock(fromHex('0000')), true);
    assert.deepEqual(Object.keys(decodeHeaders(fromHex('0000'))!), []);
  });

  void it('rejects empty keys and oversized blocks when encoding', () => {
    assert.throws(() => encodeHeaders({ '': 'x' }), RangeError);
    assert.throws(() => encodeHeaders({ big: 'x'.repeat(0xffff) }), RangeError);
    assert.throws(() => encodeHeaders({ a: 'x'.repeat(40_000), b: 'y'.repeat(40_000) }), RangeError);
    assert.throws(() => encodeHeaders({ a: 1 as unknown as string }), TypeError);
  });

  const malformed: [string, string][] = [
    ['empty block', ''],
    ['one byte', '00'],
    ['count larger than the entries', '0002' + '0001' + '61' + '0001' + '62'],
    ['trailing byte after the entries', '0001' + '0001' + '61' + '0001' + '62' + '00'],
    ['count zero with trailing bytes', '0000' + '00'],
    ['empty key', '0001' + '0000' + '0001' + '62'],
    ['key length past the end', '0001' + '0005' + '61'],
    ['value length past the end', '0001' + '0001' + '61' + '0009' + '62'],
    ['missing value length', '0001' + '0001' + '61'],
    ['truncated entry length', '0001' + '00'],
    ['invalid UTF-8 in key', '0001' + '0002' + 'c0af' + '0000'],
    ['invalid UTF-8 in value', '0001' + '0001' + '61' + '0001' + 'ff'],
    ['surrogate in value', '0001' + '0001' + '61' + '0003' + 'eda080'],
  ];
  for (const [name, hex] of malformed) {
    void it(`rejects a malformed block: ${name}`, () => {
      const block = fromHex(hex);
      assert.equal(validateHeaderBlock(block), false);
      assert.equal(decodeHeaders(block), undefined);
    });
  }

  void it('finds reserved keys', () => {
    assert.equal(hasReservedHeader(encodeHeaders({ a: '1', ':from': 'x' })!), true);
    assert.equal(hasReservedHeader(encodeHeaders({ a: '1', 'b:c': 'x' })!), false);
  });

  void it('appends an entry without re-encoding (how the broker stamps :from)', () => {
    const entry = encodeHeaderEntry(FROM_HEADER, 'alice');
    const stamped = appendHeader(encodeHeaders({ a: '1' }), entry)!;
    assert.equal(validateHeaderBlock(stamped), true);
    assert.deepEqual({ ...decodeHeaders(stamped)! }, { a: '1', ':from': 'alice' });
    const fresh = appendHeader(undefined, entry)!;
    assert.deepEqual(fresh, encodeHeaders({ ':from': 'alice' }));
  });

  void it('refuses to append past the 65,535-byte block limit', () => {
    const big = encodeHeaders({ k: 'v'.repeat(0xffff - 2 - 4 - 1 - 3) })!;
    assert.equal(big.length, 0xffff - 3);
    assert.equal(appendHeader(big, encodeHeaderEntry('x', 'y')), undefined);
  });
});

void describe('headers: prototype pollution', () => {
  void it('decodes __proto__, constructor and prototype keys as plain data', () => {
    const block = encodeHeaders(
      record([
        ['__proto__', 'polluted'],
        ['constructor', 'ctor'],
        ['prototype', 'proto'],
        ['toString', 'str'],
        ['hasOwnProperty', 'own'],
      ]),
    )!;
    // The encoder must have seen five own keys (a plain literal would have set the prototype).
    assert.equal((block[0]! << 8) | block[1]!, 5);
    const h = decodeHeaders(block)!;
    assert.equal(Object.getPrototypeOf(h), null);
    assert.equal(h['__proto__'], 'polluted');
    assert.equal(h['constructor'], 'ctor');
    assert.equal(h['toString'], 'str');
    assert.deepEqual(Object.keys(h).sort(), ['__proto__', 'constructor', 'hasOwnProperty', 'prototype', 'toString']);
    // Nothing leaked onto shared prototypes.
    const probe: Record<string, unknown> = {};
    assert.equal(probe['polluted'], undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    assert.equal(typeof ({} as { toString: unknown }).toString, 'function');
    assert.equal(({} as { constructor: unknown }).constructor, Object);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
  });

  void it('decodes a hand-made __proto__ block without touching Object.prototype', () => {
    // { "__proto__": "x" } built byte by byte, then a second entry.
    const block = fromHex('0002' + '0009' + toHex(new TextEncoder().encode('__proto__')) + '0001' + '78' + '0001' + '61' + '0001' + '62');
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    const h = decodeHeaders(block)!;
    assert.equal(h['__proto__'], 'x');
    assert.equal(h['a'], 'b');
    assert.equal(Object.getPrototypeOf(h), null);
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), before);
  });
});

void describe('headers: properties', () => {
  // Keys are non-empty; integer-like keys are excluded only because JS orders them first,
  // which changes the encoding order (not the decoded result).
  const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((k) => !/^\d+$/.test(k));
  const entries = fc.uniqueArray(fc.tuple(key, fc.string({ unit: 'binary', maxLength: 24 })), {
    selector: ([k]) => k,
    maxLength: 8,
  });

  void it('round-trips any set of string headers', () => {
    fc.assert(
      fc.property(entries, (list) => {
        const h = record(list);
        const block = encodeHeaders(h);
        if (list.length === 0) return assert.equal(block, undefined);
        assert.ok(block);
        assert.equal(validateHeaderBlock(block), true);
        const back = decodeHeaders(block)!;
        assert.equal(Object.getPrototypeOf(back), null);
        assert.deepEqual(Object.entries(back), list);
      }),
      { numRuns: 300 },
    );
  });

  void it('never throws on arbitrary bytes, and validation agrees with decoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const ok = validateHeaderBlock(bytes);
        const decoded = decodeHeaders(bytes);
        assert.equal(ok, decoded !== undefined);
      }),
      { numRuns: 500 },
    );
  });

  void it('rejects every strict truncation of a valid block', () => {
    fc.assert(
      fc.property(entries.filter((l) => l.length > 0), fc.nat(), (list, cut) => {
        const block = encodeHeaders(record(list))!;
        const short = block.subarray(0, cut % block.length);
        assert.equal(validateHeaderBlock(short), false);
      }),
      { numRuns: 300 },
    );
  });
});
