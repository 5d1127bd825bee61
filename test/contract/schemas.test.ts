import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { ServiceError, defineService, serveService, serviceClient, type LogSink, type StandardSchemaV1 } from '../../src/contract/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { rejection } from '../helpers/wait.js';

const quiet: LogSink = () => {};

/** A Standard Schema written by hand: no library at all. Accepts even integers. */
const evenInt: StandardSchemaV1<number, number> = {
  '~standard': {
    version: 1,
    vendor: 'hand-made',
    validate: (value) =>
      Number.isInteger(value) && (value as number) % 2 === 0 ? { value: value as number } : { issues: [{ message: 'not an even integer', path: [{ key: 'n' }] }] },
  },
};

/** A valibot schema that validates asynchronously (a pretend lookup). */
const knownUser = v.pipeAsync(
  v.string(),
  v.checkAsync(async (name) => {
    await new Promise((r) => setTimeout(r, 1));
    return name !== 'mallory';
  }, 'unknown user'),
);

const svc = defineService('schemas', {
  version: '1.0.0',
  methods: {
    half: { input: evenInt, output: evenInt },
    greet: { input: knownUser, output: v.string() },
  },
});

void describe('typed services: any Standard Schema, sync or async', () => {
  void it('a hand-written schema and an async valibot schema validate on both sides', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const srv = serveService(await b.connect(), svc, { half: (n) => n / 2, greet: (name) => `hi ${name}` }, { log: quiet, register: false });
    cleanup.defer(() => srv.close());
    await srv.ready();
    const client = serviceClient(await b.connect(), svc);
    assert.equal(await client.half(8), 4);
    // 6 / 2 = 3 is odd: the server's output validation catches it.
    const out = await rejection(client.half(6), 2000);
    assert.ok(out instanceof ServiceError && out.code === ErrorCode.VALIDATION);
    assert.deepEqual((out.details as { where: string; issues: unknown }).issues, [{ message: 'not an even integer', path: ['n'] }]);
    assert.equal((out.details as { where: string }).where, 'output');
    assert.equal(await client.greet('ann'), 'hi ann');
    const bad = await rejection(client.greet('mallory'), 2000);
    assert.ok(bad instanceof ServiceError && bad.code === ErrorCode.VALIDATION);
    assert.equal((bad.details as { issues: { message: string }[] }).issues[0]?.message, 'unknown user');
    // And the server checks too, when the client does not.
    const server = await rejection(serviceClient(await b.connect(), svc, { validate: false }).greet('mallory'), 2000);
    assert.ok(server instanceof ServiceError && server.code === ErrorCode.VALIDATION);
    assert.equal(srv.stats().greet?.errors, 1);
  });
});
