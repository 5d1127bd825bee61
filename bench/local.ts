/**
 * Mutex benchmark (issue 4, §6): the cost of the shared-memory `Mutex` from src/local,
 * complementing bench/shm.ts (which compares the data paths side by side).
 *
 *   uncontended   one thread locks and unlocks in a loop: tryLock/unlock, lockSync/unlock,
 *                 and the async `await lock()`/unlock (ns per lock+unlock)
 *   contended     2 worker threads (wake 'atomics') and 2 processes over a segment (wake
 *                 'futex', needs the addon) each lock, bump a plain shared counter,
 *                 unlock, as fast as they can: total lock+unlock pairs per second, and the
 *                 counter checked (a lost update would mean no mutual exclusion)
 *
 *   node dist/bench/local.js            # ~10 s
 *   node dist/bench/local.js --quick    # tiny counts (smoke run)
 *   node dist/bench/local.js --json     # also print the results as JSON
 *
 * Every worker and child process it starts is ended before it exits; the segment is unlinked.
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { Mutex, SYNC_PRIMITIVE_BYTES, SharedSegment, shmAvailability } from '../src/local/index.js';

const self = fileURLToPath(import.meta.url);
const quick = process.argv.includes('--quick');
const PARTIES = 2;

interface Row {
  readonly case: string;
  readonly ops: number;
  readonly nsPerOp?: number;
  readonly opsPerSec?: number;
  readonly ok?: boolean;
}

/** Lock, bump the counter in the word after the mutex (a read–modify–write that races without the lock), unlock. */
function hammer(m: Mutex, counter: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    m.lockSync(10_000);
    counter[0] = counter[0]! + 1; // deliberately not atomic
    m.unlock();
  }
}

// ---- children: a worker thread or a forked process running `hammer` -----------------
if (!isMainThread) {
  const { buffer, offset, n } = workerData as { buffer: SharedArrayBuffer; offset: number; n: number };
  hammer(Mutex.attach(buffer, offset), new Int32Array(buffer, offset + SYNC_PRIMITIVE_BYTES, 1), n);
} else if (process.argv[2] === '--child') {
  const [name, offset, n] = process.argv.slice(3);
  const seg = await SharedSegment.openAsync(name!, { timeoutMs: 5000 });
  const start = new Int32Array(seg.buffer, Number(offset) + 2 * SYNC_PRIMITIVE_BYTES, 1);
  process.send!('ready');
  // Start together: spin until the parent flips the start word (bounded).
  const until = Date.now() + 10_000;
  while (Atomics.load(start, 0) === 0 && Date.now() < until) {
    // spin
  }
  hammer(Mutex.attach(seg.buffer, Number(offset)), new Int32Array(seg.buffer, Number(offset) + SYNC_PRIMITIVE_BYTES, 1), Number(n));
  seg.close();
  process.exit(0);
} else {
  await main();
}

function uncontended(rows: Row[]): void {
  const n = quick ? 20_000 : 2_000_000;
  const m = Mutex.create(new SharedArrayBuffer(SYNC_PRIMITIVE_BYTES), 0);
  for (const [label, step] of [
    ['uncontended tryLock+unlock', () => (m.tryLock(), m.unlock())],
    ['uncontended lockSync+unlock', () => (m.lockSync(1000), m.unlock())],
  ] as const) {
    for (let i = 0; i < n / 10; i++) step(); // warm-up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) step();
    const ns = Number(process.hrtime.bigint() - t0);
    rows.push({ case: label, ops: n, nsPerOp: ns / n });
  }
}

async function uncontendedAsync(rows: Row[]): Promise<void> {
  const n = quick ? 5_000 : 300_000;
  const m = Mutex.create(new SharedArrayBuffer(SYNC_PRIMITIVE_BYTES), 0);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await m.lock({ timeoutMs: 1000 });
    m.unlock();
  }
  rows.push({ case: 'uncontended await lock()+unlock', ops: n, nsPerOp: Number(process.hrtime.bigint() - t0) / n });
}

async function contendedThreads(rows: Row[]): Promise<void> {
  const n = quick ? 5_000 : 500_000;
  const buffer = new SharedArrayBuffer(2 * SYNC_PRIMITIVE_BYTES);
  Mutex.create(buffer, 0, { wake: 'atomics' });
  const counter = new Int32Array(buffer, SYNC_PRIMITIVE_BYTES, 1);
  const t0 = process.hrtime.bigint();
  const workers = Array.from({ length: PARTIES }, () => new Worker(self, { workerData: { buffer, offset: 0, n } }));
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => (w.once('exit', resolve), w.once('error', reject)))));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  rows.push({ case: `contended, ${PARTIES} threads (atomics)`, ops: n * PARTIES, opsPerSec: (n * PARTIES) / s, ok: counter[0] === n * PARTIES });
}

async function contendedProcesses(rows: Row[]): Promise<void> {
  const avail = shmAvailability();
  if (!avail.available) {
    console.log(`contended processes: skipped, the shm addon is unavailable (${avail.reason})`);
    return;
  }
  const n = quick ? 2_000 : 200_000;
  const name = `plexus-bench-mutex-${process.pid}`;
  const seg = SharedSegment.create(name, { size: 4096, reclaimStale: true });
  try {
    Mutex.create(seg.buffer, seg.dataOffset, { wake: 'futex' });
    const counter = new Int32Array(seg.buffer, seg.dataOffset + SYNC_PRIMITIVE_BYTES, 1);
    const start = new Int32Array(seg.buffer, seg.dataOffset + 2 * SYNC_PRIMITIVE_BYTES, 1);
    const children = Array.from({ length: PARTIES }, () => fork(self, ['--child', name, String(seg.dataOffset), String(n)], { stdio: 'inherit' }));
    try {
      await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))));
      const t0 = process.hrtime.bigint();
      Atomics.store(start, 0, 1);
      await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(undefined) : c.once('exit', resolve)))));
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      rows.push({ case: `contended, ${PARTIES} processes (futex)`, ops: n * PARTIES, opsPerSec: (n * PARTIES) / s, ok: counter[0] === n * PARTIES });
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  } finally {
    seg.close();
  }
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  uncontended(rows);
  await uncontendedAsync(rows);
  await contendedThreads(rows);
  await contendedProcesses(rows);
  console.log(`Mutex, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}${quick ? ', --quick' : ''}\n`);
  console.log('| case | ops | ns per lock+unlock | lock+unlock pairs/s | counter exact |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${fmt(r.ops)} | ${r.nsPerOp?.toFixed(1) ?? ''} | ${r.opsPerSec !== undefined ? fmt(r.opsPerSec) : ''} | ${r.ok === undefined ? '' : r.ok ? 'yes' : 'NO'} |`,
    );
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify(rows));
  if (rows.some((r) => r.ok === false)) process.exitCode = 1;
}
