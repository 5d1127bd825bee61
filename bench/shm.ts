/**
 * Local fast path benchmark: one-way throughput from one sender to one receiver, side by
 * side in one run, for 16 B / 256 B / 4 KiB / 64 KiB records:
 *
 *   shm ring (2 procs)   SPSC ring in a shared segment, sender and receiver in two processes
 *   shm ring, batched    the same, the sender publishing its tail once per 32 records
 *   SAB ring (threads)   the same ring over a plain SharedArrayBuffer, main thread → worker
 *   SAB ring, batched    the same, batched
 *   SAB ring (w→w)       the same ring between two worker threads (the "bare SAB
 *                        ring" baseline: neither side is the main thread)
 *   postMessage          worker_threads MessagePort, Uint8Array per message (structured clone)
 *   process.send json    child_process IPC, a string payload, JSON serialization
 *   process.send adv     child_process IPC, a Uint8Array, 'advanced' serialization
 *   unix socket          raw Unix stream socket, 4-byte length prefix, writes batched to 64 KiB
 *   memcpy               (64 KiB only) Uint8Array.set in one thread: the copy floor
 *
 * and round-trip latency (p50/p99, 16 B) for the ring (both sides spinning) and the
 * socket/port paths. Every receiver touches each payload (reads its first and last byte).
 *
 *   node dist/bench/shm.js            # ~1 min on 2 cores
 *   node dist/bench/shm.js --quick    # smaller counts
 *   node dist/bench/shm.js --json     # also print the results as JSON
 *
 * Every child process and worker it starts is ended before it exits, and every segment it
 * creates is unlinked.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SharedSegment, SpscRing, ringByteLength, shmAvailability } from '../src/local/index.js';

const SIZES = [16, 256, 4096, 65536];
/** Records per tail publication in the batched rows. */
const BATCH = 32;
const self = fileURLToPath(import.meta.url);
const quick = process.argv.includes('--quick');

/** Messages per run for a size: a fixed byte budget, bounded both ways. */
function countFor(size: number, fast: boolean): number {
  const budget = (quick ? 64 : 512) * 2 ** 20;
  const max = fast ? (quick ? 500_000 : 3_000_000) : quick ? 50_000 : 300_000;
  return Math.max(2000, Math.min(max, Math.floor(budget / size)));
}

function ringCapacity(size: number): number {
  return Math.max(2 ** 18, 2 ** Math.ceil(Math.log2(size * 16)));
}

// ---------------------------------------------------------------------------------------
// Receivers (child processes and workers). Each one counts `count` messages, touching
// every payload, and reports { ms } measured from its first to its last message.

function touch(view: Uint8Array): number {
  return view.length === 0 ? 0 : view[0]! + view[view.length - 1]!;
}

function ringReceive(ring: SpscRing, count: number): number {
  let n = 0;
  let sink = 0;
  const handler = (bytes: Uint8Array, start: number, end: number): void => {
    if (end > start) sink += bytes[start]! + bytes[end - 1]!;
  };
  while (n < count) {
    const got = ring.pollRange(handler);
    if (got === 0) ring.waitReadableSync({ timeoutMs: 60_000 });
    n += got;
  }
  return sink;
}

function ringEcho(inbound: SpscRing, outbound: SpscRing, count: number): void {
  for (let i = 0; i < count; i++) {
    let r = inbound.tryRead();
    while (r === undefined) r = inbound.tryRead();
    while (!outbound.tryWrite(r)) {
      // spin: latency mode
    }
  }
}

interface Job {
  role: string;
  count: number;
  size: number;
  name?: string;
  buffer?: SharedArrayBuffer;
  path?: string;
}

/** Worker side of the worker→worker SAB row: waits for `go`, then sends. */
async function sabSend(job: Job): Promise<Record<string, unknown>> {
  const ring = SpscRing.attach(job.buffer!, 0);
  const data = payload(job.size);
  const go = new Promise((resolve) => parentPort!.once('message', resolve));
  send({ t: 'ready' });
  await go;
  ringSend(ring, data, job.count, 1);
  return {};
}

