import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadProto, loadProtoSync, protobufCodec, protoFromJson } from '../../src/codec/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { DECODE_FAILED, ENCODE_FAILED, isCoded } from './helpers.js';

const calcProto = new URL('../../../test/codec/fixtures/calc.proto', import.meta.url).pathname;

void describe('codecs: protobuf', () => {
  void it('a codec per message type from a .proto loaded at run time (sync and async)', async () => {
    for (const root of [loadProtoSync(calcProto), await loadProto(calcProto)]) {
      const req = protobufCodec(root, 'calc.AddRequest');
      const rep = protobufCodec(root, 'calc.AddReply');
      assert.equal(req.name, 'protobuf');
      assert.equal(req.contentType, 'application/x-protobuf; messageType=calc.AddRequest');
      assert.equal(rep.contentType, 'application/x-protobuf; messageType=calc.AddReply');
      assert.deepStrictEqual([...req.encode({ a: 1, b: 2 })], [0x08, 0x01, 0x10, 0x02]);
      assert.deepStrictEqual(rep.decode(rep.encode({ sum: 3 })), { sum: 3 });
    }
  });

  void it('round trips any pair of int32s; zero fields come back as 0', () => {
    const req = protobufCodec(loadProtoSync(calcProto), 'calc.AddRequest');
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (a, b) => {
        assert.deepStrictEqual(req.decode(req.encode({ a, b })), { a, b });
      }),
    );
    assert.deepStrictEqual(req.decode(req.encode({})), { a: 0, b: 0 });
    assert.deepStrictEqual(req.decode(new Uint8Array(0)), { a: 0, b: 0 });
  });

  void it('from a JSON descriptor, the same bytes as from the .proto', () => {
    const fromFile = loadProtoSync(calcProto);
    const fromJson = protoFromJson(fromFile.toJSON());
    const a = protobufCodec(fromFile, 'calc.AddRequest');
    const b = protobufCodec(fromJson, 'calc.AddRequest');
    assert.deepStrictEqual(b.encode({ a: 5, b: -7 }), a.encode({ a: 5, b: -7 }));
    assert.deepStrictEqual(b.decode(a.encode({ a: 5, b: -7 })), { a: 5, b: -7 });
    const literal = protoFromJson({ nested: { calc: { nested: { AddReply: { fields: { sum: { type: 'int32', id: 1 } } } } } } });
    assert.deepStrictEqual(protobufCodec(literal, 'calc.AddReply').decode(a.encode({ a: 9 })), { sum: 9 });
  });

  void it('values that do not fit the schema are ENCODE_FAILED; bad bytes DECODE_FAILED', () => {
    const req = protobufCodec(loadProtoSync(calcProto), 'calc.AddRequest');
    assert.throws(() => req.encode({ a: 1.5 }), isCoded(ENCODE_FAILED));
    assert.throws(() => req.encode({ a: 'x' }), isCoded(ENCODE_FAILED));
    assert.throws(() => req.encode(null), isCoded(ENCODE_FAILED));
    assert.throws(() => req.decode(new Uint8Array([0x08])), isCoded(DECODE_FAILED));
    assert.throws(() => req.decode(new Uint8Array([0x0f, 0xff])), isCoded(DECODE_FAILED));
  });

  void it('an unknown message type, a missing file or a broken schema is INVALID_ARGUMENT', async () => {
    const invalid = isCoded(ErrorCode.INVALID_ARGUMENT);
    assert.throws(() => protobufCodec(loadProtoSync(calcProto), 'calc.Nope'), invalid);
    assert.throws(() => loadProtoSync(`${calcProto}.missing`), invalid);
    await assert.rejects(loadProto(`${calcProto}.missing`), invalid);
    assert.throws(() => protoFromJson({ nested: { B: { fields: { d: { type: 'Missing', id: 1 } } } } }), invalid);
  });
});
