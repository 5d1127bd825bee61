import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { msgpack } from '../../src/codec/index.js';
import {
  ServiceError,
  callMethod,
  methodSubject,
  serveService,
  serviceClient,
  type LogSink,
} from '../../src/contract/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { rejection, rejectionCode, waitFor } from '../helpers/wait.js';
import { calc, rides } from './fixtures.js';

const quiet: LogSink = () => {};

async function setup(t: TestContext) {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup);
  const server = await b.connect();
  const caller = await b.connect();
  return { cleanup, b, server, caller };
}

const ridesImpl = {
  shortestPath: ({ from, to }: { from: { lat: number; lon: number }; to: { lat: number; lon: number } }) => ({
    km: Math.hypot(to.lat - from.lat, to.lon - from.lon) * 111,
    via: ['A', 'B'],
  }),
  book: ({ rider, seats }: { rider: string; seats: number }) => ({ id: `ride-${rider}`, seats }),
  echo: (x: unknown) => x,
};

void describe('typed services: unary calls', () => {
  void it('round-trips typed calls with zod schemas; schema defaults apply on the server', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    const srv = serveService(server, rides, ridesImpl, { log: quiet });
    cleanup.defer(() => srv.close());
    await srv.ready();
    const client = serviceClient(caller, rides);
    const out: { km: number; via: string[] } = await client.shortestPath({ from: { lat: 0, lon: 0 }, to: { lat: 3, lon: 4 } });
    assert.equal(Math.round(out.km), 555);
    assert.deepEqual(out.via, ['A', 'B']);
    // `seats` has a default in the schema: the handler sees 1.
    const booked = await client.book({ rider: 'ann' });
    assert.deepEqual(booked, { id: 'ride-ann', seats: 1 });
    assert.equal(srv.stats().shortestPath?.requests, 1);
    assert.equal(srv.stats().book?.errors, 0);
    if (false as boolean) {
      // @ts-expect-error — the input type comes from the schema
      await client.shortestPath({ from: 'here' });
    }
  });

  void it('round-trips with valibot schemas and the contract codec (msgpack); output transforms run on the server', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    const srv = serveService(server, calc, { add: ({ a, b }) => ({ sum: a + b }), upper: (s) => s }, { log: quiet });
    cleanup.defer(() => srv.close());
    await srv.ready();
    const client = serviceClient(caller, calc);
    const r: { sum: number } = await client.add({ a: 2, b: 40 });
    assert.deepEqual(r, { sum: 42 });
    assert.equal(await client.upper('abc'), 'ABC');
    // The request really went as msgpack: a raw request with that content type is understood.
    const raw = await caller.request(methodSubject(calc, 'add'), msgpack.encode({ a: 1, b: 1 }), { headers: { 'content-type': msgpack.contentType } });
    assert.deepEqual(msgpack.decode(raw.data), { sum: 2 });
  });

  void it('a call may pick another codec; the server answers in it', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    const seen: string[] = [];
    const srv = serveService(server, rides, { ...ridesImpl, echo: (x, ctx) => (seen.push(ctx.headers['content-type'] ?? ''), x) }, { log: quiet });
    cleanup.defer(() => srv.close());
    await srv.ready();
    const client = serviceClient(caller, rides, { codec: 'cbor' });
    const bytes = new Uint8Array([1, 2, 3]);
    const back = (await client.echo({ bytes })) as { bytes: Uint8Array };
    assert.ok(back.bytes instanceof Uint8Array, 'binary survives (json would have made an object)');
    assert.deepEqual([...back.bytes], [1, 2, 3]);
    await client.echo(1, { codec: 'msgpack' });
    assert.deepEqual(seen, ['application/cbor', 'application/msgpack']);
  });

  void it('validates input on the client before sending: no server needed, issues in details', async (t) => {
    const { caller } = await setup(t);
    const client = serviceClient(caller, rides);
    const err = await rejection(client.shortestPath({ from: { lat: 100, lon: 0 }, to: { lat: 0, lon: 0 } }), 2000);
    assert.ok(err instanceof ServiceError);
    assert.equal(err.code, ErrorCode.VALIDATION);
    const details = err.details as { where: string; issues: { message: string; path?: (string | number)[] }[] };
    assert.equal(details.where, 'input');
    assert.deepEqual(details.issues[0]?.path, ['from', 'lat']);
    // Nothing was sent: without the validation the call would have failed with NO_RESPONDERS.
    assert.equal(await rejectionCode(client.shortestPath({ from: { lat: 1, lon: 0 }, to: { lat: 0, lon: 0 } }, { retry: false }), 2000), ErrorCode.NO_RESPONDERS);
  });

  void it('validates input and output on the server', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    const logged: string[] = [];
    const srv = serveService(
      server,
      rides,
      { ...ridesImpl, shortestPath: () => ({ km: -1, via: [] }) },
      { log: (level, message) => logged.push(`${level}: ${message}`) },
    );
    cleanup.defer(() => srv.close());
    await srv.ready();
    const client = serviceClient(caller, rides, { validate: false });
    const bad = await rejection(client.book({ rider: '' }), 2000);
    assert.ok(bad instanceof ServiceError);
    assert.equal(bad.code, ErrorCode.VALIDATION);
    assert.equal((bad.details as { where: string }).where, 'input');
    const out = await rejection(client.shortestPath({ from: { lat: 0, lon: 0 }, to: { lat: 0, lon: 0 } }), 2000);
    assert.ok(out instanceof ServiceError);
    assert.equal((out.details as { where: string }).where, 'output');
    assert.ok(logged.some((l) => l.startsWith('error: ') && l.includes('output schema')));
    assert.equal(srv.stats().shortestPath?.errors, 1);
  });

  void it('ServiceError round-trips with its class, code, message and details', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    const srv = serveService(
      server,
      rides,
      {
        ...ridesImpl,
        book: () => {
          throw new ServiceError('RIDE_UNAVAILABLE', 'no drivers', { retryAfterS: 30, zones: ['north'] });
        },
      },
      { log: quiet },
    );
    cleanup.defer(() => srv.close());
    await srv.ready();
    const err = await rejection(serviceClient(caller, rides).book({ rider: 'ann' }), 2000);
    assert.ok(err instanceof ServiceError);
    assert.equal(err.name, 'ServiceError');
    assert.equal(err.code, 'RIDE_UNAVAILABLE');
    assert.equal(err.message, 'no drivers');
    assert.deepEqual(err.details, { retryAfterS: 30, zones: ['north'] });
  });

  void it('a ServiceError whose details JSON cannot carry still reaches the caller (details replaced)', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    const srv = serveService(
      server,
      rides,
      {
        ...ridesImpl,
        book: () => {
          throw new ServiceError('HUGE', 'has a bigint', { n: 10n });
        },
      },
      { log: quiet },
    );
    cleanup.defer(() => srv.close());
    await srv.ready();
    const err = await rejection(serviceClient(caller, rides).book({ rider: 'ann' }, { timeoutMs: 5000 }), 2000);
    assert.ok(err instanceof ServiceError);
    assert.equal(err.code, 'HUGE');
    assert.deepEqual(err.details, { unserializable: true });
  });

  void it('an unexpected error becomes PLEXUS_ERR_INTERNAL with no message or stack; the log gets it', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    const logged: Record<string, unknown>[] = [];
    const srv = serveService(
      server,
      rides,
      {
        ...ridesImpl,
        book: () => {
          throw new Error('db password is hunter2');
        },
      },
      { log: (_l, message, fields) => logged.push({ message, ...fields }) },
    );
    cleanup.defer(() => srv.close());
    await srv.ready();
    const err = await rejection(serviceClient(caller, rides).book({ rider: 'ann' }, { headers: { 'request-id': 'req-7' } }), 2000);
    assert.ok(err instanceof PlexusError);
    assert.equal(err.code, ErrorCode.INTERNAL);
    assert.doesNotMatch(err.message, /hunter2/);
    assert.match(err.message, /rides\.book.*req-7/);
    assert.equal(err.stack?.includes('hunter2'), false);
    await waitFor(() => logged.length > 0, 2000);
    assert.equal(logged[0]?.requestId, 'req-7');
    assert.equal(logged[0]?.method, 'rides.book');
    assert.match(String(logged[0]?.error), /hunter2/);
  });

  void it('coded PlexusErrors thrown by a handler stay what they are', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    const srv = serveService(
      server,
      rides,
      {
        ...ridesImpl,
        book: () => {
          throw new PlexusError(ErrorCode.PERMISSION_DENIED, 'riders only', { details: { role: 'guest' } });
        },
      },
      { log: quiet },
    );
    cleanup.defer(() => srv.close());
    await srv.ready();
    const err = await rejection(serviceClient(caller, rides).book({ rider: 'ann' }), 2000);
    assert.ok(err instanceof PlexusError);
    assert.equal(err.code, ErrorCode.PERMISSION_DENIED);
    assert.deepEqual(err.details, { role: 'guest' });
  });

  void it('instances share the queue group: requests are spread round-robin', async (t) => {
    const { cleanup, b, caller } = await setup(t);
    const hits = [0, 0];
    for (const i of [0, 1]) {
      const conn = await b.connect();
      const srv = serveService(conn, rides, { ...ridesImpl, echo: (x) => (hits[i]!++, x) }, { log: quiet });
      cleanup.defer(() => srv.close());
    await srv.ready();
    }
    await caller.flush();
    const client = serviceClient(caller, rides);
    for (let i = 0; i < 20; i++) await client.echo(i);
    assert.deepEqual(hits, [10, 10]);
  });

  void it('callMethod calls without static types; the handler sees caller identity and headers', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    let ctxSeen: { caller: string; trace?: string; deadline?: number } | undefined;
    const srv = serveService(
      server,
      rides,
      {
        ...ridesImpl,
        echo: (x, ctx) => {
          ctxSeen = { caller: ctx.caller, trace: ctx.headers.trace, deadline: ctx.deadline };
          return x;
        },
      },
      { log: quiet },
    );
    cleanup.defer(() => srv.close());
    await srv.ready();
    const before = Date.now();
    assert.deepEqual(await callMethod(caller, rides, 'echo', { n: 1 }, { headers: { trace: 't1' }, timeoutMs: 3000 }), { n: 1 });
    assert.equal(ctxSeen?.trace, 't1');
    assert.ok(ctxSeen.caller.length > 0, 'caller identity stamped');
    assert.ok(ctxSeen.deadline !== undefined && ctxSeen.deadline >= before + 2000 && ctxSeen.deadline <= Date.now() + 3000);
    assert.equal(await rejectionCode(callMethod(caller, rides, 'nope', 1), 1000), ErrorCode.INVALID_ARGUMENT);
  });

  void it('refuses an implementation that lacks a method', async (t) => {
    const { server } = await setup(t);
    assert.throws(() => serveService(server, rides, { echo: (x: unknown) => x } as never), (e: unknown) => e instanceof PlexusError && e.code === ErrorCode.INVALID_ARGUMENT);
  });

  void it('decoding on the service path is safe against __proto__ and constructor keys', async (t) => {
    const { cleanup, server, caller } = await setup(t);
    let seen: unknown;
    const srv = serveService(server, rides, { ...ridesImpl, echo: (x) => ((seen = x), x) }, { log: quiet });
    cleanup.defer(() => srv.close());
    await srv.ready();
    const hostile = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":1}';
    const reply = await caller.request(methodSubject(rides, 'echo'), hostile, { headers: { 'content-type': 'application/json' } });
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal(Object.getPrototypeOf(seen), Object.prototype);
    assert.equal(Object.prototype.hasOwnProperty.call(seen, '__proto__'), false);
    assert.equal((seen as { a: number }).a, 1);
    assert.equal(JSON.parse(reply.string()).__proto__?.polluted, undefined);
    // msgpack through a typed client, with a key that would pollute on a naive decoder.
    const out = await serviceClient(caller, rides, { codec: 'msgpack' }).echo(JSON.parse(hostile));
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });
});
