/** Typed services and discovery: serveService registers, serviceClient picks by version range and balance. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineService, serveService, serviceClient } from '../../src/contract/index.js';
import { services } from '../../src/discovery/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { rejectionCode, waitFor, within } from '../helpers/wait.js';

/** The same service in two minor versions (one major: one subject). */
const ridesAt = (version: string) =>
  defineService('rides', {
    version,
    methods: {
      whoami: { input: z.object({}), output: z.object({ version: z.string(), id: z.string() }) },
    },
  });

describe('typed services in the registry', { timeout: 30_000 }, () => {
  it('serveService registers (and deregisters) instances with their methods, metadata and stats', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const srvBus = await b.connect();
    const me = await b.connect();
    const contract = ridesAt('2.1.0');
    const server = serveService(srvBus, contract, { whoami: () => ({ version: '2.1.0', id: 'x' }) }, { metadata: { zone: 'eu' } });
    await server.ready();
    const [rec] = await services(me).list('rides');
    assert.equal(rec!.id, server.id);
    assert.equal(rec!.version, '2.1.0');
    assert.deepEqual(rec!.endpoints, ['$SRV.rides.2.whoami']);
    assert.deepEqual(rec!.metadata, { zone: 'eu' });
    const client = serviceClient(me, contract);
    await client.whoami({});
    await client.whoami({});
    const [stats] = await services(me).stats('rides');
    assert.equal(stats!.endpoints['whoami']!.requests, 2);
    assert.equal(stats!.endpoints['whoami']!.errors, 0);
    await server.close();
    assert.deepEqual(await services(me).list('rides'), []);
  });

  it('a version range reaches only matching instances; none matching is PLEXUS_ERR_NO_MATCHING_INSTANCE', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const a = await b.connect();
    const other = await b.connect();
    const me = await b.connect();
    for (const [bus, version] of [[a, '2.1.0'], [other, '2.3.0']] as const) {
      const s = serveService(bus, ridesAt(version), { whoami: () => ({ version, id: 'x' }) });
      await s.ready();
    }
    const newer = serviceClient(me, ridesAt('2.3.0'), { version: '~2.3' });
    for (let i = 0; i < 4; i++) assert.equal((await newer.whoami({})).version, '2.3.0');
    const anyTwo = serviceClient(me, ridesAt('2.0.0'), { version: '^2' });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await anyTwo.whoami({})).version);
    assert.deepEqual([...seen].sort(), ['2.1.0', '2.3.0']);
    const three = serviceClient(me, ridesAt('3.0.0'), { version: '^3' });
    assert.equal(await rejectionCode(three.whoami({}), 3000), ErrorCode.NO_MATCHING_INSTANCE);
  });

  it('least-pending steers calls away from an instance holding this client’s calls', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const slowBus = await b.connect();
    const fastBus = await b.connect();
    const me = await b.connect();
    const contract = ridesAt('2.1.0');
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    let slowCalls = 0;
    const slow = serveService(slowBus, contract, {
      whoami: async () => {
        slowCalls++;
        await gate;
        return { version: '2.1.0', id: 'slow' };
      },
    });
    const fast = serveService(fastBus, contract, { whoami: () => ({ version: '2.1.0', id: 'fast' }) });
    await slow.ready();
    await fast.ready();
    const client = serviceClient(me, contract, { balance: 'least-pending' });
    // Keep calling until one lands on the slow instance (ties rotate), then it holds it.
    const held: Promise<{ id: string }>[] = [];
    for (let i = 0; i < 4 && slowCalls === 0; i++) {
      const p = client.whoami({}, { timeoutMs: 10_000 });
      held.push(p);
      await Promise.race([p, waitFor(() => slowCalls > 0, 3000, 'a call on the slow instance').catch(() => undefined)]);
    }
    assert.equal(slowCalls, 1);
    for (let i = 0; i < 5; i++) assert.equal((await client.whoami({}, { timeoutMs: 3000 })).id, 'fast');
    assert.equal(slowCalls, 1);
    openGate();
    const done = await within(Promise.all(held), 3000, 'the held calls');
    assert.ok(done.some((r) => r.id === 'slow'));
  });
});
