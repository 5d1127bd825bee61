/** The discovery client: registerInstance, list, watch, $SRV info/stats/ping, resolve. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registerInstance, services, type InstanceEvent } from '../../src/discovery/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Cleanup, startTestBroker, take } from '../helpers/plexus.js';
import { rejection, rejectionCode, waitFor } from '../helpers/wait.js';

describe('discovery client', { timeout: 30_000 }, () => {
  it('lists, and watches the current state first and then every change', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const svc1 = await b.connect();
    const svc2 = await b.connect();
    const me = await b.connect();
    const first = await registerInstance(svc1, { name: 'rides', version: '2.1.0', id: 'rides-a', endpoints: ['rides.path'], metadata: { zone: 'eu' } });
    assert.equal(first.registration.id, 'rides-a');
    const watch = services(me).watch('rides');
    const initial = await take(watch, 1, 3000);
    assert.deepEqual(initial.map((e) => [e.type, e.instance.id, e.initial]), [['up', 'rides-a', true]]);

    const second = await registerInstance(svc2, { name: 'rides', version: '2.2.0', id: 'rides-b' });
    await registerInstance(svc2, { name: 'other', version: '1.0.0', id: 'other-a' }); // another name: not in this watch
    const [up] = await take(watch, 1, 3000);
    assert.equal(up!.type, 'up');
    assert.equal(up!.instance.id, 'rides-b');
    assert.equal(up!.initial, undefined);

    const listed = await services(me).list('rides');
    assert.deepEqual(listed.map((i) => i.id).sort(), ['rides-a', 'rides-b']);
    assert.equal((await services(me).list()).length, 3);

    await second.close();
    await svc1.close(); // dropping the connection takes rides-a down too
    const downs = await take(watch, 2, 3000);
    assert.deepEqual(downs.map((e: InstanceEvent) => [e.type, e.instance.id, e.reason]), [
      ['down', 'rides-b', 'deregistered'],
      ['down', 'rides-a', 'disconnected'],
    ]);
    watch.close();
    assert.equal((await services(me).list('rides')).length, 0);
    // A signal ends a watch too, even one aborted before it started.
    const ac = new AbortController();
    ac.abort();
    const stopped: unknown[] = [];
    for await (const ev of services(me).watch('rides', { signal: ac.signal })) stopped.push(ev);
    assert.deepEqual(stopped, []);
  });

  it('answers PING, INFO and STATS per instance and gathers them from all instances', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const a = await b.connect();
    const other = await b.connect();
    const me = await b.connect();
    const i1 = await registerInstance(a, { name: 'calc', version: '1.0.0', id: 'calc-1', endpoints: ['calc.add'], metadata: { owner: 'team-a' } });
    await registerInstance(other, { name: 'calc', version: '1.1.0', id: 'calc-2' });
    i1.record('add', 4);
    i1.record('add', 6, true);
    const pings = await services(me).ping('calc');
    assert.deepEqual(pings.map((p) => p.id).sort(), ['calc-1', 'calc-2']);
    const infos = await services(me).info('calc');
    const info1 = infos.find((i) => i.id === 'calc-1')!;
    assert.deepEqual(info1.endpoints, ['calc.add']);
    assert.deepEqual(info1.metadata, { owner: 'team-a' });
    const stats = await services(me).stats('calc');
    const s1 = stats.find((s) => s.id === 'calc-1')!;
    assert.deepEqual(s1.endpoints['add'], { requests: 2, errors: 1, totalMs: 10, averageMs: 5 });
    assert.deepEqual(stats.find((s) => s.id === 'calc-2')!.endpoints, {});
    // One instance directly.
    const direct = await me.request('$SRV.PING.calc.calc-2', '');
    assert.equal(direct.json<{ version: string }>().version, '1.1.0');
    // Every instance of every name.
    assert.equal((await services(me).ping()).length, 2);
    assert.deepEqual(await services(me).stats('nothing-here'), []);
  });

  it('resolves version ranges and fails with a coded error when nothing matches', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const a = await b.connect();
    await registerInstance(a, { name: 'rides', version: '1.4.0', id: 'v1' });
    await registerInstance(a, { name: 'rides', version: '2.1.0', id: 'v2' });
    const dir = services(a);
    assert.deepEqual((await dir.resolve('rides', '^2')).map((i) => i.id), ['v2']);
    assert.deepEqual((await dir.list('rides@^1')).map((i) => i.id), ['v1']);
    assert.deepEqual(await dir.list('rides@>=3'), []);
    assert.equal(await rejectionCode(dir.list('rides@^x.y'), 1000), ErrorCode.INVALID_ARGUMENT);
    assert.deepEqual((await dir.resolve('rides', '>=1')).map((i) => i.id).sort(), ['v1', 'v2']);
    const err = await rejection(dir.resolve('rides', '^3'), 3000);
    assert.ok(err instanceof PlexusError);
    assert.equal(err.code, ErrorCode.NO_MATCHING_INSTANCE);
    assert.deepEqual((err.details as { versions: string[] }).versions.sort(), ['1.4.0', '2.1.0']);
  });

  it('a watcher resyncs after a broker restart: instances that came back stay, the others go down', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const stays = await b.connect();
    const goes = await b.connect({ reconnect: false });
    const watcherBus = await b.connect();
    await registerInstance(stays, { name: 'resync', version: '1.0.0', id: 'stays' });
    await registerInstance(goes, { name: 'resync', version: '1.0.0', id: 'goes' });
    const watch = services(watcherBus).watch('resync');
    const initial = await take(watch, 2, 3000);
    assert.deepEqual(initial.map((e) => e.instance.id).sort(), ['goes', 'stays']);
    await b.broker.close({ drainMs: 100 });
    await startTestBroker(c, { listen: [b.url] });
    // `stays` registers again on its own; `goes` never reconnects. Depending on who is
    // back first, `stays` may be reported down (resync) and up again; in the end the
    // watcher's picture is the registry's: `stays` only, and `goes` went down on resync.
    const seen: string[] = [];
    const state = new Set(['goes', 'stays']);
    for (let i = 0; i < 10 && !(state.size === 1 && state.has('stays') && seen.includes('down:goes:resync')); i++) {
      const [ev] = await take(watch, 1, 8000, `registry changes after the restart (so far: ${seen.join(' ')})`);
      seen.push(`${ev!.type}:${ev!.instance.id}:${ev!.reason ?? ''}`);
      if (ev!.type === 'up') state.add(ev!.instance.id);
      else state.delete(ev!.instance.id);
    }
    assert.deepEqual([...state], ['stays'], seen.join(' '));
    assert.ok(seen.includes('down:goes:resync'), seen.join(' '));
    assert.deepEqual((await services(watcherBus).list('resync')).map((i) => i.id), ['stays']);
    watch.close();
  });

  it('checks names and ids before sending, and an instance comes back after a broker restart', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const a = await b.connect();
    assert.equal(await rejectionCode(registerInstance(a, { name: 'bad name', version: '1.0.0' }), 1000), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await rejectionCode(registerInstance(a, { name: 'ok', version: '1.0.0', id: 'a.b' }), 1000), ErrorCode.INVALID_ARGUMENT);
    await registerInstance(a, { name: 'durable-ish', version: '1.0.0', id: 'keep-me' });
    await b.broker.close({ drainMs: 100 });
    const b2 = await startTestBroker(c, { listen: [b.url] });
    const me = await b2.connect();
    await waitFor(async () => (await services(me).list('durable-ish')).some((i) => i.id === 'keep-me'), 8000, 're-registration after the restart');
  });
});
