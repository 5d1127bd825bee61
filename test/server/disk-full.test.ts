/**
 * Disk full, through the whole stack (issue 3 §4): a broker whose data directory is on
 * a 2 MiB tmpfs. Sends fail with a coded error once the disk is full, nothing that was
 * acknowledged is lost, the queue keeps serving reads, and sends work again when space
 * returns — without restarting anything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect, ErrorCode, PlexusError, queue, startBroker } from '../../src/index.js';
import { Cleanup } from '../helpers/plexus.js';

async function smallTmpfs(t: TestContext, size: string): Promise<string> {
  const mnt = await mkdtemp(join(tmpdir(), 'plexus-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { timeout: 5000, encoding: 'utf8' });
  // Not skipped: the suite runs as root on its machines; say plainly if that changed.
  assert.equal(r.status, 0, `mounting a ${size} tmpfs failed (this test needs root or a mount namespace): ${r.stderr}`);
  t.after(async () => {
    spawnSync('umount', ['-l', mnt], { timeout: 5000 });
    await rm(mnt, { recursive: true, force: true });
  });
  return mnt;
}

test('disk full under a queue: coded send errors, acknowledged messages kept and readable, sends resume when space returns', async (t) => {
  const mnt = await smallTmpfs(t, '2m');
  const cleanup = new Cleanup(t);
  const filler = join(mnt, 'filler');
  await writeFile(filler, Buffer.alloc(512 * 1024, 1));
  const broker = await startBroker({ listen: [`unix://${join(mnt, 'b.sock')}`], durable: { dir: join(mnt, 'data') } });
  cleanup.defer(() => broker.close({ drainMs: 0 }));
  const bus = await connect(broker.urls[0]!);
  cleanup.defer(() => bus.close());
  const q = queue(bus, 'full', { timeoutMs: 5000 });

  const acked: number[] = [];
  let failure: unknown;
  const body = (i: number): string => `${i}:`.padEnd(4096, 'z');
  for (let i = 0; i < 2000 && failure === undefined; i++) {
    try {
      await q.send(body(i), { msgId: `full-${i}` });
      acked.push(i);
    } catch (err) {
      failure = err;
    }
  }
  assert.ok(failure instanceof PlexusError, `a send failed with a PlexusError (got ${String(failure)})`);
  assert.equal(failure.code, ErrorCode.STORE_WRITE_FAILED, failure.message);
  assert.ok(acked.length > 50, `sends acknowledged before the disk filled: ${acked.length}`);

  // Reads still work while full: every acknowledged message, intact, in order. Acks
  // need a write of the consumer's state, so while the disk is full they may fail — with
  // the coded error, never silently.
  const seen: number[] = [];
  const ackErrors = new Set<string>();
  const consumer = q.consume({ prefetch: 4096 });
  for await (const m of consumer) {
    const i = Number(m.string().split(':', 1)[0]);
    if (m.string() !== body(i)) assert.fail(`message ${m.seq} is not what was sent for ${i}`);
    seen.push(i);
    await m.ack().catch((err: unknown) => ackErrors.add(err instanceof PlexusError ? err.code : String(err)));
    if (seen.length === acked.length) break;
  }
  assert.deepEqual(seen, acked);
  for (const code of ackErrors) assert.equal(code, ErrorCode.STORE_WRITE_FAILED);

  // Space returns: the same queue takes sends again, no restart needed. Acks of the
  // consumed messages may themselves have failed while full, so only new sends are counted.
  await unlink(filler);
  let resumed = false;
  for (let attempt = 0; attempt < 50 && !resumed; attempt++) {
    try {
      await q.send(body(100_000), { msgId: 'after-space' });
      resumed = true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(resumed, 'a send succeeded after space was freed');
});
