import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { shmAvailability } from '../../src/local/index.js';
import { describeRun, runExample } from './run-example.js';

describe('example s14-shm-ring', { timeout: 60_000 }, () => {
  it('two processes over shared-memory rings: every record echoed, (almost) no blocking system calls while spinning; request/reply over shm://', async (t) => {
    const run = await runExample(t, 's14-shm-ring', [], 50_000);
    const why = describeRun(run);
    if (!shmAvailability().available) {
      // Without the addon the example must say so with the coded error and code 2.
      assert.equal(run.code, 2, why);
      assert.match(run.stdout, /^PLEXUS_ERR_SHM_UNAVAILABLE: /m, why);
      return;
    }
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    assert.match(run.stdout, /^10000 round trips of 16 B, every one echoed intact: true$/m, why);
    assert.match(run.stdout, /^\[peer\] peer: echoed 10000 records, /m, why);
    // A futex wait per record would be ~10 000 voluntary switches per side; spinning
    // gives ~0. The bound leaves room for the odd GC helper handshake.
    for (const re of [/^main: (\d+) voluntary context switches/m, /^\[peer\] peer: echoed \d+ records, (\d+) voluntary/m]) {
      const n = Number(re.exec(run.stdout)?.[1]);
      assert.ok(Number.isInteger(n) && n < 100, `${re}: ${n}; ${why}`);
    }
    const peerPid = /peer pid=(\d+)/.exec(run.stdout)?.[1];
    assert.match(run.stdout, new RegExp(`^s14\\.add over shm://s14-\\d+: 20 \\+ 22 = 42 \\(answered by pid ${peerPid}\\)$`, 'm'), why);
    const segment = /segment (\/dev\/shm\/plexus-s14-\d+)/.exec(run.stdout)?.[1];
    assert.ok(segment && !existsSync(segment), `the segment was unlinked; ${why}`);
    assert.equal(run.lines.at(-1), 'OK', why);
  });
});
