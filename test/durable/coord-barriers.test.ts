import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Barriers } from '../../src/durable/coord-barriers.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { sleep, within } from '../helpers/wait.js';

const never = new AbortController().signal;

void it('barrier generations and the last release survive a reopen; a party that asks again after a lost reply is answered', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup, 'plexus-barriers-');
  const b1 = await Barriers.open(dir);
  const round1 = await within(Promise.all([b1.wait('x', 2, 'p1', 5000, never), b1.wait('x', 2, 'p2', 5000, never)]), 5000, 'round 1');
  assert.deepEqual(round1, [
    { released: true, generation: 1 },
    { released: true, generation: 1 },
  ]);
  await b1.close();

  const b2 = await Barriers.open(dir);
  // p2 never saw its reply (say the service died first): asking again answers it at once.
  assert.deepEqual(await within(b2.wait('x', 2, 'p2', 5000, never), 1000, 'retried party'), { released: true, generation: 1 });
  // New parties start the next generation, not generation 1 again.
  let early = false;
  const p3 = b2.wait('x', 2, 'p3', 5000, never).then((r) => ((early = true), r));
  await sleep(100);
  assert.equal(early, false, 'one new party alone is not released');
  const p4 = await within(b2.wait('x', 2, 'p4', 5000, never), 3000, 'round 2');
  assert.deepEqual(p4, { released: true, generation: 2 });
  assert.deepEqual(await p3, { released: true, generation: 2 });
  // A wait that runs out leaves the round.
  assert.deepEqual(await b2.wait('x', 2, 'p5', 50, never), { released: false });
  let gone = false;
  const p6 = b2.wait('x', 2, 'p6', 5000, never).then((r) => ((gone = true), r));
  await sleep(100);
  assert.equal(gone, false, 'p5 left; it does not count');
  await b2.close();
  assert.deepEqual(await p6, { released: false }, 'close ends held waits');

  const b3 = await Barriers.open(dir);
  assert.deepEqual(await within(Promise.all([b3.wait('x', 2, 'q1', 5000, never), b3.wait('x', 2, 'q2', 5000, never)]), 5000, 'round 3'), [
    { released: true, generation: 3 },
    { released: true, generation: 3 },
  ]);
  await b3.close();
});
