import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s4-durable-queue', { timeout: 60_000 }, () => {
  it('messages wait for a consumer; a consumer killed mid-message hands it to the next one', async (t) => {
    const run = await runExample(t, 's4-durable-queue', [], 50_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    assert.match(run.stdout, /^\[send\] {2}\[x\] Sent 'Hello World!' \(stored as #1\)$/m, why);
    assert.match(run.stdout, /^queue hello holds 2 messages, 2 ready, before any consumer runs$/m, why);
    assert.match(run.stdout, /^\[worker 1\] {2}\[x\] Received 'Hello World!' from anonymous \(delivery 1\)$/m, why);
    assert.match(run.stdout, /^\[worker 1\] {2}\[x\] Received 'A slow task\.+' from anonymous \(delivery 1\)$/m, why);
    assert.doesNotMatch(run.stdout, /^\[worker 1\] {2}\[x\] Done 'A slow task/m, why);
    assert.match(run.stdout, /^\[worker 2\] {2}\[x\] Received 'A slow task\.+' from anonymous \(delivery 2\)$/m, why);
    assert.match(run.stdout, /^\[worker 2\] {2}\[x\] Done 'A slow task\.+'$/m, why);
    assert.doesNotMatch(run.stdout, /^\[worker 2\] .*Hello World/m, why);
    assert.match(run.stdout, /^queue hello: 0 stored, 0 unacked, 0 dead-lettered$/m, why);
    assert.equal(run.lines.at(-1), 'OK', why);
  });
});
