import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestContext } from '../../src/client/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Flag, FrameType } from '../../src/wire/index.js';
import { spawnNode } from '../helpers/child.js';
import { RawClient } from '../helpers/raw.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { codeOf, deferred, type Deferred, rejection, rejectionCode, sleep, waitFor, within } from '../helpers/wait.js';

/** What a {@link hanging} handler saw. */
interface Probe {
  ctx?: RequestContext;
  reason?: unknown;
  readonly started: Deferred;
  readonly aborted: Deferred;
}

/** A handler that never answers on its own; it records its context and waits for abort. */
function hanging(seen: Probe) {
  return (_msg: unknown, ctx: RequestContext): Promise<string> => {
    seen.ctx = ctx;
    seen.started.resolve();
    return new Promise<string>((resolve) => {
      ctx.signal.addEventListener(
        'abort',
        () => {
          seen.reason = ctx.signal.reason;
          seen.aborted.resolve();
          resolve('too late');
        },
        { once: true },
      );
    });
  };
}

function probe(): Probe {
  return { started: deferred(), aborted: deferred() };
}

describe('request/reply', { timeout: 30_000 }, () => {
  it('answers a request, with the caller identity and deadline in the context', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const svc = await b.connect();
    let ctxSeen: RequestContext | undefined;
    svc.serve('math.double', (msg, ctx) => {
      ctxSeen = ctx;
      return String(Number(msg.string()) * 2);
    });
    await svc.flush();
    const caller = await b.connect();
    const before = Date.now();
    const r = await within(caller.request('math.double', '21', { timeout: 5000 }), 6000);
    assert.equal(r.string(), '42');
    assert.equal(ctxSeen!.from, 'anonymous');
    assert.ok(ctxSeen!.deadline! >= before + 4000 && ctxSeen!.deadline! <= Date.now() + 5000, 'deadline propagated');
    assert.equal(b.broker.status().trackedRequests, 0, 'answered requests are not tracked any more');
  });

  it('no responders rejects with PLEXUS_ERR_NO_RESPONDERS well before the timeout', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const caller = await b.connect();
    const code = await rejectionCode(caller.request('nobody.home', 'x', { timeout: 10_000 }), 8000, 'no-responders request');
    assert.equal(code, ErrorCode.NO_RESPONDERS);
    assert.equal(b.broker.status().counters.noResponders, 1);
  });

  it('times out with PLEXUS_ERR_TIMEOUT, and the responder sees the deadline as PLEXUS_ERR_TIMEOUT', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const svc = await b.connect();
    const seen = probe();
    svc.serve('slow', hanging(seen));
    await svc.flush();
    const caller = await b.connect();
    const code = await rejectionCode(caller.request('slow', '', { timeout: 200 }), 5000, 'timed-out request');
    assert.equal(code, ErrorCode.TIMEOUT);
    await within(seen.aborted.promise, 3000, 'responder signal');
    assert.equal(codeOf(seen.reason), ErrorCode.TIMEOUT, `responder saw ${String(seen.reason)}`);
  });

  it('an AbortSignal cancels the request and reaches the responder as PLEXUS_ERR_CANCELLED', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const svc = await b.connect();
    const seen = probe();
    svc.serve('cancel.me', hanging(seen));
    await svc.flush();
    const caller = await b.connect();
    const ac = new AbortController();
    const p = caller.request('cancel.me', '', { timeout: 10_000, signal: ac.signal });
    await within(seen.started.promise, 3000, 'handler started');
    const why = new PlexusError(ErrorCode.CANCELLED, 'user clicked stop');
    ac.abort(why);
    assert.equal(await rejection(p, 1000, 'cancelled request'), why, 'rejects with the signal reason');
    await within(seen.aborted.promise, 3000, 'responder signal');
    assert.equal(codeOf(seen.reason), ErrorCode.CANCELLED);
    await waitFor(() => b.broker.status().trackedRequests === 0, 3000, 'tracking released');
  });

  it('a cancel reaches every handler on one connection that got the request', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const svc = await b.connect();
    const first = probe();
    const second = probe();
    // Two queue groups on one connection: the broker delivers the request to both.
    svc.serve('twice', hanging(first), { queue: 'a' });
    svc.serve('twice', hanging(second), { queue: 'b' });
    await svc.flush();
    const caller = await b.connect();
    const ac = new AbortController();
    const p = caller.request('twice', '', { timeout: 10_000, signal: ac.signal });
    await within(Promise.all([first.started.promise, second.started.promise]), 3000, 'both handlers started');
    ac.abort(new PlexusError(ErrorCode.CANCELLED, 'stop'));
    await rejection(p, 1000, 'cancelled request');
    await within(Promise.all([first.aborted.promise, second.aborted.promise]), 3000, 'both responder signals');
    assert.equal(codeOf(first.reason), ErrorCode.CANCELLED);
    assert.equal(codeOf(second.reason), ErrorCode.CANCELLED);
  });

  it('a cancel right after sending still reaches the responder (it must not overtake its request)', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const svc = await b.connect();
    const seen = probe();
    svc.serve('cancel.fast', hanging(seen));
    await svc.flush();
    const caller = await b.connect();
    const ac = new AbortController();
    const p = caller.request('cancel.fast', '', { timeout: 20_000, signal: ac.signal });
    ac.abort(); // same tick: the PUB is still in the bulk lane, the CANCEL goes on the control lane
    await rejection(p, 1000);
    // Either the responder never runs, or it is told to stop: it must not be left hanging.
    const outcome = await within(
      Promise.race([seen.aborted.promise.then(() => 'aborted'), new Promise((r) => setTimeout(() => r('idle'), 500))]),
      3000,
    );
    if (seen.ctx) assert.equal(outcome, 'aborted', 'the responder got the request but never the cancel');
  });

  it('a handler error with a code reaches the caller with the same code; a plain throw is HANDLER_FAILED', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const svc = await b.connect();
    svc.serve('fail.coded', async () => {
      throw new PlexusError(ErrorCode.PERMISSION_DENIED, 'you may not', { details: { need: 'admin' } });
    });
    svc.serve('fail.sync', () => {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'bad input');
    });
    svc.serve('fail.plain', () => {
      throw new TypeError('oops');
    });
    await svc.flush();
    const caller = await b.connect();
    const e1 = (await rejection(caller.request('fail.coded', '', { timeout: 3000 }), 4000)) as PlexusError;
    assert.equal(e1.code, ErrorCode.PERMISSION_DENIED);
    assert.equal(e1.message, 'you may not');
    assert.deepEqual(e1.details, { need: 'admin' });
    assert.ok(e1 instanceof PlexusError);
    assert.equal(await rejectionCode(caller.request('fail.sync', '', { timeout: 3000 }), 4000), ErrorCode.INVALID_ARGUMENT);
    const e3 = (await rejection(caller.request('fail.plain', '', { timeout: 3000 }), 4000)) as PlexusError;
    assert.equal(e3.code, ErrorCode.HANDLER_FAILED);
    assert.match(e3.message, /oops/);
  });

  it('the responder process dying mid-request gives the caller PLEXUS_ERR_RESPONDER_GONE quickly', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const child = await spawnNode(c, new URL('./fixtures/responder.js', import.meta.url), [b.url]);
    await child.waitLine(/^ready$/, 10_000);
    const caller = await b.connect();
    const p = caller.request('slow.op', '', { timeout: 20_000 });
    const outcome = rejectionCode(p, 5000, 'request to a dead responder');
    await child.waitLine(/^got slow\.op$/, 5000);
    await child.kill();
    assert.equal(await outcome, ErrorCode.RESPONDER_GONE);
  });

  it('a responder closing its connection mid-request also gives RESPONDER_GONE', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const svc = await b.connect({ reconnect: false });
    const seen = probe();
    svc.serve('closing', hanging(seen));
    await svc.flush();
    const caller = await b.connect();
    const p = caller.request('closing', '', { timeout: 20_000 });
    await within(seen.started.promise, 3000, 'handler started');
    await svc.close();
    assert.equal(await rejectionCode(p, 5000), ErrorCode.RESPONDER_GONE);
  });

  it("the requester dying fires the responder's signal", async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const svc = await b.connect();
    const seen = probe();
    svc.serve('orphan', hanging(seen));
    await svc.flush();
    const caller = await b.connect({ reconnect: false });
    const p = caller.request('orphan', '', { timeout: 20_000 });
    p.catch(() => undefined);
    await within(seen.started.promise, 3000, 'handler started');
    await caller.close();
    assert.equal(await rejectionCode(p, 1000), ErrorCode.CONNECTION_CLOSED);
    await within(seen.aborted.promise, 3000, 'responder signal');
    assert.equal(codeOf(seen.reason), ErrorCode.CANCELLED);
    await waitFor(() => b.broker.status().trackedRequests === 0, 3000, 'tracking released');
  });

  it('requests spread over a queue group of responders', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const counts = [0, 0];
    for (const i of [0, 1]) {
      const s = await b.connect();
      s.serve('lb', () => {
        counts[i]!++;
        return String(i);
      });
      await s.flush();
    }
    const caller = await b.connect();
    const replies = await within(Promise.all(Array.from({ length: 200 }, () => caller.request('lb', '', { timeout: 5000 }))), 6000);
    assert.equal(replies.length, 200);
    assert.equal(counts[0]! + counts[1]!, 200, 'each request answered once');
    assert.ok(counts[0]! > 40 && counts[1]! > 40, `spread ${counts}`);
  });

  it('very long timeouts are honoured, not turned into 1 ms timers', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const svc = await b.connect();
    const signals: AbortSignal[] = [];
    svc.serve('slow', async (_m, ctx) => {
      signals.push(ctx.signal);
      await sleep(100);
      return ctx.signal.aborted ? `aborted: ${String(ctx.signal.reason)}` : 'fine';
    });
    await svc.flush();
    const caller = await b.connect();
    const longest = 2 ** 31 - 1; // the largest timer Node can set (~24.8 days)
    const p = caller.request('slow', '', { timeout: longest });
    await sleep(50);
    assert.equal(b.broker.status().trackedRequests, 1, 'the broker still tracks it');
    assert.equal((await within(p, 3000)).string(), 'fine');
    // Longer than a timer can be: refused up front instead of firing at once.
    assert.equal(await rejectionCode(caller.request('slow', '', { timeout: 2 ** 31 }), 1000), ErrorCode.INVALID_ARGUMENT);
    // A raw peer may put any u32 in aux: the broker and the responder must cope.
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    raw.send({ type: FrameType.SUB, id: 2, subject: '_INBOX.raw.>' });
    raw.send({ type: FrameType.PUB, flags: Flag.REQUEST, aux: 0xffffffff, subject: 'slow', reply: '_INBOX.raw.1' });
    const reply = await raw.waitFrame((f) => f.type === FrameType.MSG, 3000, 'reply to the raw request');
    assert.equal(Buffer.from(reply.payload).toString(), 'fine');
    assert.equal(signals.length, 2);
  });

  it('validates its arguments and an already-aborted signal', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'inproc' });
    const caller = await b.connect();
    assert.equal(await rejectionCode(caller.request('x', '', { timeout: -1 }), 1000), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await rejectionCode(caller.request('x.*', ''), 1000), ErrorCode.INVALID_SUBJECT);
    const reason = new PlexusError(ErrorCode.CANCELLED, 'before');
    assert.equal(await rejection(caller.request('x', '', { signal: AbortSignal.abort(reason) }), 1000), reason);
  });
});
