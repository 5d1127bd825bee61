import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cbor, cborCodec, json, jsonCodec, msgpack, msgpackCodec, protobufCodec, protoFromJson } from '../../src/codec/index.js';
import type { Codec } from '../../src/codec/index.js';
import { assertOrdinaryPrototypes, DECODE_FAILED, ENCODE_FAILED, isCoded } from './helpers.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** A protobuf type with a string-keyed map of messages: the one place protobuf data names keys. */
const bagDescriptor = {
  nested: {
    hostile: {
      nested: {
        Inner: { fields: { polluted: { type: 'bool', id: 1 } } },
        Bag: { fields: { m: { keyType: 'string', type: 'Inner', id: 1 }, s: { keyType: 'string', type: 'string', id: 2 } } },
      },
    },
  },
};
const bagRoot = protoFromJson(bagDescriptor);
const bag = protobufCodec(bagRoot, 'hostile.Bag');

/** map entry `key` → Inner { polluted: true }, as field 1 of Bag. */
function bagEntry(key: string): number[] {
  const k = ascii(key);
  const entry = [0x0a, k.length, ...k, 0x12, 0x02, 0x08, 0x01];
  return [0x0a, entry.length, ...entry];
}

/** Hostile payloads per codec, built byte by byte (not by our own encoder). */
const hostile: Record<string, Uint8Array[]> = {
  json: [
    utf8('{"__proto__":{"polluted":true}}'),
    utf8('{"\\u005f_proto__":{"polluted":true}}'),
    utf8('{"a":[{"__proto__":{"polluted":true}}],"constructor":{"prototype":{"polluted":true}}}'),
    utf8('{"prototype":{"polluted":true},"__proto__":null}'),
  ],
  msgpack: [
    // {"__proto__": {"polluted": true}}
    new Uint8Array([0x81, 0xa9, ...ascii('__proto__'), 0x81, 0xa8, ...ascii('polluted'), 0xc3]),
    // {"constructor": {"prototype": {"polluted": true}}}
    new Uint8Array([0x81, 0xab, ...ascii('constructor'), 0x81, 0xa9, ...ascii('prototype'), 0x81, 0xa8, ...ascii('polluted'), 0xc3]),
    // msgpackr's error extension (0x65) naming "__proto__" and "constructor" as the class
    new Uint8Array([0xd4, 0x65, 0x00]),
    new Uint8Array([0xc7, 0x00, 0x65, 0x93, 0xa9, ...ascii('__proto__'), 0xa1, 0x78, 0xc0]),
    new Uint8Array([0xc7, 0x00, 0x65, 0x93, 0xab, ...ascii('constructor'), 0x81, 0xa8, ...ascii('polluted'), 0xc3, 0xc0]),
  ],
  cbor: [
    // {"__proto__": {"polluted": true}}
    new Uint8Array([0xa1, 0x69, ...ascii('__proto__'), 0xa1, 0x68, ...ascii('polluted'), 0xf5]),
    // {"constructor": {"prototype": {"polluted": true}}}
    new Uint8Array([0xa1, 0x6b, ...ascii('constructor'), 0xa1, 0x69, ...ascii('prototype'), 0xa1, 0x68, ...ascii('polluted'), 0xf5]),
    // tag 27 (generic object) naming "__proto__" and "constructor" as the class
    new Uint8Array([0xd8, 0x1b, 0x82, 0x69, ...ascii('__proto__'), 0xa1, 0x68, ...ascii('polluted'), 0xf5]),
    new Uint8Array([0xd8, 0x1b, 0x82, 0x6b, ...ascii('constructor'), 0xa1, 0x68, ...ascii('polluted'), 0xf5]),
  ],
  protobuf: [
    new Uint8Array(bagEntry('__proto__')),
    new Uint8Array([...bagEntry('constructor'), ...bagEntry('prototype')]),
    // s: {"__proto__": "x"}
    new Uint8Array([0x12, 0x0e, 0x0a, 0x09, ...ascii('__proto__'), 0x12, 0x01, 0x78]),
  ],
};

const codecs: Codec[] = [json, msgpack, cbor, bag];

function assertNotPolluted(): void {
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype was polluted');
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  assert.equal(([] as unknown as Record<string, unknown>)['polluted'], undefined);
}

