import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { z } from 'zod';
import { ServiceError, defineService, serveService, serviceClient, type HandlerContext, type LogSink } from '../../src/contract/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { codeOf, deferred, rejection, sleep, waitFor, within } from '../helpers/wait.js';

const quiet: LogSink = () => {};
const tracker = defineService('tracker', {
  version: '1.0.0',
  methods: {
    track: { input: z.object({ ride: z.string(), count: z.number().int().max(10_000) }), output: z.object({ seq: z.number(), pad: z.string() }), stream: 'server' },
    sum: { input: z.number(), output: z.object({ total: z.number(), n: z.number() }), stream: 'client' },
  },
});

type Impl = Parameters<typeof serveService<typeof tracker>>[2];

async function setup(t: TestContext, impl: Partial<Impl>) {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup);
  const base: Impl = {
    async *track({ count }) {
      for (let seq = 0; seq < count; seq++) yield { seq, pad: '' };
    },
    async sum(inputs) {
      let total = 0;
      let n = 0;
      for await (const x of inputs) {
        total += x;
        n++;
      }
      return { total, n };
    },
  };
  const srv = serveService(await b.connect(), tracker, { ...base, ...impl }, { log: quiet });
  cleanup.defer(() => srv.close());
  await srv.ready();
  return { client: serviceClient(await b.connect(), tracker), srv };
}

