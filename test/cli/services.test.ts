/** `plexus services ls|info|stats` against a broker with registered instances. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, registerInstance, type Connection } from '../../src/index.js';
import { runCli, testBroker } from './helpers.js';

describe('plexus services', { timeout: 60_000 }, () => {
  it('ls, info and stats show what is registered and what instances report', async (t) => {
    const { tcp } = await testBroker(t);
    const buses: Connection[] = [];
    t.after(() => Promise.all(buses.map((b) => b.close())));
    const open = async (): Promise<Connection> => {
      const b = await connect(tcp, { name: 'svc' });
      buses.push(b);
      return b;
    };
    const a = await registerInstance(await open(), { name: 'rides', version: '2.1.0', id: 'rides-a', endpoints: ['rides.path'], metadata: { zone: 'eu' } });
    await registerInstance(await open(), { name: 'billing', version: '1.0.0', id: 'bill-1' });
    a.record('path', 3);
    a.record('path', 5, true);

    const ls = await runCli(t, ['services', 'ls', '--url', tcp]);
    assert.equal(ls.code, 0, ls.stderr);
    const lines = ls.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+VERSION\s+ID\s+IDENTITY\s+CONNECTION\s+UP\s+HEALTH\s+ENDPOINTS$/);
    assert.match(lines[1]!, /^billing\s+1\.0\.0\s+bill-1\s+anonymous\s/);
    assert.match(lines[2]!, /^rides\s+2\.1\.0\s+rides-a\s+anonymous\s+\S+\s+\d+s\s+ok\s+rides\.path$/);
    assert.equal(lines.length, 3);

    const json = await runCli(t, ['services', 'ls', 'rides@^2', '--json', '--url', tcp]);
    assert.equal(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout) as { id: string; metadata: unknown }[];
    assert.deepEqual(listed.map((i) => [i.id, i.metadata]), [['rides-a', { zone: 'eu' }]]);

    const info = await runCli(t, ['services', 'info', 'rides', '--url', tcp]);
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual((JSON.parse(info.stdout) as { id: string; endpoints: string[] }[]).map((i) => [i.id, i.endpoints]), [['rides-a', ['rides.path']]]);

    const stats = await runCli(t, ['services', 'stats', '--url', tcp]);
    assert.equal(stats.code, 0, stats.stderr);
    const rows = stats.stdout.trim().split('\n');
    assert.match(rows[0]!, /^NAME\s+ID\s+ENDPOINT\s+REQUESTS\s+ERRORS\s+AVG_MS$/);
    assert.ok(rows.some((r) => /^rides\s+rides-a\s+path\s+2\s+1\s+4\.00$/.test(r)), stats.stdout);
    assert.ok(rows.some((r) => /^billing\s+bill-1\s+-\s+0\s+0\s+-$/.test(r)), stats.stdout);
  });

  it('--help documents the actions; a bad action is a usage error; an empty registry says so', async (t) => {
    const { tcp } = await testBroker(t);
    const help = await runCli(t, ['services', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /plexus services ls \[NAME\[@RANGE\]\]/);
    assert.match(help.stdout, /plexus services stats \[NAME\]/);
    const bad = await runCli(t, ['services', 'frobnicate', '--url', tcp]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown action "frobnicate".*PLEXUS_ERR_INVALID_ARGUMENT|unknown action "frobnicate"/);
    const empty = await runCli(t, ['services', 'ls', '--url', tcp]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, 'no services registered\n');
  });
});
