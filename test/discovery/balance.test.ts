/** Least-pending balancing and version ranges over instance subjects. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceBalancer, registerInstance } from '../../src/discovery/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { rejectionCode, waitFor, within } from '../helpers/wait.js';

describe('balancing', { timeout: 30_000 }, () => {
  it('least-pending sends to the instance with the fewest of this client’s requests in flight', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const slowBus = await b.connect();
    const fastBus = await b.connect();
    const me = await b.connect();
    const slow = await registerInstance(slowBus, { name: 'work', version: '1.0.0', id: 'slow', endpoints: ['work.do'] });
    const fast = await registerInstance(fastBus, { name: 'work', version: '1.0.0', id: 'fast', endpoints: ['work.do'] });
    const hits = { slow: 0, fast: 0 };
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    slow.serve('work.do', async () => {
      hits.slow++;
      await gate;
      return 'slow';
    });
    fast.serve('work.do', () => {
      hits.fast++;
      return 'fast';
    });
    await slowBus.flush();
    await fastBus.flush();

    const lp = new ServiceBalancer(me, 'work', { strategy: 'least-pending' });
    // Two at once: one each (a tie is broken by rotation, then the other is idle).
    const held = [lp.request('work.do', ''), lp.request('work.do', '')];
    // ... and the fast one's answer is back (until then both hold one of ours: a tie).
    await waitFor(() => hits.slow === 1 && hits.fast === 1 && !lp.inFlight.has('fast'), 3000, 'one request on each instance');
    assert.equal(lp.inFlight.get('slow'), 1);
    // While the slow one holds a request of ours, every new one goes to the idle instance.
    for (let i = 0; i < 5; i++) assert.equal((await lp.request('work.do', '', { timeout: 3000 })).string(), 'fast');
    assert.deepEqual(hits, { slow: 1, fast: 6 });
    openGate();
    assert.deepEqual((await within(Promise.all(held), 3000, 'held requests')).map((m) => m.string()).sort(), ['fast', 'slow']);
    assert.equal(lp.inFlight.size, 0);
    // The stats each instance keeps saw the same.
    assert.equal(fast.stats().endpoints['work.do']!.requests, 6);
    assert.equal(slow.stats().endpoints['work.do']!.requests, 1);
    // Round-robin (the default) goes through the queue group: the broker picks.
    const rr = new ServiceBalancer(me, 'work');
    const route = await rr.route('work.do');
    assert.equal(route.subject, 'work.do');
    assert.equal(route.instance, undefined);
    // Per-call override.
    const direct = await rr.route('work.do', 'least-pending');
    assert.match(direct.subject, /^\$PLX\.I\.(slow|fast)\.work\.do$/);
    direct.release();
  });

  it('a version range reaches only matching instances, and none matching is a coded error', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const v1Bus = await b.connect();
    const v2Bus = await b.connect();
    const me = await b.connect();
    const v1 = await registerInstance(v1Bus, { name: 'calc', version: '1.9.0', id: 'calc-v1', endpoints: ['calc.add'] });
    const v2 = await registerInstance(v2Bus, { name: 'calc', version: '2.3.0', id: 'calc-v2', endpoints: ['calc.add'] });
    // Same name and a matching version, but it does not serve calc.add: never picked for it.
    await registerInstance(v2Bus, { name: 'calc', version: '2.5.0', id: 'calc-mul', endpoints: ['calc.mul'] });
    v1.serve('calc.add', () => 'v1');
    v2.serve('calc.add', () => 'v2');
    await v1Bus.flush();
    await v2Bus.flush();
    const two = new ServiceBalancer(me, 'calc', { version: '^2' });
    for (let i = 0; i < 4; i++) assert.equal((await two.request('calc.add', '', { timeout: 3000 })).string(), 'v2');
    const any = new ServiceBalancer(me, 'calc', { version: '>=1' });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await any.request('calc.add', '', { timeout: 3000 })).string());
    assert.deepEqual([...seen].sort(), ['v1', 'v2']);
    const three = new ServiceBalancer(me, 'calc', { version: '^3' });
    assert.equal(await rejectionCode(three.request('calc.add', ''), 3000), ErrorCode.NO_MATCHING_INSTANCE);
    // The view follows the registry: once v2 goes, ^2 has nothing left.
    await v2.close();
    const dry = (): Promise<boolean> =>
      two.route('calc.add').then(
        (r) => (r.release(), false),
        (e: { code?: string }) => e.code === ErrorCode.NO_MATCHING_INSTANCE,
      );
    await waitFor(dry, 3000, '^2 to run dry');
    assert.throws(() => new ServiceBalancer(me, 'calc', { strategy: 'random' as never }), { code: ErrorCode.INVALID_ARGUMENT });
  });
});