void describe('typed services: streaming methods', () => {
  void it('server-streaming: every item arrives in order, typed', async (t) => {
    const { client, srv } = await setup(t, {});
    const seqs: number[] = [];
    for await (const item of client.track({ ride: 'r1', count: 50 })) {
      const s: number = item.seq;
      seqs.push(s);
    }
    assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i));
    await waitFor(() => srv.running === 0, 2000, 'server call finished');
    assert.equal(srv.stats().track?.errors, 0);
  });

  void it('server-streaming has backpressure: a paused reader holds the producer within the window', async (t) => {
    let produced = 0;
    const pad = 'x'.repeat(60_000);
    const { client } = await setup(t, {
      async *track({ count }) {
        for (let seq = 0; seq < count; seq++) {
          produced++;
          yield { seq, pad };
        }
      },
    });
    const it = client.track({ ride: 'r1', count: 2000 })[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) assert.equal((await within(it.next(), 3000)).value?.seq, i);
    await sleep(300);
    // 2000 × 60 KB would be 120 MB; the 2 MiB stream window allows about 35 items in flight.
    assert.ok(produced < 100, `produced ${produced} while the reader paused`);
    await it.return?.();
  });

  void it('server-streaming: break cancels the handler', async (t) => {
    const aborted = deferred<unknown>();
    const { client } = await setup(t, {
      async *track(_input, ctx: HandlerContext) {
        ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason), { once: true });
        for (let seq = 0; ; seq++) {
          yield { seq, pad: '' };
          await sleep(5);
          if (ctx.signal.aborted) return;
        }
      },
    });
    for await (const item of client.track({ ride: 'r1', count: 1 })) if (item.seq === 3) break;
    assert.equal(codeOf(await within(aborted.promise, 3000, 'handler aborted')), ErrorCode.CANCELLED);
  });

  void it('server-streaming: a handler error after some items reaches the caller as a ServiceError', async (t) => {
    const { client } = await setup(t, {
      async *track() {
        yield { seq: 0, pad: '' };
        throw new ServiceError('RIDE_LOST', 'gps gone', { at: 1 });
      },
    });
    const got: number[] = [];
    const err = await rejection(
      (async () => {
        for await (const item of client.track({ ride: 'r1', count: 1 })) got.push(item.seq);
      })(),
      3000,
    );
    assert.deepEqual(got, [0]);
    assert.ok(err instanceof ServiceError);
    assert.equal(err.code, 'RIDE_LOST');
    assert.deepEqual(err.details, { at: 1 });
  });

  void it('server-streaming: the deadline ends the call on both sides; invalid input is refused', async (t) => {
    const aborted = deferred<unknown>();
    const { client } = await setup(t, {
      // eslint-disable-next-line require-yield -- never yields: waits for its signal
      async *track(_input, ctx: HandlerContext) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted.resolve(ctx.signal.reason);
      },
    });
    const err = await rejection(
      (async () => {
        for await (const _ of client.track({ ride: 'r1', count: 1 }, { timeoutMs: 300 })) void _;
      })(),
      3000,
    );
    assert.equal(codeOf(err), ErrorCode.TIMEOUT);
    assert.ok([ErrorCode.TIMEOUT, ErrorCode.CANCELLED].includes(codeOf(await within(aborted.promise, 3000)) as never));
    const bad = await rejection(
      (async () => {
        for await (const _ of client.track({ ride: 'r1', count: 1e9 })) void _;
      })(),
      3000,
    );
    assert.equal(codeOf(bad), ErrorCode.VALIDATION);
  });

  void it('client-streaming: inputs flow with backpressure and one reply comes back', async (t) => {
    const { client } = await setup(t, {});
    assert.deepEqual(await within(client.sum([1, 2, 3, 4]), 3000), { total: 10, n: 4 });
    async function* many() {
      for (let i = 1; i <= 1000; i++) yield i;
    }
    assert.deepEqual(await within(client.sum(many()), 5000), { total: 500_500, n: 1000 });
  });

  void it('client-streaming: an invalid input item or a handler error fails the call', async (t) => {
    const { client } = await setup(t, {
      async sum(inputs) {
        let n = 0;
        for await (const x of inputs) {
          if (x < 0) throw new ServiceError('NEGATIVE', 'no negatives', { x });
          n++;
        }
        return { total: 0, n };
      },
    });
    const v = await rejection(client.sum([1, 'two' as never, 3]), 3000);
    assert.ok(v instanceof ServiceError);
    assert.equal(v.code, ErrorCode.VALIDATION);
    const e = await rejection(client.sum([1, -2, 3]), 3000);
    assert.ok(e instanceof ServiceError);
    assert.equal(e.code, 'NEGATIVE');
    assert.deepEqual(e.details, { x: -2 });
  });

  void it('a handler that stops reading early still replies, and the caller stops sending', async (t) => {
    const { client } = await setup(t, {
      async sum(inputs) {
        for await (const x of inputs) return { total: x, n: 1 };
        return { total: 0, n: 0 };
      },
    });
    let sent = 0;
    async function* endless() {
      for (let i = 0; i < 1_000_000; i++) {
        sent++;
        yield 7;
      }
    }
    // Generous bound: a loaded machine makes 1 M tiny items slow, but the call must end
    // long before the source does (the caller sees the reply and stops).
    assert.deepEqual(await within(client.sum(endless()), 60_000), { total: 7, n: 1 });
    assert.ok(sent < 500_000, `sent ${sent}`);
  });

  it('streaming handlers see the caller identity the broker stamped on the stream open', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup, { auth: { users: [{ user: 'svc', token: 'tok-svc' }, { user: 'rider', token: 'tok-rider' }] } });
    const seen: string[] = [];
    const impl: Impl = {
      async *track(_input, ctx) {
        seen.push(`track:${ctx.caller}`);
        yield { seq: 0, pad: '' };
      },
      async sum(inputs, ctx) {
        for await (const x of inputs) void x;
        seen.push(`sum:${ctx.caller}`);
        return { total: 0, n: 0 };
      },
    };
    const srv = serveService(await b.connect({ token: 'tok-svc' }), tracker, impl, { log: quiet });
    cleanup.defer(() => srv.close());
    await srv.ready();
    const client = serviceClient(await b.connect({ token: 'tok-rider' }), tracker);
    for await (const item of client.track({ ride: 'r', count: 1 })) void item;
    await client.sum((async function* () {
      yield 1;
    })());
    assert.deepEqual(seen, ['track:rider', 'sum:rider']);
  });
});
