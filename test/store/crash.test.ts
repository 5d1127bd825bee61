import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openLog } from '../../src/store/index.js';
import { within } from '../helpers/wait.js';
import { payloadFor, tempDir } from './helpers.js';

const writer = fileURLToPath(new URL('./fixtures/crash-writer.js', import.meta.url));

interface Acked {
  readonly tag: number;
  readonly len: number;
}

/**
 * Run the writer child, SIGKILL it after `ms`, and return the acknowledgements it
 * printed. The child is killed by PID in `t.after` too, in case the test fails first.
 */
async function runAndKill(t: Parameters<typeof tempDir>[0], dir: string, tagBase: number, ms: number): Promise<Map<number, Acked>> {
  const child = spawn(process.execPath, [writer, dir, String(tagBase)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  t.after(async () => {
    if (!exited) process.kill(pid, 'SIGKILL');
    await within(exit, 5000, `child ${pid} exit`);
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  await within(
    new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (out.includes('ready')) resolve();
        else if (exited) reject(new Error(`writer exited early: ${err}`));
        else setTimeout(check, 2);
      };
      check();
    }),
    10_000,
    'writer ready',
  );
  await new Promise((r) => setTimeout(r, ms));
  process.kill(pid, 'SIGKILL');
  await within(exit, 5000, 'writer exit after SIGKILL');
  const acked = new Map<number, Acked>();
  for (const line of out.split('\n')) {
    const m = /^A (\d+) (\d+) (\d+)$/.exec(line);
    if (m) acked.set(Number(m[1]), { tag: Number(m[2]), len: Number(m[3]) });
  }
  return acked;
}

void it('crash test: SIGKILL a writer at random moments; every acknowledged record survives intact', async (t) => {
  const dir = await tempDir(t, 'plexus-crash-');
  const all = new Map<number, Acked>();
  const started = Date.now();
  let iterations = 0;
  let tornTails = 0;
  let highest = 0;
  // At least 20 kills, within a bounded time.
  while (iterations < 20 || (iterations < 30 && Date.now() - started < 12_000)) {
    const acked = await runAndKill(t, dir, iterations * 1_000_000, 20 + Math.floor(Math.random() * 200));
    for (const [seq, a] of acked) {
      assert.ok(!all.has(seq), `seq ${seq} acknowledged twice`);
      all.set(seq, a);
    }
    iterations++;

    const log = await openLog(dir, { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 });
    try {
      if (log.recovery.truncatedBytes > 0) tornTails++;
      assert.deepEqual(log.recovery.corruptRanges, [], 'a crash never shows up as corruption');
      const maxAcked = Math.max(0, ...all.keys());
      assert.ok(log.lastSeq >= maxAcked, `lastSeq ${log.lastSeq} < acknowledged ${maxAcked}`);
      assert.ok(log.lastSeq >= highest, 'lastSeq never goes back');
      highest = log.lastSeq;
      // Read everything: each record verifies its CRC; acknowledged ones must match exactly.
      let next = log.firstSeq;
      let seen = 0;
      while (next <= log.lastSeq) {
        const batch = await log.readRange(next, { maxRecords: 5000, maxBytes: 8 << 20 });
        assert.ok(batch.length > 0, `no records from ${next} to ${log.lastSeq}`);
        for (const r of batch) {
          assert.equal(r.seq, next, 'no gaps');
          const a = all.get(r.seq);
          if (a !== undefined) {
            assert.equal(r.subject, `w.${a.tag}`, `seq ${r.seq} subject`);
            assert.ok(Buffer.from(r.payload).equals(payloadFor(a.tag, a.len)), `seq ${r.seq} payload`);
          }
          next = r.seq + 1;
          seen++;
        }
      }
      assert.equal(seen, log.lastSeq);
      for (const seq of all.keys()) assert.ok(seq <= log.lastSeq);
      // Nothing after lastSeq is half-served.
      assert.equal(await log.read(log.lastSeq + 1), undefined);
      assert.deepEqual(await log.readRange(log.lastSeq + 1), []);
    } finally {
      await log.close();
    }
  }
  assert.ok(all.size > 100, `acknowledged records: ${all.size}`);
  t.diagnostic(`${iterations} kills, ${all.size} acknowledged records verified, ${highest} records in the log, ${tornTails} torn tails truncated`);
});