async function child(job: Job): Promise<Record<string, unknown>> {
  switch (job.role) {
    case 'shm-recv': {
      const seg = SharedSegment.open(job.name!, { heartbeatMs: 0 });
      const ring = SpscRing.attach(seg.buffer, seg.dataOffset);
      send({ t: 'ready' });
      ringReceive(ring, job.count);
      seg.close();
      return {};
    }
    case 'sab-recv': {
      const ring = SpscRing.attach(job.buffer!, 0);
      send({ t: 'ready' });
      ringReceive(ring, job.count);
      return {};
    }
    case 'sab-send':
      return await sabSend(job);
    case 'shm-echo': {
      const seg = SharedSegment.open(job.name!, { heartbeatMs: 0 });
      const half = (seg.dataSize / 2) & ~63;
      const inbound = SpscRing.attach(seg.buffer, seg.dataOffset);
      const outbound = SpscRing.attach(seg.buffer, seg.dataOffset + half);
      send({ t: 'ready' });
      ringEcho(inbound, outbound, job.count);
      seg.close();
      return {};
    }
    case 'port-recv':
      return await new Promise((resolve) => {
        let n = 0;
        let sink = 0;
        parentPort!.on('message', (m: Uint8Array) => {
          sink += touch(m);
          if (++n === job.count) resolve({ sink });
        });
        send({ t: 'ready' });
      });
    case 'port-echo':
      parentPort!.on('message', (m: Uint8Array) => parentPort!.postMessage(m));
      send({ t: 'ready' });
      return await new Promise(() => {});
    case 'ipc-recv':
      return await new Promise((resolve) => {
        let n = 0;
        let sink = 0;
        process.on('message', (m: unknown) => {
          if (typeof m === 'object' && m !== null && 't' in m) return;
          sink += typeof m === 'string' ? m.length : touch(m as Uint8Array);
          if (++n === job.count) resolve({ sink });
        });
        send({ t: 'ready' });
      });
    case 'ipc-echo':
      process.on('message', (m: unknown) => {
        if (typeof m === 'object' && m !== null && 't' in m) return;
        process.send!(m);
      });
      send({ t: 'ready' });
      return await new Promise(() => {});
    case 'unix-recv':
    case 'unix-echo':
      return await unixPeer(job);
    default:
      throw new Error(`unknown role ${job.role}`);
  }
}

/** Unix socket receiver: parses 4-byte length-prefixed frames; echo mode writes them back. */
function unixPeer(job: Job): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const server = createServer((sock) => {
      let pending: Buffer = Buffer.alloc(0);
      let n = 0;
      let sink = 0;
      sock.on('data', (chunk: Buffer) => {
        const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let off = 0;
        const start = off;
        while (buf.length - off >= 4) {
          const len = buf.readUInt32LE(off);
          if (buf.length - off - 4 < len) break;
          const view = buf.subarray(off + 4, off + 4 + len);
          sink += touch(view);
          off += 4 + len;
          n++;
        }
        if (job.role === 'unix-echo' && off > start) sock.write(buf.subarray(start, off));
        pending = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
        if (job.role === 'unix-recv' && n === job.count) {
          sock.end();
          server.close();
          resolve({ sink });
        }
      });
    });
    server.listen(job.path!, () => send({ t: 'ready' }));
  });
}

function send(msg: object): void {
  if (!isMainThread) parentPort!.postMessage(msg);
  else process.send!(msg);
}

// ---------------------------------------------------------------------------------------
// Runner side.

interface Peer {
  ready: Promise<void>;
  done: Promise<void>;
  stop(): Promise<void>;
}

