import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { protobufCodec, protoFromJson } from '../../src/codec/index.js';
import { callMethod, defineService, serveService, serviceClient, type LogSink } from '../../src/contract/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';

const quiet: LogSink = () => {};
const root = protoFromJson({
  nested: {
    calc: {
      nested: {
        AddRequest: { fields: { a: { type: 'int32', id: 1 }, b: { type: 'int32', id: 2 } } },
        AddReply: { fields: { sum: { type: 'int32', id: 1 } } },
      },
    },
  },
});
const addRequest = protobufCodec(root, 'calc.AddRequest');
const addReply = protobufCodec(root, 'calc.AddReply');

const calculator = defineService('calculator', {
  version: '1.0.0',
  codec: 'protobuf',
  methods: {
    add: { input: z.object({ a: z.number().int(), b: z.number().int() }), output: z.object({ sum: z.number().int() }), codecs: { input: addRequest, output: addReply } },
  },
});

void describe('typed services: protobuf codecs per method', () => {
  void it('calls go out as the method message type and come back as its reply type; JSON callers still work', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const types: string[] = [];
    const srv = serveService(await b.connect(), calculator, { add: ({ a, b }, ctx) => (types.push(ctx.headers['content-type']!), { sum: a + b }) }, { log: quiet });
    cleanup.defer(() => srv.close());
    await srv.ready();
    const caller = await b.connect();
    const r: { sum: number } = await serviceClient(caller, calculator).add({ a: 2, b: 40 });
    assert.deepEqual(r, { sum: 42 });
    // The method's own codecs win over a per-call codec: this call went as protobuf too.
    const j = await callMethod(caller, calculator, 'add', { a: 1, b: 2 }, { codec: 'json' });
    assert.deepEqual(j, { sum: 3 });
    assert.deepEqual(types, [addRequest.contentType, addRequest.contentType]);
    // A raw JSON request (what the HTTP gateway sends with content-type json) gets JSON back.
    const raw = await caller.request('$SRV.calculator.1.add', JSON.stringify({ a: 5, b: 6 }), { headers: { 'content-type': 'application/json' } });
    assert.deepEqual(raw.json(), { sum: 11 });
    assert.equal(types[2], 'application/json');
  });

  void it("'protobuf' without per-method codecs is refused", () => {
    assert.throws(
      () => defineService('bad', { version: '1.0.0', codec: 'protobuf', methods: { m: { input: z.number(), output: z.number() } } }),
      (e: unknown) => e instanceof PlexusError && e.code === ErrorCode.INVALID_ARGUMENT,
    );
  });
});
