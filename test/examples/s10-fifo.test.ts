import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s10-fifo', { timeout: 30_000 }, () => {
  it('three writers interleave into one FIFO; every message arrives whole, attributed and in order; EOF at the end', async (t) => {
    const run = await runExample(t, 's10-fifo', [], 20_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    for (const name of ['billing', 'search', 'auth']) {
      assert.match(run.stdout, new RegExp(`^${name}: 30 messages, in order: true, on the bus: 30$`, 'm'), why);
      const pid = new RegExp(`^started writer ${name} pid=(\\d+)$`, 'm').exec(run.stdout)?.[1];
      assert.ok(pid, why);
      assert.match(run.stdout, new RegExp(`^${name} \\(pid ${pid}\\): line 3, 100\\d\\d bytes, whole$`, 'm'), `the writer's own pid; ${why}`);
    }
    const alternated = Number(/^writers alternated (\d+) times in the pipe; broken messages: 0$/m.exec(run.stdout)?.[1]);
    assert.ok(alternated >= 2, `the writers' messages did mix; ${why}`);
    assert.ok(run.lines.indexOf('EOF: every writer has closed') < run.lines.indexOf('OK'), why);
    assert.match(run.stdout, /"incomplete":0,"sequenceGaps":0/, why);
    assert.equal(run.lines.at(-1), 'OK', why);
  });
});
