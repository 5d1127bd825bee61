import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compactLastValue, lastValuePredicate, openLog, type Log } from '../../src/store/index.js';
import { within } from '../helpers/wait.js';
import { open, tempDir } from './helpers.js';

const writer = fileURLToPath(new URL('./fixtures/last-value-writer.js', import.meta.url));
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8').trim();

/** Every record of the log, subject → values in sequence order. */
async function bySubject(log: Log): Promise<Map<string, { seq: number; value: string }[]>> {
  const out = new Map<string, { seq: number; value: string }[]>();
  for (let from = log.firstSeq; from <= log.lastSeq; ) {
    const recs = await log.readRange(from, { maxRecords: 1000 });
    if (recs.length === 0) break;
    for (const r of recs) {
      const list = out.get(r.subject) ?? [];
      list.push({ seq: r.seq, value: text(r.payload) });
      out.set(r.subject, list);
    }
    from = recs[recs.length - 1]!.seq + 1;
  }
  return out;
}

void it('last-value compaction keeps the newest record of each subject and reclaims the rest', async (t) => {
  const dir = await tempDir(t);
  const log = await open(t, dir, { segmentBytes: 4096 });
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < 10; k++) await log.append({ subject: `k.${k}`, payload: Buffer.from(`${round}`.padEnd(100, ' ')) });
  }
  const before = log.stats();
  const r = await compactLastValue(log);
  assert.ok(r.rewritten > 0);
  const after = log.stats();
  assert.ok(after.storedBytes < before.storedBytes / 2, `stored ${after.storedBytes} of ${before.storedBytes}`);
  const subjects = await bySubject(log);
  assert.equal(subjects.size, 10);
  for (const [, list] of subjects) {
    // The newest is always there; older ones only in the (uncompacted) active segment.
    assert.equal(list[list.length - 1]!.value, '19');
  }
  await log.close();
  const again = await open(t, dir, { segmentBytes: 4096 });
  const reopened = await bySubject(again);
  for (const [k, list] of reopened) assert.equal(list[list.length - 1]!.value, '19', k);
});

void it('keepPerSubject keeps history; a purged tombstone removes the subject entirely', async (t) => {
  const dir = await tempDir(t);
  const log = await open(t, dir, { segmentBytes: 1024 });
  for (let round = 0; round < 10; round++) {
    for (const k of ['a', 'b']) await log.append({ subject: k, payload: Buffer.from(`${round}`.padEnd(60, ' ')) });
  }
  await log.append({ subject: 'b', headers: undefined, payload: Buffer.from('DEL') });
  // Roll past the last record so everything above is in sealed segments.
  for (let i = 0; i < 20; i++) await log.append({ subject: 'filler', payload: Buffer.alloc(100) });
  const isTombstone = (r: { payload: Uint8Array }): boolean => text(r.payload) === 'DEL';
  await compactLastValue(log, { keepPerSubject: 3, isTombstone });
  let s = await bySubject(log);
  assert.deepEqual(s.get('a')!.map((e) => e.value), ['7', '8', '9']);
  assert.deepEqual(s.get('b')!.map((e) => e.value), ['8', '9', 'DEL']);
  await compactLastValue(log, { keepPerSubject: 3, isTombstone, purgeTombstonesBefore: Date.now() + 1000 });
  s = await bySubject(log);
  assert.equal(s.has('b'), false, 'purged subject is gone');
  assert.deepEqual(s.get('a')!.map((e) => e.value), ['7', '8', '9']);
  await assert.rejects(lastValuePredicate(log, { keepPerSubject: 0 }), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
});

void it('appends during compaction are never dropped', async (t) => {
  const dir = await tempDir(t);
  const log = await open(t, dir, { segmentBytes: 2048 });
  for (let i = 0; i < 400; i++) await log.append({ subject: `k.${i % 5}`, payload: Buffer.from(String(i)) });
  const compaction = compactLastValue(log);
  const written: number[] = [];
  for (let i = 400; i < 450; i++) written.push((await log.append({ subject: `k.${i % 5}`, payload: Buffer.from(String(i)) })).seq);
  await compaction;
  for (const seq of written) assert.ok(await log.read(seq), `seq ${seq} still there`);
  const s = await bySubject(log);
  for (let k = 0; k < 5; k++) assert.equal(s.get(`k.${k}`)!.at(-1)!.value, String(445 + k));
});

void it('kill -9 during compaction: after reopen every key has its newest acknowledged value (5 rounds)', async (t) => {
  const dir = await tempDir(t);
  /** key → highest acknowledged value. */
  const acked = new Map<string, number>();
  let compactions = 0;
  let next = 0;
  for (let round = 0; round < 5; round++) {
    const child = spawn(process.execPath, [writer, dir, String(next)], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const deadline = Date.now() + 10_000;
    // Wait until it has compacted at least once and written a while (bounded).
    while (!/^C /m.test(out) || out.split('\n').length < 1500) {
      if (exited) throw new Error(`writer exited: ${err}`);
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, Math.random() * 100));
    process.kill(pid, 'SIGKILL');
    await within(exit, 5000, 'writer exit');
    for (const line of out.split('\n')) {
      const m = /^A (\d+) (\S+) (\d+)$/.exec(line);
      if (m) {
        const v = Number(m[3]);
        if ((acked.get(m[2]!) ?? -1) < v) acked.set(m[2]!, v);
        next = Math.max(next, v + 1);
      } else if (line.startsWith('C ')) compactions++;
    }
    next += 1000; // values the killed child may have written unacknowledged
    const log = await openLog(dir, { segmentBytes: 16 * 1024, indexIntervalBytes: 512 });
    try {
      const s = await bySubject(log);
      for (const [key, value] of acked) {
        const list = s.get(key);
        assert.ok(list, `${key} present`);
        const newest = Number(list[list.length - 1]!.value);
        assert.ok(newest >= value, `${key}: newest ${newest} < acknowledged ${value}`);
        // Values only grow per key, so the newest record is the newest value.
        assert.equal(newest, Math.max(...list.map((e) => Number(e.value))));
      }
      assert.deepEqual(log.corruptRanges(), []);
    } finally {
      await log.close();
    }
  }
  assert.ok(acked.size === 40, `keys acknowledged: ${acked.size}`);
  assert.ok(compactions > 0, 'compactions ran');
});
