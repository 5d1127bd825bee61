import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cbor,
  codecFor,
  contentTypeHeader,
  createCodecRegistry,
  decodeMessage,
  defaultCodecs,
  encodeWith,
  json,
  loadProtoSync,
  msgpack,
  protobufCodec,
} from '../../src/codec/index.js';
import { decodeHeaders, encodeHeaders } from '../../src/wire/index.js';
import { DECODE_FAILED, isCoded } from './helpers.js';

const calcProto = new URL('../../../test/codec/fixtures/calc.proto', import.meta.url).pathname;

void describe('codecs: registry and message helpers', () => {
  void it('codecFor finds the built-ins by content type, ignoring parameters and case', () => {
    assert.equal(contentTypeHeader, 'content-type');
    assert.equal(codecFor('application/json'), json);
    assert.equal(codecFor('application/json; charset=utf-8'), json);
    assert.equal(codecFor(' Application/JSON '), json);
    assert.equal(codecFor('application/msgpack'), msgpack);
    assert.equal(codecFor('application/cbor'), cbor);
    assert.equal(codecFor('text/plain'), undefined);
    assert.deepStrictEqual(defaultCodecs.codecs.map((c) => c.name), ['json', 'msgpack', 'cbor']);
  });

  void it('encodeWith gives the payload and its content-type header; decodeMessage picks the codec from it', () => {
    for (const codec of [json, msgpack, cbor]) {
      const value = { id: 7, tags: ['a', 'b'], nested: { ok: true } };
      const msg = encodeWith(codec, value);
      assert.deepStrictEqual(msg.headers, { 'content-type': codec.contentType });
      assert.deepStrictEqual(decodeMessage(msg.payload, msg.headers), value);
      // Through the wire's header block and back, as a subscriber would see it.
      assert.deepStrictEqual(decodeMessage(msg.payload, decodeHeaders(encodeHeaders(msg.headers))), value);
    }
  });

  void it('no content-type header → the fallback codec (json by default)', () => {
    assert.deepStrictEqual(decodeMessage(json.encode([1]), undefined), [1]);
    assert.deepStrictEqual(decodeMessage(json.encode([1]), {}), [1]);
    assert.deepStrictEqual(decodeMessage(msgpack.encode([2]), { other: 'x' }, msgpack), [2]);
  });

  void it('an unknown content type is a coded error naming it', () => {
    assert.throws(
      () => decodeMessage(json.encode(1), { 'content-type': 'application/x-nope' }),
      (err: unknown) =>
        isCoded(DECODE_FAILED)(err) &&
        (err as { details: { reason: string; contentType: string } }).details.reason === 'unknown-content-type' &&
        (err as { details: { contentType: string } }).details.contentType === 'application/x-nope',
    );
  });

  void it('decodeMessage maxBytes is checked before the codec is chosen', () => {
    const msg = encodeWith(json, 'x'.repeat(100));
    assert.throws(() => decodeMessage(msg.payload, msg.headers, json, { maxBytes: 10 }), isCoded(DECODE_FAILED));
    assert.throws(() => decodeMessage(msg.payload, { 'content-type': 'application/x-nope' }, json, { maxBytes: 10 }), (err: unknown) =>
      isCoded(DECODE_FAILED)(err) && (err as { details: { reason: string } }).details.reason === 'too-large',
    );
  });

  void it('protobuf codecs are found by their exact content type in a registry that has them', () => {
    const root = loadProtoSync(calcProto);
    const add = protobufCodec(root, 'calc.AddRequest');
    const reply = protobufCodec(root, 'calc.AddReply');
    const registry = defaultCodecs.with(add, reply);
    assert.equal(registry.get(add.contentType), add);
    assert.equal(registry.get(reply.contentType), reply);
    assert.equal(registry.get('application/x-protobuf'), undefined, 'the bare media type names no message type');
    assert.equal(codecFor('application/json', registry), json);
    const msg = encodeWith(add, { a: 2, b: 3 });
    assert.deepStrictEqual(decodeMessage(msg.payload, msg.headers, json, { registry }), { a: 2, b: 3 });
    assert.throws(() => decodeMessage(msg.payload, msg.headers), isCoded(DECODE_FAILED), 'not in the default registry');
    // A registry is immutable: with() returns a new one.
    assert.equal(defaultCodecs.get(add.contentType), undefined);
    assert.equal(createCodecRegistry([]).get('application/json'), undefined);
  });
});
