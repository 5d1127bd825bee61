import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shmAvailability } from '../../src/local/index.js';
import { describeRun, runExample } from './run-example.js';

describe('example s8-local-sync', { timeout: 30_000 }, () => {
  it('processes increment a shared counter exactly under a Mutex, then recover from a killed owner', async (t) => {
    const shm = shmAvailability();
    if (!shm.available) {
      if (process.env.PLEXUS_SHM_OPTIONAL === '1') return t.skip(`shared-memory addon unavailable: ${shm.reason}`);
      throw new Error(`shared-memory addon unavailable: ${shm.reason} (set PLEXUS_SHM_OPTIONAL=1 to skip this test)`);
    }
    const run = await runExample(t, 's8-local-sync', ['3', '1000'], 20_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    assert.equal(run.lines.filter((l) => /^started counter pid=\d+$/.test(l)).length, 3, why);
    assert.match(run.stdout, /^3 processes x 1000 increments under the mutex: total 3000 \(expected 3000\) in \d+ ms$/m, why);
    const holder = /^started holder pid=(\d+)$/m.exec(run.stdout);
    assert.ok(holder, why);
    assert.match(run.stdout, /^holder locked the mutex and began a transfer: A=70 B=0 in progress=30$/m, why);
    assert.match(run.stdout, new RegExp(`^lock\\(\\) resolved with ownerDied=true \\(PLEXUS_ERR_OWNER_DIED\\), previous owner pid ${holder[1]}$`, 'm'), why);
    assert.match(run.stdout, /^repaired: finished the transfer of 30: A=70 B=30$/m, why);
    assert.match(run.stdout, /^next lock\(\) is normal again: ownerDied=false; A\+B=100$/m, why);
    assert.equal(run.lines.at(-1), 'OK', why);
  });
});