function startProcess(job: Job, serialization: 'json' | 'advanced' = 'json'): Peer & { proc: ChildProcess } {
  const proc = fork(self, ['--child', JSON.stringify(job)], { serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let readyResolve!: () => void;
  let doneResolve!: () => void;
  let failed!: (e: Error) => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const done = new Promise<void>((r, reject) => {
    doneResolve = r;
    failed = reject;
  });
  proc.on('message', (m: { t?: string; error?: string }) => {
    if (m?.t === 'ready') readyResolve();
    else if (m?.t === 'done') doneResolve();
    else if (m?.t === 'error') failed(new Error(m.error));
  });
  proc.once('exit', (code) => failed(new Error(`${job.role} exited with ${code}`)));
  done.catch(() => {});
  return {
    proc,
    ready,
    done,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}

function startWorker(job: Job): Peer & { worker: Worker } {
  const worker = new Worker(self, { workerData: job });
  let readyResolve!: () => void;
  let doneResolve!: () => void;
  let failed!: (e: Error) => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const done = new Promise<void>((r, reject) => {
    doneResolve = r;
    failed = reject;
  });
  worker.on('message', (m: { t?: string; error?: string }) => {
    if (m?.t === 'ready') readyResolve();
    else if (m?.t === 'done') doneResolve();
    else if (m?.t === 'error') failed(new Error(m.error));
  });
  worker.once('error', (e) => failed(e));
  done.catch(() => {});
  return {
    worker,
    ready,
    done,
    async stop() {
      await worker.terminate();
    },
  };
}

interface Row {
  size: number;
  transport: string;
  count: number;
  ms: number;
  msgsPerSec: number;
  mbPerSec: number;
}

function row(size: number, transport: string, count: number, ms: number): Row {
  return { size, transport, count, ms, msgsPerSec: (count / ms) * 1000, mbPerSec: (count * size) / ms / 1000 };
}

/** A payload the size of a record, with non-zero first/last bytes. */
function payload(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

let segCounter = 0;
function segName(): string {
  return `plexus-bench-${process.pid}-${segCounter++}`;
}

/** Sends `count` records; `batch` > 1 publishes the tail once per `batch` records. */
function ringSend(ring: SpscRing, data: Uint8Array, count: number, batch: number): void {
  for (let i = 0; i < count; i++) {
    const publish = batch === 1 || i % batch === batch - 1;
    if (!ring.tryWrite(data, 0, publish)) ring.writeSync(data, 0, { timeoutMs: 60_000 });
  }
  ring.publish();
}

async function benchShm(size: number, batch: number): Promise<Row> {
  const count = countFor(size, true);
  const capacity = ringCapacity(size);
  const name = segName();
  const seg = SharedSegment.create(name, { size: ringByteLength(capacity), heartbeatMs: 0 });
  const ring = SpscRing.create(seg.buffer, { byteOffset: seg.dataOffset, capacity, maxRecordBytes: Math.min(capacity / 4, 1 << 20), wake: 'futex' });
  const peer = startProcess({ role: 'shm-recv', count, size, name });
  try {
    await peer.ready;
    const data = payload(size);
    const t0 = performance.now();
    ringSend(ring, data, count, batch);
    await peer.done;
    return row(size, batch === 1 ? 'shm ring (2 procs)' : 'shm ring, batched', count, performance.now() - t0);
  } finally {
    await peer.stop();
    seg.close();
  }
}

async function benchSab(size: number, batch: number): Promise<Row> {
  const count = countFor(size, true);
  const capacity = ringCapacity(size);
  const buffer = new SharedArrayBuffer(ringByteLength(capacity));
  const ring = SpscRing.create(buffer, { capacity, maxRecordBytes: Math.min(capacity / 4, 1 << 20) });
  const peer = startWorker({ role: 'sab-recv', count, size, buffer });
  try {
    await peer.ready;
    const data = payload(size);
    const t0 = performance.now();
    ringSend(ring, data, count, batch);
    await peer.done;
    return row(size, batch === 1 ? 'SAB ring (threads)' : 'SAB ring, batched', count, performance.now() - t0);
  } finally {
    await peer.stop();
  }
}

async function benchSabWorkers(size: number): Promise<Row> {
  const count = countFor(size, true);
  const capacity = ringCapacity(size);
  const buffer = new SharedArrayBuffer(ringByteLength(capacity));
  SpscRing.create(buffer, { capacity, maxRecordBytes: Math.min(capacity / 4, 1 << 20) });
  const receiver = startWorker({ role: 'sab-recv', count, size, buffer });
  const sender = startWorker({ role: 'sab-send', count, size, buffer });
  try {
    await Promise.all([receiver.ready, sender.ready]);
    const t0 = performance.now();
    sender.worker.postMessage('go');
    await receiver.done;
    return row(size, 'SAB ring (w→w)', count, performance.now() - t0);
  } finally {
    await Promise.all([receiver.stop(), sender.stop()]);
  }
}

async function benchPort(size: number): Promise<Row> {
  const count = countFor(size, false);
  const peer = startWorker({ role: 'port-recv', count, size });
  try {
    await peer.ready;
    const data = payload(size);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      peer.worker.postMessage(data);
      // Yield now and then so the port does not queue the whole run in memory.
      if ((i & 4095) === 4095) await new Promise((r) => setImmediate(r));
    }
    await peer.done;
    return row(size, 'postMessage', count, performance.now() - t0);
  } finally {
    await peer.stop();
  }
}

async function benchIpc(size: number, serialization: 'json' | 'advanced'): Promise<Row> {
  const count = countFor(size, false);
  const peer = startProcess({ role: 'ipc-recv', count, size }, serialization);
  try {
    await peer.ready;
    const data = serialization === 'json' ? 'x'.repeat(size) : payload(size);
    const t0 = performance.now();
    // send() returns false once its backlog is over the limit; then the next message is
    // sent with a callback and awaited (there is no 'drain' event for IPC).
    let backlogged = false;
    for (let i = 0; i < count; i++) {
      if (backlogged) {
        await new Promise<void>((r) => peer.proc.send(data, () => r()));
        backlogged = false;
      } else {
        backlogged = !peer.proc.send(data);
      }
    }
    await peer.done;
    return row(size, `process.send ${serialization === 'json' ? 'json' : 'adv'}`, count, performance.now() - t0);
  } finally {
    await peer.stop();
  }
}

async function benchUnix(size: number, dir: string): Promise<Row> {
  const count = countFor(size, true);
  const path = join(dir, `u${segCounter++}.sock`);
  const peer = startProcess({ role: 'unix-recv', count, size, path });
  try {
    await peer.ready;
    const sock = createConnection(path);
    await new Promise((r) => sock.once('connect', r));
    const data = payload(size);
    const t0 = performance.now();
    // Frames are coalesced into 64 KiB chunks; honour write() returning false.
    const chunk = Buffer.allocUnsafe(Math.max(65536, size + 4));
    let used = 0;
    const flush = async (): Promise<void> => {
      if (used === 0) return;
      const ok = sock.write(Buffer.from(chunk.subarray(0, used)));
      used = 0;
      if (!ok) await new Promise((r) => sock.once('drain', r));
    };
    for (let i = 0; i < count; i++) {
      if (used + 4 + size > chunk.length) await flush();
      chunk.writeUInt32LE(size, used);
      chunk.set(data, used + 4);
      used += 4 + size;
    }
    await flush();
    await peer.done;
    const ms = performance.now() - t0;
    sock.destroy();
    return row(size, 'unix socket', count, ms);
  } finally {
    await peer.stop();
  }
}

function benchMemcpy(size: number): Row {
  const count = countFor(size, true);
  const src = payload(size);
  // Copy through a ring-sized area so the destination is not one hot cache line set.
  const area = new Uint8Array(ringCapacity(size));
  const slots = area.length / size;
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const at = (i % slots) * size;
    area.set(src, at);
    sink += area[at]!;
  }
  const ms = performance.now() - t0;
  if (sink < 0) console.log(sink);
  return row(size, 'memcpy (1 thread)', count, ms);
}

// ---- round trips ----------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface RttRow {
  transport: string;
  p50: number;
  p99: number;
}

async function rttShm(n: number): Promise<RttRow> {
  const capacity = 2 ** 16;
  const name = segName();
  const seg = SharedSegment.create(name, { size: 2 * ringByteLength(capacity) + 64, heartbeatMs: 0 });
  const half = (seg.dataSize / 2) & ~63;
  const out = SpscRing.create(seg.buffer, { byteOffset: seg.dataOffset, capacity, wake: 'futex' });
  const back = SpscRing.create(seg.buffer, { byteOffset: seg.dataOffset + half, capacity, wake: 'futex' });
  const peer = startProcess({ role: 'shm-echo', count: n, size: 16, name });
  try {
    await peer.ready;
    const data = payload(16);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      while (!out.tryWrite(data)) {
        // spin
      }
      let r = back.tryRead();
      while (r === undefined) r = back.tryRead();
      times.push(performance.now() - t0);
    }
    await peer.done;
    return summarise('shm ring (spinning)', times);
  } finally {
    await peer.stop();
    seg.close();
  }
}

