import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s6-session-store', { timeout: 60_000 }, () => {
  it('two services share a session with CAS (no lost items), the TTL expires it, a watcher sees every change', async (t) => {
    const run = await runExample(t, 's6-session-store', ['4'], 40_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.match(run.stdout, /^session\.alice: 8 items in the cart \(expected 8\), revision \d+$/m, why);
    assert.match(run.stdout, /^\[(A|B)\] created session\.alice$/m, why);
    assert.match(run.stdout, /^\[(A|B)\] session\.alice already exists \(the other instance made it\)$/m, why);
    assert.match(run.stdout, /^\[watch\] rev \d+ expire session\.alice$/m, why);
    assert.match(run.stdout, /^after the TTL: session\.alice is gone; the watcher saw 10 changes$/m, why);
    const revs = [...run.stdout.matchAll(/^\[watch\] rev (\d+)/gm)].map((m) => Number(m[1]));
    assert.deepEqual(revs, [...revs].sort((a, b) => a - b), 'revisions in order');
    assert.equal(run.lines.at(-1), 'OK', why);
  });
});
