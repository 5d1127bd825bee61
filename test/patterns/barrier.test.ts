import { it } from 'node:test';
import assert from 'node:assert/strict';
import { barrier } from '../../src/patterns/index.js';
import { rejection, rejectionCode, sleep, within } from '../helpers/wait.js';
import { coordFixture } from './lock-helpers.js';

void it('N parties are released together, generation after generation', async (t) => {
  const f = await coordFixture(t);
  const conns = [f.bus, await f.client(), await f.client()];
  const released: number[] = [];
  const waits = conns.slice(0, 2).map((c, i) => barrier(c, 'start', { parties: 3 }).wait({ timeoutMs: 10_000 }).then((r) => (released.push(i), r)));
  await sleep(200);
  assert.deepEqual(released, [], 'nobody goes before the last party arrives');
  const last = await barrier(conns[2]!, 'start', { parties: 3 }).wait({ timeoutMs: 10_000 });
  const all = await within(Promise.all(waits), 3000, 'all released');
  assert.deepEqual(new Set([last.generation, ...all.map((r) => r.generation)]).size, 1);
  // The barrier can be used again.
  const again = await within(Promise.all(conns.map((c) => barrier(c, 'start', { parties: 3 }).wait({ timeoutMs: 10_000 }))), 5000, 'second round');
  assert.equal(again.length, 3);
  assert.equal(await rejectionCode(barrier(f.bus, 'start', { parties: 3 }).wait({ timeoutMs: 300 }), 3000), 'PLEXUS_ERR_TIMEOUT');
});

void it('a party that times out, aborts or dies leaves: it is never counted', async (t) => {
  const f = await coordFixture(t);
  const b = (c = f.bus) => barrier(c, 'meet', { parties: 2 });
  // Times out alone.
  assert.equal(await rejectionCode(b().wait({ timeoutMs: 200 }), 3000), 'PLEXUS_ERR_TIMEOUT');
  // Aborts.
  const ac = new AbortController();
  const aborted = b().wait({ timeoutMs: 10_000, signal: ac.signal });
  await sleep(100);
  ac.abort(new Error('leave'));
  assert.equal(((await rejection(aborted, 3000)) as Error).message, 'leave');
  // Dies while waiting.
  const child = await f.child('barrier', 'meet', '2');
  await child.waitLine(/^arrived$/, 10_000);
  await sleep(300);
  await child.kill();
  await sleep(200);
  // None of the three above counts: one more party alone is not released.
  let alone = false;
  const one = b().wait({ timeoutMs: 10_000 }).then(() => (alone = true));
  await sleep(300);
  assert.equal(alone, false, 'released with a party that had left');
  await within(Promise.all([one, b(await f.client()).wait({ timeoutMs: 5000 })]), 5000, 'two live parties');
  assert.equal(await rejectionCode(barrier(f.bus, 'meet', { parties: 3 }).wait({ timeoutMs: 100 }).then(() => b().wait({ timeoutMs: 5000 })), 3000), 'PLEXUS_ERR_TIMEOUT');
});

void it('parties of a barrier must agree on the count', async (t) => {
  const f = await coordFixture(t);
  const first = barrier(f.bus, 'agree', { parties: 2 }).wait({ timeoutMs: 5000 });
  await sleep(100);
  assert.equal(await rejectionCode(barrier(f.bus, 'agree', { parties: 3 }).wait({ timeoutMs: 1000 }), 3000), 'PLEXUS_ERR_DURABLE_EXISTS');
  await barrier(f.bus, 'agree', { parties: 2 }).wait({ timeoutMs: 5000 });
  await within(first, 3000, 'first released');
  assert.throws(() => barrier(f.bus, 'agree', { parties: 0 }), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
});
