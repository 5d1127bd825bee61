/** `plexus lock NAME -- COMMAND` and `plexus lock info NAME` against a broker with a durable service. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { startDurableService } from '../../src/durable/index.js';
import { connect } from '../../src/index.js';
import { kv, lock } from '../../src/patterns/index.js';
import { withTimeout } from '../helpers/timeout.js';
import { alive, runCli, startCli, testBroker, waitForOutput } from './helpers.js';

async function setup(t: TestContext): Promise<string> {
  return (await setupWithService(t)).url;
}

async function setupWithService(t: TestContext): Promise<{ url: string; svc: Awaited<ReturnType<typeof startDurableService>> }> {
  const { unix, dir } = await testBroker(t);
  const svc = await startDurableService({ dir: join(dir, 'data'), url: unix });
  t.after(() => svc.close());
  return { url: unix, svc };
}

/** A command that prints its pid and fence, outlives a few lease TTLs, then exits 3 (bounded on its own). */
const HOLDER = "console.log('pid=' + process.pid + ' fence=' + process.env.PLEXUS_FENCE + ' lock=' + process.env.PLEXUS_LOCK); setTimeout(() => process.exit(3), 2500);";

describe('plexus lock', { timeout: 60_000 }, () => {
  it('runs the command holding the lock (renewed past its TTL), passes the fence, releases on exit, exits with its code', async (t) => {
    const url = await setup(t);
    const bus = await connect(url, { timeoutMs: 3000 });
    t.after(() => bus.close());
    const run = startCli(t, ['lock', 'jobs', '--ttl', '600', '--url', url, '--', process.execPath, '-e', HOLDER]);
    await waitForOutput(run, 'stdout', /fence=\d+/);
    const m = /pid=(\d+) fence=(\d+) lock=(\S+)/.exec(run.stdout())!;
    const [pid, fence] = [Number(m[1]), Number(m[2])];
    t.after(() => {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    assert.equal(m[3], 'jobs');
    const info = await lock(bus, 'jobs').info();
    assert.equal(info.holders.length, 1);
    assert.equal(info.holders[0]!.token, fence);
    // The fence works for KV writes while the command runs (the lease is renewed past several TTLs).
    const store = kv(bus, 'cli-fenced');
    await new Promise((r) => setTimeout(r, 1500));
    await store.put('k', 'v', { fence: { lock: 'jobs', token: fence } });
    assert.equal(await lock(bus, 'jobs').tryAcquire(), undefined, 'still held after more than two TTLs');
    const { code } = await withTimeout(run.exited, 15_000, 'plexus lock exits');
    assert.equal(code, 3, run.stderr());
    assert.equal((await lock(bus, 'jobs').info()).holders.length, 0, 'released on exit');
    const next = await lock(bus, 'jobs').acquire({ timeoutMs: 5000 });
    assert.ok(next.token > fence);
    await next.release();
  });

  it("the words after `--` are the command's: its --help is passed on, not taken as plexus's", async (t) => {
    const url = await setup(t);
    const r = await runCli(t, ['lock', 'helpful', '--url', url, '--', process.execPath, '-e', 'console.log(JSON.stringify(process.argv.slice(1)))', '--', '--help', '-h']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), ['--help', '-h']);
  });

  it('lock info; usage errors; a command that cannot start exits 127 and releases', async (t) => {
    const url = await setup(t);
    const free = await runCli(t, ['lock', 'info', 'idle', '--url', url]);
    assert.equal(free.code, 0, free.stderr);
    assert.match(free.stdout, /^lock idle: free \(last token 0\); 0 waiting/);
    const bus = await connect(url, { timeoutMs: 3000 });
    t.after(() => bus.close());
    const held = await lock(bus, 'idle', { ttlMs: 30_000 }).acquire();
    const json = await runCli(t, ['lock', 'info', 'idle', '--json', '--url', url]);
    assert.equal(JSON.parse(json.stdout).holders[0].token, held.token);
    assert.match((await runCli(t, ['lock', 'info', 'idle', '--url', url])).stdout, new RegExp(`held by ${held.owner}, token ${held.token}`));
    const busy = await runCli(t, ['lock', 'idle', '--wait', '300', '--url', url, '--', process.execPath, '-e', '0']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /PLEXUS_ERR_TIMEOUT/);
    await held.release();

    const noCmd = await runCli(t, ['lock', 'idle', '--url', url]);
    assert.equal(noCmd.code, 2);
    assert.match(noCmd.stderr, /after --/);
    const missing = await runCli(t, ['lock', 'idle', '--url', url, '--', 'plexus-no-such-command-xyz']);
    assert.equal(missing.code, 127, missing.stderr);
    assert.equal((await lock(bus, 'idle').info()).holders.length, 0);
  });

  it('a lost lease stops the command (SIGTERM) and exits non-zero', async (t) => {
    const { url, svc } = await setupWithService(t);
    // Runs for up to 30 s unless stopped; prints its pid so the test can always stop it.
    const script = "console.log('pid=' + process.pid); setTimeout(() => process.exit(0), 30000);";
    const run = startCli(t, ['lock', 'short', '--ttl', '500', '--url', url, '--', process.execPath, '-e', script]);
    await waitForOutput(run, 'stdout', /pid=\d+/);
    const pid = Number(/pid=(\d+)/.exec(run.stdout())![1]);
    t.after(() => {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    await svc.close(); // nobody can renew the lease now
    const { code } = await withTimeout(run.exited, 15_000, 'plexus lock exits once the lease is lost');
    assert.notEqual(code, 0);
    assert.match(run.stderr(), /PLEXUS_ERR_LEASE_LOST/);
    assert.equal(alive(pid), false, 'the command was stopped');
  });
});
