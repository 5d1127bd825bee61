import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s8-distributed-lock', { timeout: 60_000 }, () => {
  it('workers increment a counter under the lock without losing an update; a stale token is refused', async (t) => {
    const run = await runExample(t, 's8-distributed-lock', ['3', '20'], 40_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.match(run.stdout, /^3 workers x 20 increments under the lock: counter = 60 \(expected 60\) in \d+ ms$/m, why);
    assert.equal([...run.stdout.matchAll(/^\[w\d\] did 20 increments with fencing tokens \d+\.\.\d+$/gm)].length, 3, why);
    assert.match(run.stdout, /^write with the expired token \d+ refused: PLEXUS_ERR_FENCE_STALE$/m, why);
    assert.match(run.stdout, /^the next holder \(token \d+\) writes: counter = 61$/m, why);
    assert.equal(run.lines.at(-1), 'OK', why);
  });
});
