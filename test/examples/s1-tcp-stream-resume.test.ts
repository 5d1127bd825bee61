import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s1-tcp-stream-resume', { timeout: 60_000 }, () => {
  it('a 32 MiB stream survives a broker restart midway with no bytes lost or duplicated', async (t) => {
    const run = await runExample(t, 's1-tcp-stream-resume', [], 40_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    // The interruption happened while the stream was in progress...
    const cut = /^interrupting the network: receiver has (\d+) of (\d+) bytes/m.exec(run.stdout);
    assert.ok(cut, why);
    assert.ok(Number(cut[1]) > 0 && Number(cut[1]) < Number(cut[2]), why);
    for (const who of ['sender', 'receiver']) {
      assert.match(run.stdout, new RegExp(`^\\[${who}\\] connection reconnecting`, 'm'), why);
      assert.match(run.stdout, new RegExp(`^\\[${who}\\] connection open`, 'm'), why);
    }
    // ...and both ends agree on every byte.
    const sent = /^\[sender\] sent (\d+) bytes sha256 ([0-9a-f]{64})$/m.exec(run.stdout);
    const received = /^\[receiver\] received (\d+) bytes sha256 ([0-9a-f]{64})$/m.exec(run.stdout);
    assert.ok(sent && received, why);
    assert.equal(sent[1], String(32 * 1024 * 1024), why);
    assert.equal(received[1], sent[1], why);
    assert.equal(received[2], sent[2], why);
    assert.match(run.stdout, /^OK: no bytes lost or duplicated$/m, why);
  });
});
