/**
 * `plexus broker --data-dir` / `--no-durable`: the daemon runs the durable service on
 * the given directory, data survives a restart of the process, and a second broker on
 * the same directory stops with advice instead of sharing it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../../src/index.js';
import { durable } from '../../src/durable/index.js';
import { withTimeout } from '../helpers/timeout.js';
import { startCli, tempDir, waitForOutput, type CliRun } from './helpers.js';

async function daemon(t: Parameters<typeof startCli>[0], sock: string, extra: string[]): Promise<CliRun> {
  const run = startCli(t, ['broker', '--listen', sock, '--no-http', ...extra]);
  await waitForOutput(run, 'stderr', /Ctrl-C \(SIGINT\) or SIGTERM stops it/);
  return run;
}

describe('plexus broker durable flags', { timeout: 60_000 }, () => {
  it('--data-dir keeps streams and messages across a restart of the daemon', async (t) => {
    const dir = await tempDir(t);
    const sock = `unix://${join(dir, 'b.sock')}`;
    const data = join(dir, 'data');
    let run = await daemon(t, sock, ['--data-dir', data]);
    assert.match(run.stderr(), new RegExp(`durable data .* in ${data.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    let bus = await connect(sock);
    await durable(bus).createStream({ name: 'jobs', subjects: ['jobs.>'] });
    const ack = await durable(bus).publish('jobs.one', new TextEncoder().encode('payload'));
    assert.equal(ack.seq, 1);
    await bus.close();
    run.child.kill('SIGTERM');
    assert.equal((await withTimeout(run.exited, 10_000, 'broker stop')).code, 0, run.stderr());

    run = await daemon(t, sock, ['--data-dir', data]);
    bus = await connect(sock);
    t.after(() => bus.close());
    const info = await durable(bus).streamInfo('jobs');
    assert.equal(info.state.messages, 1);
    assert.equal(info.state.lastSeq, 1);
    run.child.kill('SIGTERM');
    await withTimeout(run.exited, 10_000, 'broker stop');
  });

  it('a second broker on the same --data-dir exits with advice; --no-durable runs without it', async (t) => {
    const dir = await tempDir(t);
    const data = join(dir, 'data');
    const first = await daemon(t, `unix://${join(dir, 'a.sock')}`, ['--data-dir', data]);
    const second = startCli(t, ['broker', '--listen', `unix://${join(dir, 'b.sock')}`, '--no-http', '--data-dir', data]);
    const { code } = await withTimeout(second.exited, 10_000, 'second broker');
    assert.notEqual(code, 0);
    assert.match(second.stderr(), /PLEXUS_ERR_STORE_LOCKED/);
    assert.match(second.stderr(), /--data-dir DIR/);

    const plain = await daemon(t, `unix://${join(dir, 'c.sock')}`, ['--no-durable']);
    assert.doesNotMatch(plain.stderr(), /durable data/);
    const bus = await connect(`unix://${join(dir, 'c.sock')}`);
    t.after(() => bus.close());
    await assert.rejects(durable(bus).listStreams(), /PLEXUS_ERR_NO_RESPONDERS|no responders/i);
    for (const r of [first, plain]) {
      r.child.kill('SIGTERM');
      await withTimeout(r.exited, 10_000, 'broker stop');
    }
  });
});
