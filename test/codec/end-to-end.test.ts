import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cbor, decodeMessage, defaultCodecs, encodeWith, json, loadProtoSync, msgpack, protobufCodec } from '../../src/codec/index.js';
import { Cleanup, startTestBroker, take } from '../helpers/plexus.js';
import { within } from '../helpers/wait.js';

const calcProto = new URL('../../../test/codec/fixtures/calc.proto', import.meta.url).pathname;

void describe('codecs: through a broker', { timeout: 30_000 }, () => {
  void it('publish with each codec; the subscriber decodes by the content-type header', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const sub = await b.connect();
    const pub = await b.connect();
    const s = sub.subscribe('orders.>');
    await sub.flush();
    const value = { id: 7, items: [{ sku: 'a', qty: 2 }], at: 1763780000123 };
    for (const codec of [json, msgpack, cbor]) {
      const { payload, headers } = encodeWith(codec, value);
      pub.publish(`orders.${codec.name}`, payload, { headers });
    }
    const got = await take(s, 3, 5000);
    for (const msg of got) {
      assert.equal(msg.headers['content-type'], `application/${msg.subject.split('.')[1]}`);
      assert.deepStrictEqual(decodeMessage(msg.data, msg.headers), value);
    }
  });

  void it('calc.Add over request/reply with protobuf payloads', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const root = loadProtoSync(calcProto);
    const addRequest = protobufCodec(root, 'calc.AddRequest');
    const addReply = protobufCodec(root, 'calc.AddReply');
    const registry = defaultCodecs.with(addRequest, addReply);
    const svc = await b.connect();
    svc.serve('calc.add', (msg) => {
      const { a, b: bb } = decodeMessage(msg.data, msg.headers, json, { registry }) as { a: number; b: number };
      const reply = encodeWith(addReply, { sum: a + bb });
      msg.respond(reply.payload, { headers: reply.headers });
    });
    await svc.flush();
    const caller = await b.connect();
    const req = encodeWith(addRequest, { a: 40, b: 2 });
    const r = await within(caller.request('calc.add', req.payload, { headers: req.headers, timeout: 5000 }), 6000);
    assert.equal(r.headers['content-type'], 'application/x-protobuf; messageType=calc.AddReply');
    assert.deepStrictEqual(decodeMessage(r.data, r.headers, json, { registry }), { sum: 42 });
  });
});
