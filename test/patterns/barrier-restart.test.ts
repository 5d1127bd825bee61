import { it } from 'node:test';
import assert from 'node:assert/strict';
import { barrier } from '../../src/patterns/index.js';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { spawnNode, type TestChild } from '../helpers/child.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { sleep, within } from '../helpers/wait.js';
import { killableService } from './lock-helpers.js';

const partyScript = new URL('./fixtures/lock-child.js', import.meta.url);
const brokerScript = new URL('./fixtures/embedded-broker-child.js', import.meta.url);

void it('kill -9 of the service: waiting parties arrive again and are released together, and the generation goes on', async (t) => {
  const s = await killableService(t);
  const conns = [await s.broker.connect(), await s.broker.connect(), await s.broker.connect()];
  const b = (i: number) => barrier(conns[i]!, 'crash', { parties: 3 });
  const round1 = await within(Promise.all([0, 1, 2].map((i) => b(i).wait({ timeoutMs: 10_000 }))), 10_000, 'round 1');
  const g1 = round1[0]!.generation;
  assert.ok(round1.every((r) => r.generation === g1));

  let released = 0;
  const waits = [0, 1].map((i) => b(i).wait({ timeoutMs: 30_000 }).then((r) => (released++, r)));
  await sleep(300);
  await s.crashAndRestart(); // SIGKILL: nothing is flushed
  assert.equal(released, 0, 'nobody is released by the crash');
  const last = await within(b(2).wait({ timeoutMs: 20_000 }), 20_000, 'the third party completes the round after the restart');
  const others = await within(Promise.all(waits), 10_000, 'the two parties from before the crash are released');
  assert.equal(last.generation, g1 + 1, 'the generation continues across the restart');
  assert.deepEqual(
    others.map((r) => r.generation),
    [g1 + 1, g1 + 1],
  );
});

void it('a party that died while the service was down is never counted after the restart', async (t) => {
  const s = await killableService(t);
  const party = await spawnNode(s.cleanup, partyScript, [s.broker.url, 'barrier', 'dead', '2']);
  await party.waitLine(/^arrived$/, 10_000);
  await sleep(500); // its request is held by the service
  await s.crashAndRestart(() => party.kill()); // the party dies while the service is down
  const bus = await s.broker.connect();
  let alone = false;
  const one = barrier(bus, 'dead', { parties: 2 }).wait({ timeoutMs: 20_000 }).then((r) => ((alone = true), r));
  await sleep(2500); // longer than a live party's retry backoff
  assert.equal(alone, false, 'released with a party that had died');
  const two = await within(barrier(await s.broker.connect(), 'dead', { parties: 2 }).wait({ timeoutMs: 10_000 }), 10_000, 'a live second party');
  assert.equal((await within(one, 5000, 'first released')).generation, two.generation);
});

void it('kill -9 of a broker with its embedded durable service: the round completes after the restart with the next generation', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup, 'plexus-barrier-embedded-');
  const url = `unix://${join(dir, 'b.sock')}`;
  const start = async (): Promise<TestChild> => {
    const c = await spawnNode(cleanup, brokerScript, [url, join(dir, 'data')]);
    await c.waitLine(/^ready$/, 10_000);
    return c;
  };
  const broker = await start();
  const conns = await Promise.all([0, 1, 2].map(() => connect(url, { timeoutMs: 3000 })));
  for (const c of conns) cleanup.defer(() => c.close());
  const b = (i: number) => barrier(conns[i]!, 'embedded', { parties: 3 });
  const round1 = await within(Promise.all([0, 1, 2].map((i) => b(i).wait({ timeoutMs: 10_000 }))), 10_000, 'round 1');
  const g1 = round1[0]!.generation;
  const waits = [0, 1].map((i) => b(i).wait({ timeoutMs: 40_000 }));
  await sleep(300);
  await broker.kill();
  await start(); // stopped by PID when the test ends
  const last = await within(b(2).wait({ timeoutMs: 30_000 }), 30_000, 'the third party after the restart');
  const others = await within(Promise.all(waits), 15_000, 'the parties from before the crash');
  assert.equal(last.generation, g1 + 1);
  assert.deepEqual(
    others.map((r) => r.generation),
    [g1 + 1, g1 + 1],
  );
});
