import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queue, type QueueMessage } from '../../src/patterns/index.js';
import { within } from '../helpers/wait.js';
import { durableFixture } from './helpers.js';

async function next(it: AsyncIterator<QueueMessage>, ms: number): Promise<QueueMessage> {
  const r = await within(it.next(), ms, 'the next message');
  assert.equal(r.done, false);
  return r.value as QueueMessage;
}

test('a lone consumer whose window is full of stalled messages still gets them back after the ack wait', async (t) => {
  const f = await durableFixture(t);
  const q = queue(f.bus, 'stalled', { ackWaitMs: 600, maxDeliver: 10 });
  await q.send('a');
  await q.send('b');
  const c = q.consume({ prefetch: 2 });
  const first = [await next(c, 3000), await next(c, 3000)];
  assert.deepEqual(first.map((m) => [m.string(), m.deliveryCount]), [['a', 1], ['b', 1]]);
  // Neither is settled: the window (2) is full, yet both come back once their ack wait ends.
  const again = [await next(c, 5000), await next(c, 5000)];
  assert.deepEqual(again.map((m) => [m.string(), m.deliveryCount]).sort(), [['a', 2], ['b', 2]]);
  // Settling the stale deliveries changes nothing; settling the live ones empties the queue.
  await first[0]!.ack();
  for (const m of again) await m.ack();
  await c.close();
  const st = await q.stat();
  assert.deepEqual({ stored: st.stored, unacked: st.unacked }, { stored: 0, unacked: 0 });
});

test('in-progress keeps the hold: a message kept alive with inProgress() is not redelivered', async (t) => {
  const f = await durableFixture(t);
  const q = queue(f.bus, 'kept', { ackWaitMs: 800, maxDeliver: 10 });
  await q.send('long job');
  const c = q.consume({ prefetch: 1 });
  const m = await next(c, 3000);
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 400));
    await m.inProgress();
  }
  const raced = await Promise.race([c.next().then(() => 'redelivered'), new Promise((r) => setTimeout(() => r('quiet'), 500))]);
  assert.equal(raced, 'quiet', 'kept alive: not handed out again');
  await m.ack();
  await c.close();
  assert.equal((await q.stat()).stored, 0);
});
