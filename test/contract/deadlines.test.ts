import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { z } from 'zod';
import { defineService, serveService, serviceClient, type HandlerContext, type LogSink } from '../../src/contract/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { codeOf, deferred, rejection, within, type Deferred } from '../helpers/wait.js';

const quiet: LogSink = () => {};
const n = z.number();
const outer = defineService('outer', { version: '1.0.0', methods: { hop: { input: n, output: n } } });
const middle = defineService('middle', { version: '1.0.0', methods: { hop: { input: n, output: n } } });
const inner = defineService('inner', { version: '1.0.0', methods: { hop: { input: n, output: n } } });

interface Seen {
  deadline: number | undefined;
  /** When the inner handler started (its deadline was computed on arrival, before that). */
  startedAt: number;
  reason: unknown;
  readonly started: Deferred;
  readonly aborted: Deferred;
}

/** A 3-hop chain caller → outer → middle → inner; inner waits until its signal aborts. */
async function chain(t: TestContext, middleTimeoutMs?: number) {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup);
  const seen: Seen = { deadline: undefined, startedAt: 0, reason: undefined, started: deferred(), aborted: deferred() };
  const [c1, c2, c3, caller] = [await b.connect(), await b.connect(), await b.connect(), await b.connect()];
  const mid = serviceClient(c1, middle);
  const inn = serviceClient(c2, inner);
  const servers = [
    // No options: deadline and cancellation come from the ambient handler context.
    serveService(c1, outer, { hop: (x) => mid.hop(x + 1) }, { log: quiet }),
    serveService(c2, middle, { hop: (x) => inn.hop(x + 1, middleTimeoutMs !== undefined ? { timeoutMs: middleTimeoutMs } : {}) }, { log: quiet }),
    serveService(
      c3,
      inner,
      {
        hop: (_x: number, ctx: HandlerContext) =>
          new Promise<number>((_resolve, reject) => {
            seen.deadline = ctx.deadline;
            seen.startedAt = Date.now();
            ctx.signal.addEventListener(
              'abort',
              () => {
                seen.reason = ctx.signal.reason;
                seen.aborted.resolve();
                reject(ctx.signal.reason);
              },
              { once: true },
            );
            seen.started.resolve();
          }),
      },
      { log: quiet },
    ),
  ];
  for (const s of servers) {
    cleanup.defer(() => s.close());
    await s.ready();
  }
  return { client: serviceClient(caller, outer), seen };
}

void describe('typed services: deadlines and cancellation across hops', () => {
  void it("the caller's deadline reaches the innermost handler and stops it", async (t) => {
    const { client, seen } = await chain(t);
    const call = client.hop(1, { timeoutMs: 400 });
    await within(seen.started.promise, 2000, 'inner handler started');
    // Each hop passes on what is left (relative, so no clock skew): at the innermost hop
    // at most the caller's 400 ms remain — not the 10 s default a fresh call would get.
    // (Transit time per hop is not subtracted: a loaded machine may add a little.)
    assert.ok(seen.deadline !== undefined && seen.deadline <= seen.startedAt + 400, `inner deadline ${seen.deadline! - seen.startedAt} ms after it started`);
    assert.equal(codeOf(await rejection(call, 3000)), ErrorCode.TIMEOUT);
    await within(seen.aborted.promise, 2000, 'inner handler aborted');
    assert.equal(codeOf(seen.reason), ErrorCode.TIMEOUT);
  });

  void it("the caller's cancel reaches the innermost handler", async (t) => {
    const { client, seen } = await chain(t);
    const ac = new AbortController();
    const call = client.hop(1, { timeoutMs: 10_000, signal: ac.signal });
    await within(seen.started.promise, 2000, 'inner handler started');
    ac.abort(new PlexusError(ErrorCode.CANCELLED, 'user gave up'));
    assert.equal(codeOf(await rejection(call, 2000)), ErrorCode.CANCELLED);
    await within(seen.aborted.promise, 2000, 'inner handler aborted');
    assert.equal(codeOf(seen.reason), ErrorCode.CANCELLED);
  });

  void it('a longer per-call timeout inside a handler cannot extend the deadline; a shorter one shortens it', async (t) => {
    const long = await chain(t, 60_000);
    const call = long.client.hop(1, { timeoutMs: 500 });
    await within(long.seen.started.promise, 2000, 'inner handler started');
    assert.ok(long.seen.deadline! <= long.seen.startedAt + 500, 'still bounded by the caller');
    await rejection(call, 3000);

    const short = await chain(t, 100);
    const call2 = short.client.hop(1, { timeoutMs: 5000 });
    await within(short.seen.started.promise, 2000, 'inner handler started');
    assert.ok(short.seen.deadline! <= short.seen.startedAt + 100, 'shortened by the middle hop');
    await within(short.seen.aborted.promise, 2000, 'inner aborted at the shorter deadline');
    // The middle hop's timeout surfaces to the caller as the TIMEOUT error it raised.
    assert.equal(codeOf(await rejection(call2, 3000)), ErrorCode.TIMEOUT);
  });

  void it('a handler making many nested calls does not pile up listeners on its signal', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const innerConn = await b.connect();
    const outerConn = await b.connect();
    const s1 = serveService(innerConn, inner, { hop: (x) => x }, { log: quiet });
    const inn = serviceClient(outerConn, inner);
    let listeners = -1;
    const s2 = serveService(
      outerConn,
      outer,
      {
        hop: async (x, ctx) => {
          for (let i = 0; i < 50; i++) await inn.hop(i);
          listeners = getEventListeners(ctx.signal, 'abort').length;
          return x;
        },
      },
      { log: quiet },
    );
    for (const s of [s1, s2]) {
      cleanup.defer(() => s.close());
      await s.ready();
    }
    assert.equal(await serviceClient(await b.connect(), outer).hop(7, { timeoutMs: 10_000 }), 7);
    assert.ok(listeners >= 0 && listeners <= 2, `${listeners} abort listeners after 50 nested calls`);
  });
});
