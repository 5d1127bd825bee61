import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s16-child-stdio-rpc', { timeout: 30_000 }, () => {
  it('typed calls, events, a coded handler error, and a cancel that reaches the child', async (t) => {
    const run = await runExample(t, 's16-child-stdio-rpc', [], 15_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    assert.match(run.stdout, /^event child\.event\.ready from anonymous: /m, why);

    // A call with its progress events, in order, before the reply.
    const r1 = run.lines.filter((l) => l.startsWith('event child.event.progress') && l.includes('"id":"r1"'));
    assert.deepEqual(
      r1.map((l) => JSON.parse(l.slice(l.indexOf('{'))).partial),
      [1, 3, 6, 10, 15],
      why,
    );
    assert.ok(run.lines.indexOf('call r1: sum of 1..5 = 15') > run.lines.indexOf(r1.at(-1)!), why);

    assert.match(run.stdout, /^call r2: rejected with PLEXUS_ERR_HANDLER_FAILED: numbers must be an array of numbers$/m, why);

    // The cancel: the caller gets its own reason, the child's handler signal fired.
    assert.match(run.stdout, /^call r3: rejected: the parent changed its mind$/m, why);
    const seen = /^the child saw the cancel after (\d+) of 50 steps: PLEXUS_ERR_CANCELLED: /m.exec(run.stdout);
    assert.ok(seen, why);
    assert.ok(Number(seen[1]) >= 3 && Number(seen[1]) < 50, why);
    assert.match(run.stdout, /^\[child stderr\] child: request r3 cancelled by anonymous after \d+ of 50 steps/m, why);
    assert.doesNotMatch(run.stdout, /"kind":"finished","id":"r3"/, why);

    assert.match(run.stdout, /^\[child stderr\] child: connection closed .*exiting$/m, why);
    assert.match(run.stdout, /^child exited with code 0$/m, why);
    assert.equal(run.lines.at(-1), 'OK', why);
  });

  for (const transport of ['ipc', 'shm'] as const) {
    it(`the same over ${transport}`, async (t) => {
      const run = await runExample(t, 's16-child-stdio-rpc', [transport], 15_000);
      const why = describeRun(run);
      if (transport === 'shm' && /PLEXUS_ERR_SHM_UNAVAILABLE/.test(run.stderr)) {
        // No addon on this machine: the example must say so with the coded error, nothing else.
        assert.equal(run.code, 1, why);
        return;
      }
      assert.equal(run.code, 0, why);
      assert.match(run.stdout, new RegExp(`^started child pid=\\d+ over ${transport}$`, 'm'), why);
      assert.match(run.stdout, /^call r1: sum of 1\.\.5 = 15$/m, why);
      assert.match(run.stdout, /^call r3: rejected: the parent changed its mind$/m, why);
      assert.equal(run.lines.at(-1), 'OK', why);
    });
  }
});
