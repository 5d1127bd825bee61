/**
 * Durable append throughput of the store's log (src/store), on this machine's disk.
 *
 *   node dist/bench/store.js                  # 256 B and 4 KiB, fsync always and interval
 *   node dist/bench/store.js --duration=1000  # ms per cell (default 2000)
 *   node dist/bench/store.js --sizes=256 --concurrency=1,64
 *
 * Each cell opens a fresh log in a temp directory (under the OS temp dir, or --dir=PATH
 * to put it on another disk), runs N appenders that each await their append and go
 * again, and reports acknowledged records/s, MB/s, fsyncs/s and records per fsync (the
 * group-commit factor). The temp directories are removed at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { openLog, type FsyncPolicy } from '../src/store/index.js';

interface Args {
  duration: number;
  sizes: number[];
  concurrency: number[];
  dir: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { duration: 2000, sizes: [256, 4096], concurrency: [1, 16, 256], dir: os.tmpdir() };
  for (const a of argv) {
    const [k, v = ''] = a.split('=', 2);
    if (k === '--duration') args.duration = Number(v);
    else if (k === '--sizes') args.sizes = v.split(',').map(Number);
    else if (k === '--concurrency') args.concurrency = v.split(',').map(Number);
    else if (k === '--dir') args.dir = v;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

interface Cell {
  readonly size: number;
  readonly mode: string;
  readonly concurrency: number;
  readonly records: number;
  readonly seconds: number;
  readonly fsyncs: number;
  readonly p50: number;
  readonly p99: number;
  readonly readPerSec: number;
}

async function runCell(root: string, size: number, fsync: FsyncPolicy, concurrency: number, ms: number): Promise<Cell> {
  const dir = await mkdtemp(join(root, 'plexus-store-bench-'));
  try {
    const log = await openLog(dir, { fsync });
    const payload = Buffer.alloc(size, 0x61);
    const latencies: number[] = [];
    let stop = false;
    const start = performance.now();
    const timer = setTimeout(() => (stop = true), ms);
    await Promise.all(
      Array.from({ length: concurrency }, async (_, i) => {
        const subject = `bench.${i}`;
        while (!stop) {
          const t0 = performance.now();
          await log.append({ subject, payload });
          latencies.push(performance.now() - t0);
        }
      }),
    );
    clearTimeout(timer);
    const seconds = (performance.now() - start) / 1000;
    const stats = log.stats();
    // Sequential read-back of everything written, in 1 MiB batches.
    const r0 = performance.now();
    let read = 0;
    for (let next = 1; next <= log.lastSeq; ) {
      const batch = await log.readRange(next, { maxRecords: 10_000, maxBytes: 1 << 20 });
      read += batch.length;
      next = batch[batch.length - 1]!.seq + 1;
    }
    const readPerSec = read / ((performance.now() - r0) / 1000);
    await log.close();
    latencies.sort((a, b) => a - b);
    const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
    const mode = fsync === 'always' ? 'always' : `interval ${fsync.intervalMs} ms`;
    return { size, mode, concurrency, records: stats.appends, seconds, fsyncs: stats.fsyncs, p50: pct(50), p99: pct(99), readPerSec };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function si(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)}k`;
  return n.toFixed(n >= 100 ? 0 : 1);
}

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`;
  const rule = `|${w.map((n, i) => (i < 3 ? '-'.repeat(n + 2) : `${'-'.repeat(n + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cells: Cell[] = [];
  const modes: FsyncPolicy[] = ['always', { intervalMs: 100 }];
  for (const size of args.sizes) {
    for (const mode of modes) {
      for (const c of args.concurrency) {
        const cell = await runCell(args.dir, size, mode, c, args.duration);
        cells.push(cell);
        process.stderr.write(`${size} B ${cell.mode} ×${c}: ${si(cell.records / cell.seconds)} records/s\n`);
      }
    }
  }
  const rows = cells.map((c) => [
    `${c.size >= 1024 ? `${c.size / 1024} KiB` : `${c.size} B`}`,
    c.mode,
    String(c.concurrency),
    si(c.records / c.seconds),
    ((c.records * c.size) / c.seconds / 1e6).toFixed(1),
    si(c.fsyncs / c.seconds),
    c.fsyncs === 0 ? '—' : (c.records / c.fsyncs).toFixed(1),
    c.p50.toFixed(2),
    c.p99.toFixed(2),
    si(c.readPerSec),
  ]);
  const cpus = os.cpus();
  console.log(`store bench: node ${process.version}, ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}, ${args.duration} ms per cell`);
  console.log('');
  console.log(
    table(['record', 'fsync', 'appenders', 'records/s', 'MB/s', 'fsyncs/s', 'records/fsync', 'p50 ms', 'p99 ms', 'read records/s'], rows),
  );
}

await main();
