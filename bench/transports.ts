/**
 * Transport comparison through a real broker: request/reply round trip (p50/p99, 16 B)
 * and pub/sub throughput (msgs/s, 64 B) over `unix://`, `shm://` and `worker:` (postMessage
 * and ring mode).
 *
 * The broker runs in this process; the client runs in a child process (unix, shm) or a
 * worker thread (worker:). The client both serves `bench.echo` and requests it, and both
 * publishes and subscribes `bench.ps`, so every message crosses the transport twice and
 * the broker's routing is included; only the transport differs between rows.
 *
 *   node dist/bench/transports.js           # ~20 s
 *   node dist/bench/transports.js --quick   # smaller counts
 *
 * Every child and worker it starts is ended before it exits.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { startBroker } from '../src/broker/index.js';
import { connect } from '../src/client/index.js';
import { shmAvailability } from '../src/local/index.js';
import { InprocHub, workerPortPair } from '../src/transports/index.js';

interface Result {
  readonly rtP50Us: number;
  readonly rtP99Us: number;
  readonly pubsubMsgsPerSec: number;
}

const quick = process.argv.includes('--quick');
const RT_COUNT = quick ? 2000 : 20_000;
const PS_COUNT = quick ? 50_000 : 500_000;

/** The client side: measures and returns a Result. */
async function runClient(address: string): Promise<Result> {
  const conn = await connect(address, { name: 'bench' });
  conn.serve('bench.echo', (m) => m.data);
  await conn.flush();
  const payload = new Uint8Array(16);
  for (let i = 0; i < 500; i++) await conn.request('bench.echo', payload); // warm-up
  const times = new Float64Array(RT_COUNT);
  for (let i = 0; i < RT_COUNT; i++) {
    const t0 = performance.now();
    await conn.request('bench.echo', payload);
    times[i] = performance.now() - t0;
  }
  times.sort();
  const sub = conn.subscribe('bench.ps');
  await conn.flush();
  const body = new Uint8Array(64);
  const t0 = performance.now();
  const received = (async () => {
    let n = 0;
    for await (const m of sub) {
      void m;
      if (++n === PS_COUNT) break;
    }
  })();
  for (let i = 0; i < PS_COUNT; i++) {
    conn.publish('bench.ps', body);
    if ((i & 1023) === 1023) await new Promise<void>((r) => setImmediate(r));
  }
  await received;
  const secs = (performance.now() - t0) / 1000;
  await conn.close();
  return {
    rtP50Us: times[Math.floor(RT_COUNT * 0.5)]! * 1000,
    rtP99Us: times[Math.floor(RT_COUNT * 0.99)]! * 1000,
    pubsubMsgsPerSec: PS_COUNT / secs,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

async function viaChild(address: string): Promise<Result> {
  const broker = await startBroker({ listen: [address] });
  const child = fork(fileURLToPath(import.meta.url), ['--client', address, ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    return await withTimeout(
      new Promise<Result>((resolve, reject) => {
        child.once('message', (m) => resolve(m as Result));
        child.once('exit', (code) => reject(new Error(`bench client exited with ${code}`)));
      }),
      120_000,
      address,
    );
  } finally {
    child.kill();
    await broker.close({ drainMs: 100 });
  }
}

async function viaWorker(rings: boolean): Promise<Result> {
  // The broker wants one address to listen on; an inproc one on a private hub is never used.
  const broker = await startBroker({ listen: ['inproc://bench'], inproc: new InprocHub() });
  const pair = workerPortPair({ rings });
  broker.accept(pair.channel);
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: pair.workerData, transferList: pair.transferList, argv: quick ? ['--quick'] : [] });
  try {
    return await withTimeout(
      new Promise<Result>((resolve, reject) => {
        worker.once('message', (m) => resolve(m as Result));
        worker.once('error', reject);
      }),
      120_000,
      'worker:',
    );
  } finally {
    await worker.terminate();
    await broker.close({ drainMs: 100 });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'plexus-bench-'));
  const rows: [string, Result | string][] = [];
  try {
    rows.push(['unix:// (2 processes)', await viaChild(`unix://${join(dir, 'b.sock')}`)]);
    const shm = shmAvailability();
    rows.push(['shm:// (2 processes)', shm.available ? await viaChild(`shm://bench-${process.pid}`) : `skipped: ${shm.reason}`]);
    rows.push(['worker: (2 threads)', await viaWorker(false)]);
    rows.push(['worker: rings (2 threads)', await viaWorker(true)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`transports through the broker (${RT_COUNT} round trips of 16 B, ${PS_COUNT} pub/sub messages of 64 B); ${os.cpus().length} CPUs, Node ${process.version}`);
  console.log('| transport | req/reply p50 | req/reply p99 | pub/sub msgs/s |');
  console.log('|---|---:|---:|---:|');
  for (const [name, r] of rows) {
    if (typeof r === 'string') console.log(`| ${name} | ${r} | | |`);
    else console.log(`| ${name} | ${r.rtP50Us.toFixed(0)} µs | ${r.rtP99Us.toFixed(0)} µs | ${Math.round(r.pubsubMsgsPerSec).toLocaleString('en-US')} |`);
  }
}

if (!isMainThread) {
  parentPort!.postMessage(await runClient('worker:'));
} else if (process.argv[2] === '--client') {
  const r = await runClient(process.argv[3]!);
  process.send!(r);
  process.disconnect();
} else {
  await main();
}
