/**
 * KV under crashes: the durable service runs in a child process and is SIGKILLed
 * repeatedly while clients do compare-and-set increments. An acknowledged write must
 * never be lost or undone, and a read never goes backwards.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { kv } from '../../src/patterns/index.js';
import { spawnNode, type TestChild } from '../helpers/child.js';
import { Cleanup, startTestBroker, tempDir } from '../helpers/plexus.js';
import { sleep, within } from '../helpers/wait.js';

const serviceChild = new URL('../durable/fixtures/service-child.js', import.meta.url);

void it('SIGKILLed 10 times during CAS increments: no acknowledged update is lost', async (t) => {
  const cleanup = new Cleanup(t);
  const broker = await startTestBroker(cleanup, { via: 'tcp' });
  const dir = await tempDir(cleanup, 'plexus-kv-crash-');
  const start = async (): Promise<TestChild> => {
    const c = await spawnNode(cleanup, serviceChild, [broker.url, dir]);
    await c.waitLine(/^ready$/, 5000);
    return c;
  };
  let svc = await start();
  const bus = await broker.connect();
  const counters = kv(bus, 'counters', { timeoutMs: 1000 });
  await counters.info();

  let stop = false;
  const tallies = { acked: 0, unknown: 0, violations: [] as string[] };
  /** Each worker owns one key, so its own acknowledged count bounds the value from below. */
  const worker = async (w: number): Promise<number> => {
    const key = `c.${w}`;
    let acked = 0;
    while (!stop) {
      let cur: { value: number; revision: number };
      try {
        const e = await counters.get(key);
        cur = { value: e ? Number(e.string()) : 0, revision: e?.revision ?? 0 };
      } catch {
        await sleep(10);
        continue;
      }
      if (cur.value < acked) tallies.violations.push(`${key}: read ${cur.value} after ${acked} acknowledged`);
      acked = Math.max(acked, cur.value); // a write whose ack was lost may have landed
      try {
        await counters.update(key, String(cur.value + 1), cur.revision);
        acked = cur.value + 1;
        tallies.acked++;
      } catch {
        tallies.unknown++; // the service died: landed or not, the next read tells
        await sleep(10);
      }
    }
    return acked;
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  await within(
    (async () => {
      for (let k = 0; k < 10; k++) {
        await sleep(100 + Math.floor(Math.random() * 200));
        await svc.kill();
        svc = await start();
      }
      await sleep(200);
      stop = true;
    })(),
    40_000,
    'kill loop',
  );
  const finals = await within(Promise.all(workers), 10_000, 'workers stop');
  // After one more crash and restart, every key holds at least what was acknowledged.
  await svc.kill();
  svc = await start();
  for (let w = 0; w < finals.length; w++) {
    const e = await counters.get(`c.${w}`);
    assert.ok(Number(e?.string() ?? 0) >= finals[w]!, `c.${w}: ${e?.string()} < acknowledged ${finals[w]}`);
  }
  console.log(`kv crash: ${tallies.acked} acknowledged CAS increments, ${tallies.unknown} with unknown outcome, 10 kills`);
  assert.deepEqual(tallies.violations, []);
  assert.ok(tallies.acked > 100, `made progress: ${tallies.acked}`);
});
