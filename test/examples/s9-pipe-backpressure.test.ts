import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

const WINDOW = 64 * 1024;

describe('example s9-pipe-backpressure', { timeout: 30_000 }, () => {
  for (const total of [1024 * 1024, 200_000]) {
    it(`a fast parent is held to the slow child's window; the child sees EOF after ${total} bytes`, async (t) => {
      const run = await runExample(t, 's9-pipe-backpressure', total === 1024 * 1024 ? [] : [String(total)], 15_000);
      const why = describeRun(run);
      assert.equal(run.code, 0, why);
      assert.equal(run.stderr, '', why);
      const flight = /^parent: max bytes in flight (\d+) <= window (\d+): yes$/m.exec(run.stdout);
      assert.ok(flight, why);
      assert.equal(Number(flight[2]), WINDOW, why);
      // Never past the window, yet the writer did run ahead of the reader by most of it.
      assert.ok(Number(flight[1]) <= WINDOW && Number(flight[1]) >= WINDOW / 2, why);
      const waited = /^parent: all (\d+) bytes written in \d+ ms; (\d+) writes waited for credit/m.exec(run.stdout);
      assert.ok(waited, why);
      assert.equal(Number(waited[1]), total, why);
      assert.ok(Number(waited[2]) > 0, why);
      assert.match(run.stdout, new RegExp(`^parent: end\\(\\) resolved: the child consumed all ${total} bytes$`, 'm'), why);
      assert.match(run.stdout, new RegExp(`^\\[child\\] EOF after ${total} bytes$`, 'm'), why);
      assert.match(run.stdout, /^child exited with code 0$/m, why);
      assert.match(run.stdout, /^OK: /m, why);
    });
  }
});
