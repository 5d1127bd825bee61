import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s11-mailbox', { timeout: 90_000 }, () => {
  it('mail waits for alice through the death of sender, reader and broker; only alice reads it; bob is the stamped sender', async (t) => {
    const run = await runExample(t, 's11-mailbox', [], 80_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    assert.equal(run.lines.filter((l) => /^started broker pid=\d+$/.test(l)).length, 2, why);
    assert.match(run.stdout, /^\[bob sender\] bob -> alice: 'call me back' stored as #3$/m, why);
    assert.match(run.stdout, /^\[bob reader\] bob may not read alice's mailbox: PLEXUS_ERR_PERMISSION_DENIED$/m, why);
    assert.match(run.stdout, /^\[alice reader\] alice read 'lunch at noon\?' from bob \(delivery 1\)$/m, why);
    assert.match(run.stdout, /^killed the broker$/m, why);
    const after = run.lines.slice(run.lines.indexOf('killed the broker')).filter((l) => l.startsWith('[alice reader] alice read '));
    assert.deepEqual(
      after.map((l) => /read '(.*)' from (\w+)/.exec(l)!.slice(1)),
      [
        ['lunch at noon?', 'bob'],
        ['the report is in the shared folder', 'bob'],
        ['call me back', 'bob'],
      ],
      why,
    );
    assert.match(run.stdout, /^\[alice reader\] alice acknowledged 3 messages$/m, why);
    assert.equal(run.lines.at(-1), 'OK', why);
  });
});
