import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s17-unix-tcp', { timeout: 30_000 }, () => {
  it('a unix-socket server answers a tcp client, each seeing the other by name', async (t) => {
    const run = await runExample(t, 's17-unix-tcp', [], 15_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);

    const listening = /^broker listening on unix:\/\/(\/\S+\.sock) and tcp:\/\/127\.0\.0\.1:(\d+)$/m.exec(run.stdout);
    assert.ok(listening, why);
    assert.ok(!existsSync(dirname(listening[1]!)), `the socket's temp dir is removed\n${why}`);

    assert.match(run.stdout, /^\[server\] connected to unix:\/\/\S+ as time-service$/m, why);
    assert.match(run.stdout, /^broker: time-service connected over unix$/m, why);
    assert.match(run.stdout, new RegExp(`^\\[client\\] connected to tcp://127\\.0\\.0\\.1:${listening[2]} as tcp-client$`, 'm'), why);

    const time = /^\[client\] time\.now -> (\{.*\}) \(reply from time-service\)$/m.exec(run.stdout);
    assert.ok(time, why);
    const reply = JSON.parse(time[1]!) as { now: string; servedBy: string };
    assert.equal(reply.servedBy, 'time-service', why);
    assert.ok(Math.abs(Date.parse(reply.now) - Date.now()) < 60_000, why);
    assert.match(run.stdout, /^\[client\] echo -> hello from the tcp side \(reply from time-service\)$/m, why);

    assert.match(run.stdout, /^\[server\] time\.now requested by tcp-client$/m, why);
    assert.match(run.stdout, /^\[server\] echo requested by tcp-client: hello from the tcp side$/m, why);
    assert.match(run.stdout, /^client exited with code 0$/m, why);
    assert.match(run.stdout, /^server exited with code 0$/m, why);
    assert.equal(run.lines.at(-1), 'OK', why);
  });
});