void describe('codecs: prototype pollution', () => {
  afterEach(() => {
    // Keep one failure from leaking into every later test.
    delete (Object.prototype as Record<string, unknown>)['polluted'];
  });

  for (const codec of codecs) {
    void it(`${codec.name}: crafted __proto__ / constructor / prototype payloads change no prototype`, () => {
      for (const payload of hostile[codec.name]!) {
        let value: unknown;
        try {
          value = codec.decode(payload);
        } catch (err) {
          assert.ok(isCoded(DECODE_FAILED)(err), `${codec.name}: a refused payload must be a coded error`);
          assertNotPolluted();
          continue;
        }
        assertNotPolluted();
        assertOrdinaryPrototypes(value);
        // Copying the decoded data must not pollute either (the classic merge gadget).
        if (typeof value === 'object' && value !== null) Object.assign({}, value);
        assertNotPolluted();
      }
    });
  }

  void it('json drops __proto__ keys (also spelled with \\u escapes) and keeps constructor/prototype as data', () => {
    assert.deepStrictEqual(json.decode(hostile['json']![0]!), {});
    assert.deepStrictEqual(json.decode(hostile['json']![1]!), {});
    const v = json.decode(hostile['json']![2]!) as Record<string, unknown>;
    assert.deepStrictEqual(v['a'], [{}]);
    assert.deepStrictEqual(v['constructor'], { prototype: { polluted: true } });
  });

  void it('msgpack and cbor rename __proto__ keys to __proto_', () => {
    for (const [codec, payload] of [
      [msgpack, hostile['msgpack']![0]!],
      [cbor, hostile['cbor']![0]!],
    ] as const) {
      const v = codec.decode(payload) as Record<string, unknown>;
      assert.deepStrictEqual(Object.keys(v), ['__proto_'], codec.name);
      assert.equal(Object.getPrototypeOf(v), Object.prototype);
    }
  });

  void it('protobuf map keys named __proto__ are not set as prototypes', () => {
    const v = bag.decode(hostile['protobuf']![0]!) as { m: Record<string, unknown> };
    assert.equal(Object.getPrototypeOf(v.m), Object.prototype);
    assert.deepStrictEqual(Object.keys(v.m), [], 'the __proto__ entry is dropped');
    assert.deepStrictEqual(Object.keys(bag.decode(hostile['protobuf']![1]!) as object).sort(), ['m', 's']);
    assert.deepStrictEqual(Object.keys((bag.decode(hostile['protobuf']![1]!) as { m: object }).m).sort(), ['constructor', 'prototype']);
  });

  for (const codec of [json, msgpack, cbor]) {
    void it(`${codec.name}: arbitrary objects with dangerous keys decode safely`, () => {
      const key = fc.constantFrom('__proto__', 'constructor', 'prototype', 'polluted', 'a');
      const tree = fc.letrec((tie) => ({
        node: fc.oneof({ depthSize: 'small' }, fc.boolean(), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(key, tie('node'), { maxKeys: 4 })),
      })).node;
      fc.assert(
        fc.property(tree, (v) => {
          const payload = codec.name === 'json' ? utf8(JSON.stringify(v)) : codec.encode(v);
          const back = codec.decode(payload);
          assertNotPolluted();
          assertOrdinaryPrototypes(back);
        }),
        { numRuns: 300 },
      );
    });
  }
});

void describe('codecs: bad input', () => {
  for (const codec of [json, msgpack, cbor]) {
    void it(`${codec.name}: every truncation of a valid payload is a coded error or a shorter valid value`, () => {
      const payload = codec.encode({ id: 12345, name: 'order', items: [{ sku: 'a-1', qty: 2 }], note: 'é' });
      for (let n = 0; n < payload.length; n++) {
        assert.throws(() => codec.decode(payload.subarray(0, n)), isCoded(DECODE_FAILED), `${codec.name}: ${n} of ${payload.length} bytes`);
      }
    });

    void it(`${codec.name}: random bytes never throw anything but the coded error`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          try {
            codec.decode(bytes);
          } catch (err) {
            assert.ok(isCoded(DECODE_FAILED)(err), String(err));
          }
          assertNotPolluted();
        }),
        { numRuns: 1000 },
      );
    });
  }

  void it('json: invalid UTF-8 is a coded error', () => {
    assert.throws(() => json.decode(new Uint8Array([0x22, 0xff, 0x22])), isCoded(DECODE_FAILED));
  });

  void it('protobuf: truncated and garbage input is a coded error', () => {
    const payload = bag.encode({ s: { k: 'value' } });
    for (let n = 1; n < payload.length; n++) assert.throws(() => bag.decode(payload.subarray(0, n)), isCoded(DECODE_FAILED));
    assert.throws(() => bag.decode(new Uint8Array([0xff, 0xff, 0xff, 0xff])), isCoded(DECODE_FAILED));
  });

  void it('a non-Uint8Array payload is a coded error', () => {
    for (const codec of codecs) assert.throws(() => codec.decode('{}' as unknown as Uint8Array), isCoded(DECODE_FAILED));
  });

  void it('values with no encoding are ENCODE_FAILED', () => {
    assert.throws(() => json.encode(undefined), isCoded(ENCODE_FAILED));
    assert.throws(() => json.encode(() => 1), isCoded(ENCODE_FAILED));
    assert.throws(() => json.encode(10n), isCoded(ENCODE_FAILED));
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.throws(() => json.encode(cyclic), isCoded(ENCODE_FAILED));
    assert.throws(() => bag.encode('nope'), isCoded(ENCODE_FAILED));
    assert.throws(() => bag.encode({ s: 5 }), isCoded(ENCODE_FAILED));
  });
});

void describe('codecs: size limit', () => {
  void it('the default limit is 1 MiB, checked before parsing', () => {
    for (const codec of codecs) {
      const big = new Uint8Array(1024 * 1024 + 1); // not valid in any codec: only the size is looked at
      assert.throws(
        () => codec.decode(big),
        (err: unknown) => isCoded(DECODE_FAILED)(err) && (err as { details: { reason: string } }).details.reason === 'too-large',
        codec.name,
      );
    }
  });

  void it('maxBytes is configurable per codec', () => {
    for (const make of [jsonCodec, msgpackCodec, cborCodec]) {
      const codec = make({ maxBytes: 16 });
      const ok = codec.encode('x'.repeat(8));
      assert.equal(codec.decode(ok), 'x'.repeat(8));
      assert.throws(() => codec.decode(codec.encode('x'.repeat(32))), isCoded(DECODE_FAILED), codec.name);
    }
    const small = protobufCodec(bagRoot, 'hostile.Bag', { maxBytes: 4 });
    assert.throws(() => small.decode(bag.encode({ s: { key: 'value' } })), isCoded(DECODE_FAILED));
  });

  void it('a bad maxBytes is INVALID_ARGUMENT', () => {
    assert.throws(() => jsonCodec({ maxBytes: -1 }), /maxBytes/);
    assert.throws(() => msgpackCodec({ maxBytes: 1.5 }), /maxBytes/);
  });
});
