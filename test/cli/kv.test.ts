/** `plexus kv get|put|del|watch|keys|history` against a broker with a durable service. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { startDurableService } from '../../src/durable/index.js';
import { connect } from '../../src/index.js';
import { kv } from '../../src/patterns/index.js';
import { withTimeout } from '../helpers/timeout.js';
import { runCli, startCli, testBroker, waitForOutput } from './helpers.js';

async function setup(t: TestContext): Promise<string> {
  const { unix, dir } = await testBroker(t);
  const svc = await startDurableService({ dir: join(dir, 'data'), url: unix });
  t.after(() => svc.close());
  return unix;
}

describe('plexus kv', { timeout: 60_000 }, () => {
  it('put / get / del, CAS failures as readable coded errors', async (t) => {
    const url = await setup(t);
    const put = await runCli(t, ['kv', 'put', 'sessions', 'user.1', 'hello', '--url', url]);
    assert.equal(put.code, 0, put.stderr);
    const rev = Number(/revision (\d+)/.exec(put.stderr)![1]);
    const get = await runCli(t, ['kv', 'get', 'sessions', 'user.1', '--url', url]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'hello');
    assert.match(get.stderr, new RegExp(`revision ${rev}`));
    const json = await runCli(t, ['kv', 'get', 'sessions', 'user.1', '--json', '--url', url]);
    assert.deepEqual({ ...JSON.parse(json.stdout), createdAt: 0, updatedAt: 0 }, { key: 'user.1', op: 'put', revision: rev, value: 'hello', createdAt: 0, updatedAt: 0 });

    const create = await runCli(t, ['kv', 'put', 'sessions', 'user.1', 'x', '--create', '--url', url]);
    assert.equal(create.code, 1);
    assert.match(create.stderr, /PLEXUS_ERR_KV_KEY_EXISTS/);
    const stale = await runCli(t, ['kv', 'put', 'sessions', 'user.1', 'x', '--revision', String(rev + 100), '--url', url]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /^plexus: .*PLEXUS_ERR_KV_WRONG_REVISION/m);
    const cas = await runCli(t, ['kv', 'put', 'sessions', 'user.1', '-', '--revision', String(rev), '--url', url], {}, { input: 'from stdin' });
    assert.equal(cas.code, 0, cas.stderr);
    assert.equal((await runCli(t, ['kv', 'get', 'sessions', 'user.1', '--raw', '--url', url])).stdout, 'from stdin');

    const keys = await runCli(t, ['kv', 'keys', 'sessions', '--url', url]);
    assert.equal(keys.stdout, 'user.1\n');
    const del = await runCli(t, ['kv', 'del', 'sessions', 'user.1', '--url', url]);
    assert.equal(del.code, 0, del.stderr);
    const missing = await runCli(t, ['kv', 'get', 'sessions', 'user.1', '--url', url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such key/);
    const history = await runCli(t, ['kv', 'history', 'sessions', 'user.1', '--json', '--url', url]);
    assert.deepEqual(history.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { op: string }).op), ['del']);
    assert.equal((await runCli(t, ['kv', 'put', 'sessions', 'user.2', 'v1', '--url', url])).code, 0);
    assert.equal((await runCli(t, ['kv', 'put', 'sessions', 'user.2', 'v2', '--url', url])).code, 0);
    const purge = await runCli(t, ['kv', 'purge', 'sessions', 'user.2', '--url', url]);
    assert.equal(purge.code, 0, purge.stderr);
    assert.match(purge.stderr, /user\.2 purged/);
    const purged = await runCli(t, ['kv', 'history', 'sessions', 'user.2', '--json', '--url', url]);
    assert.equal(purged.code, 0, purged.stderr);
    // No revision of the key is left: at most the purge marker, until compaction drops it (~1 s).
    const ops = purged.stdout.trim() === '' ? [] : purged.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { op: string }).op);
    assert.ok(ops.length <= 1 && ops.every((op) => op === 'purge'), `history after purge: ${JSON.stringify(ops)}`);

    const noBucket = await runCli(t, ['kv', 'get', 'nope', 'k', '--url', url]);
    assert.equal(noBucket.code, 1);
    assert.match(noBucket.stderr, /PLEXUS_ERR_DURABLE_NOT_FOUND/);
    const badKey = await runCli(t, ['kv', 'put', 'sessions', 'a..b', 'v', '--url', url]);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /PLEXUS_ERR_INVALID_ARGUMENT/);
    const usage = await runCli(t, ['kv', 'frobnicate', '--url', url]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /kv needs a verb/);
    const help = await runCli(t, ['kv', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /kv watch BUCKET/);
  });

  it('watch prints the current values, then each change with its revision', async (t) => {
    const url = await setup(t);
    const bus = await connect(url);
    t.after(() => bus.close());
    const b = kv(bus, 'cfg');
    await b.put('app.mode', 'blue');
    const run = startCli(t, ['kv', 'watch', 'cfg', 'app.>', '--count', '3', '--json', '--url', url]);
    await waitForOutput(run, 'stdout', /"app.mode"/);
    const r2 = await b.put('app.mode', 'green');
    await b.put('other', 'ignored');
    await b.delete('app.mode');
    const { code } = await withTimeout(run.exited, 10_000, 'watch --count 3');
    assert.equal(code, 0, run.stderr());
    const lines = run.stdout().trim().split('\n').map((l) => JSON.parse(l) as { op: string; key: string; value?: string; revision: number });
    assert.deepEqual(lines.map((l) => [l.op, l.key, l.value]), [['put', 'app.mode', 'blue'], ['put', 'app.mode', 'green'], ['del', 'app.mode', undefined]]);
    assert.equal(lines[1]!.revision, r2);
  });
});
