/** `plexus queue ls|stat|send|consume` against a broker with a durable service. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { startDurableService } from '../../src/durable/index.js';
import { withTimeout } from '../helpers/timeout.js';
import { runCli, startCli, testBroker, waitForOutput } from './helpers.js';

async function setup(t: TestContext): Promise<string> {
  const { unix, dir } = await testBroker(t);
  const svc = await startDurableService({ dir: join(dir, 'data'), url: unix });
  t.after(() => svc.close());
  return unix;
}

describe('plexus queue', { timeout: 60_000 }, () => {
  it('send (argument, stdin, dedup), stat, ls, consume with acks', async (t) => {
    const url = await setup(t);
    const s1 = await runCli(t, ['queue', 'send', 'hello', 'Hello World!', '--header', 'lang=en', '--url', url]);
    assert.equal(s1.code, 0, s1.stderr);
    assert.match(s1.stderr, /hello: stored as #1/);
    const s2 = await runCli(t, ['queue', 'send', 'hello', '-', '--msg-id', 'x1', '--url', url], {}, { input: 'from stdin' });
    assert.equal(s2.code, 0, s2.stderr);
    const dup = await runCli(t, ['queue', 'send', 'hello', 'again', '--msg-id', 'x1', '--url', url]);
    assert.match(dup.stderr, /duplicate of #2, nothing stored/);
    const stat = await runCli(t, ['queue', 'stat', 'hello', '--json', '--url', url]);
    assert.equal(stat.code, 0, stat.stderr);
    assert.deepEqual(
      (({ name, stored, ready, unacked }) => ({ name, stored, ready, unacked }))(JSON.parse(stat.stdout) as Record<string, unknown>),
      { name: 'hello', stored: 2, ready: 2, unacked: 0 },
    );
    const ls = await runCli(t, ['queue', 'ls', '--url', url]);
    assert.match(ls.stdout, /^hello: 2 stored, 2 ready, 0 unacked/m);

    const peek = await runCli(t, ['queue', 'consume', 'hello', '--count', '1', '--no-ack', '--json', '--url', url]);
    assert.equal(peek.code, 0, peek.stderr);
    assert.equal((JSON.parse(peek.stdout) as { data: string }).data, 'Hello World!');
    const got = await runCli(t, ['queue', 'consume', 'hello', '--count', '2', '--json', '--url', url]);
    assert.equal(got.code, 0, got.stderr);
    const lines = got.stdout.trim().split('\n').map((l) => JSON.parse(l) as { data: string; headers: Record<string, string>; deliveryCount: number; from: string });
    assert.deepEqual(lines.map((l) => l.data), ['Hello World!', 'from stdin']);
    assert.equal(lines[0]!.headers.lang, 'en');
    assert.equal(lines[0]!.deliveryCount, 2, 'the peek gave it back');
    assert.equal(lines[1]!.from, 'anonymous');
    const after = await runCli(t, ['queue', 'stat', 'hello', '--url', url]);
    assert.match(after.stdout, /^hello: 0 stored, 0 ready, 0 unacked/m);
    const idle = await runCli(t, ['queue', 'consume', 'hello', '--idle', '300', '--url', url]);
    assert.equal(idle.code, 0, idle.stderr);
    assert.equal(idle.stdout, '');
  });

  it('consume waits for messages; readable coded errors and usage', async (t) => {
    const url = await setup(t);
    const run = startCli(t, ['queue', 'consume', 'jobs', '--count', '1', '--raw', '--url', url]);
    await waitForOutput(run, 'stderr', /reading queue jobs/);
    const sent = await runCli(t, ['queue', 'send', 'jobs', 'job-1', '--delay', '200', '--url', url]);
    assert.equal(sent.code, 0, sent.stderr);
    const { code } = await withTimeout(run.exited, 10_000, 'consume --count 1');
    assert.equal(code, 0, run.stderr());
    assert.equal(run.stdout(), 'job-1\n');

    const badName = await runCli(t, ['queue', 'send', 'no/slash', 'x', '--url', url]);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /PLEXUS_ERR_INVALID_ARGUMENT/);
    const usage = await runCli(t, ['queue', 'frobnicate', '--url', url]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /queue needs a verb/);
    const help = await runCli(t, ['queue', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /queue consume QUEUE/);
    // No durable service behind this broker.
    const { unix: bare } = await testBroker(t);
    const none = await runCli(t, ['queue', 'send', 'q', 'x', '--url', bare]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /PLEXUS_ERR_NO_RESPONDERS/);
  });
});
