import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cbor, json, msgpack } from '../../src/codec/index.js';
import { model, schemaless } from './helpers.js';

void describe('codecs: round trips', () => {
  for (const { codec, proto } of schemaless) {
    void it(`${codec.name}: any JSON value survives encode → decode`, () => {
      fc.assert(
        fc.property(fc.jsonValue(), (v) => {
          assert.deepStrictEqual(model(codec.decode(codec.encode(v)), 'keep'), model(v, proto));
        }),
        { numRuns: 300 },
      );
    });

    void it(`${codec.name}: full Unicode strings and keys survive`, () => {
      fc.assert(
        fc.property(fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' })), (v) => {
          assert.deepStrictEqual(model(codec.decode(codec.encode(v)), 'keep'), model(v, proto));
        }),
        { numRuns: 200 },
      );
    });

    void it(`${codec.name}: the output is a Uint8Array`, () => {
      assert.ok(codec.encode({ a: 1 }) instanceof Uint8Array);
    });
  }

  for (const codec of [msgpack, cbor]) {
    void it(`${codec.name}: Uint8Array, Date, undefined and safe integers survive`, () => {
      const value = fc.record({
        bin: fc.uint8Array({ maxLength: 300 }),
        when: fc.date({ noInvalidDate: true, min: new Date(-8.64e12), max: new Date(8.64e12) }),
        nothing: fc.constant(undefined),
        int: fc.maxSafeInteger(),
        nested: fc.array(fc.record({ b: fc.uint8Array({ maxLength: 8 }), f: fc.double({ noNaN: true }) }), { maxLength: 4 }),
      });
      fc.assert(
        fc.property(value, (v) => {
          const back = codec.decode(codec.encode(v)) as Record<string, unknown>;
          assert.ok(back['bin'] instanceof Uint8Array);
          assert.ok(back['when'] instanceof Date);
          assert.deepStrictEqual(model(back, 'keep'), model(v, 'keep'));
        }),
        { numRuns: 200 },
      );
    });
  }

  void it('json: Date becomes its ISO string, Uint8Array an index-keyed object, undefined fields vanish', () => {
    const back = json.decode(json.encode({ d: new Date(0), b: new Uint8Array([1, 2]), u: undefined }));
    assert.deepStrictEqual(back, { d: '1970-01-01T00:00:00.000Z', b: { 0: 1, 1: 2 } });
  });

  void it('json: the output is UTF-8 JSON text', () => {
    assert.equal(new TextDecoder().decode(json.encode({ a: 'é', b: [1, null] })), '{"a":"é","b":[1,null]}');
  });

  void it('msgpack and cbor: binary in the decoded value does not share the payload buffer', () => {
    for (const codec of [msgpack, cbor]) {
      const payload = codec.encode({ b: new Uint8Array([7, 7, 7]) });
      const back = codec.decode(payload) as { b: Uint8Array };
      payload.fill(0);
      assert.deepStrictEqual([...back.b], [7, 7, 7], codec.name);
    }
  });
});