function summarise(transport: string, times: number[]): RttRow {
  const warm = times.slice(Math.floor(times.length / 10)).sort((a, b) => a - b);
  return { transport, p50: percentile(warm, 50) * 1000, p99: percentile(warm, 99) * 1000 };
}

async function rttPort(n: number): Promise<RttRow> {
  const peer = startWorker({ role: 'port-echo', count: n, size: 16 });
  try {
    await peer.ready;
    const data = payload(16);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const back = new Promise((r) => peer.worker.once('message', r));
      peer.worker.postMessage(data);
      await back;
      times.push(performance.now() - t0);
    }
    return summarise('postMessage', times);
  } finally {
    await peer.stop();
  }
}

async function rttIpc(n: number): Promise<RttRow> {
  const peer = startProcess({ role: 'ipc-echo', count: n, size: 16 });
  try {
    await peer.ready;
    const data = 'x'.repeat(16);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const back = new Promise((r) => peer.proc.once('message', r));
      peer.proc.send(data);
      await back;
      times.push(performance.now() - t0);
    }
    return summarise('process.send json', times);
  } finally {
    await peer.stop();
  }
}

async function rttUnix(n: number, dir: string): Promise<RttRow> {
  const path = join(dir, `rtt${segCounter++}.sock`);
  const peer = startProcess({ role: 'unix-echo', count: n, size: 16, path });
  try {
    await peer.ready;
    const sock: Socket = createConnection(path);
    sock.setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    const frame = Buffer.alloc(20);
    frame.writeUInt32LE(16, 0);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const back = new Promise((r) => sock.once('data', r));
      sock.write(frame);
      await back;
      times.push(performance.now() - t0);
    }
    sock.destroy();
    return summarise('unix socket', times);
  } finally {
    await peer.stop();
  }
}

