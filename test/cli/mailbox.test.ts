/** `plexus mailbox send|read|stat` on a broker with auth and a durable service. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startDurableService } from '../../src/durable/index.js';
import { runCli, testBroker } from './helpers.js';

const auth = {
  users: [
    { user: 'alice', password: 'alice-pw' },
    { user: 'bob', password: 'bob-pw' },
    { user: 'svc', token: 'svc-token' },
  ],
};

describe('plexus mailbox', { timeout: 60_000 }, () => {
  it('bob leaves mail for alice; only alice reads it, with bob as the sender', async (t) => {
    const { unix, dir } = await testBroker(t, { auth });
    const svc = await startDurableService({ dir: join(dir, 'data'), url: unix, connect: { token: 'svc-token' } });
    t.after(() => svc.close());
    const bob = ['--url', unix, '--user', 'bob', '--pass', 'bob-pw'];
    const alice = ['--url', unix, '--user', 'alice', '--pass', 'alice-pw'];
    const sent = await runCli(t, ['mailbox', 'send', 'alice', 'lunch at noon?', ...bob]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stderr, /mailbox alice: stored as #1 from bob/);
    const snoop = await runCli(t, ['mailbox', 'read', 'alice', '--count', '1', ...bob]);
    assert.equal(snoop.code, 1);
    assert.match(snoop.stderr, /PLEXUS_ERR_PERMISSION_DENIED/);
    const st = await runCli(t, ['mailbox', 'stat', ...alice]);
    assert.match(st.stdout, /^alice: 1 stored, 1 ready/m);
    const read = await runCli(t, ['mailbox', 'read', '--count', '1', '--json', ...alice]);
    assert.equal(read.code, 0, read.stderr);
    const m = JSON.parse(read.stdout) as { from: string; data: string };
    assert.deepEqual([m.from, m.data], ['bob', 'lunch at noon?']);
    const empty = await runCli(t, ['mailbox', 'read', '--idle', '300', ...alice]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, '');
  });
});