// ---- report -----------------------------------------------------------------------------

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

function median<T>(runs: T[], key: (t: T) => number): T {
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor(runs.length / 2)]!;
}

async function main(): Promise<void> {
  const avail = shmAvailability();
  if (!avail.available) {
    console.error(`shared-memory addon unavailable: ${avail.reason}`);
    process.exit(1);
  }
  const repeat = quick ? 1 : 3;
  const dir = mkdtempSync(join(os.tmpdir(), 'plexus-shm-bench-'));
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      const runs: [string, () => Promise<Row>][] = [
        ['shm', () => benchShm(size, 1)],
        ['shm-batched', () => benchShm(size, BATCH)],
        ['sab', () => benchSab(size, 1)],
        ['sab-batched', () => benchSab(size, BATCH)],
        ['sab-workers', () => benchSabWorkers(size)],
        ['port', () => benchPort(size)],
        ['json', () => benchIpc(size, 'json')],
        ['adv', () => benchIpc(size, 'advanced')],
        ['unix', () => benchUnix(size, dir)],
      ];
      if (size === 65536) runs.push(['memcpy', () => Promise.resolve(benchMemcpy(size))]);
      for (const [, run] of runs) {
        const results: Row[] = [];
        for (let r = 0; r < repeat; r++) results.push(await run());
        const m = median(results, (x) => x.msgsPerSec);
        rows.push(m);
        process.stderr.write(`  ${String(size).padStart(5)} B  ${m.transport.padEnd(20)} ${fmt(m.msgsPerSec).padStart(9)} msgs/s\n`);
      }
    }
    const rtts: RttRow[] = [];
    const n = quick ? 2000 : 20_000;
    rtts.push(await rttShm(n * 5));
    rtts.push(await rttPort(n));
    rtts.push(await rttIpc(n));
    rtts.push(await rttUnix(n, dir));
    print(rows, rtts);
    if (process.argv.includes('--json')) console.log(JSON.stringify({ rows, rtts }, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(rows: Row[], rtts: RttRow[]): void {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  console.log(`\nPlexus local fast path: one-way throughput (median of ${quick ? 1 : 3}), node ${process.version}, ${os.cpus().length} × ${cpu}\n`);
  console.log('| size | transport | msgs/s | MB/s | × process.send json | × SAB ring | × SAB w→w |');
  console.log('|---:|---|---:|---:|---:|---:|---:|');
  for (const size of SIZES) {
    const of = rows.filter((r) => r.size === size);
    const json = of.find((r) => r.transport === 'process.send json')!;
    const sab = of.find((r) => r.transport === 'SAB ring (threads)')!;
    const ww = of.find((r) => r.transport === 'SAB ring (w→w)')!;
    for (const r of of) {
      const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
      console.log(
        `| ${label} | ${r.transport} | ${fmt(r.msgsPerSec)} | ${r.mbPerSec.toFixed(0)} | ${(r.msgsPerSec / json.msgsPerSec).toFixed(1)} | ${(r.msgsPerSec / sab.msgsPerSec).toFixed(2)} | ${(r.msgsPerSec / ww.msgsPerSec).toFixed(2)} |`,
      );
    }
  }
  console.log('\nRound trip, 16 B (after warm-up)\n');
  console.log('| transport | p50 µs | p99 µs |');
  console.log('|---|---:|---:|');
  for (const r of rtts) console.log(`| ${r.transport} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`);
}

// ---- entry --------------------------------------------------------------------------------

async function runChild(job: Job): Promise<void> {
  try {
    const extra = await child(job);
    send({ t: 'done', ...extra });
  } catch (err) {
    send({ t: 'error', error: (err as Error).stack ?? String(err) });
  }
  if (isMainThread) process.disconnect();
}

if (!isMainThread) {
  await runChild(workerData as Job);
} else if (process.argv[2] === '--child') {
  await runChild(JSON.parse(process.argv[3]!) as Job);
} else {
  await main();
}
