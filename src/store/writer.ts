/**
 * The log's single writer: one queue for appends and for operations that change the
 * set of segments (roll, retention, compaction swaps, sync, close), run strictly in
 * order by one loop.
 *
 * Group commit: the loop takes every append queued at that moment (up to
 * `maxBatchBytes`), writes them with one positional write and, with `fsync: 'always'`,
 * one fdatasync. Appends that arrive while that fsync runs wait in the queue and go out
 * together in the next batch, so under load one fsync acknowledges many appends.
 *
 * A failed write or fsync rejects the whole batch and truncates the segment back to
 * where the batch began: what was acknowledged before stays, and the next batch is
 * written at the same place once the cause (say a full disk) is gone.
 */
import type { PlexusError } from '../errors/index.js';
import { writeFailed } from './errors.js';
import { stampRecord } from './format.js';
import { writeFully } from './fs.js';
import type { ResolvedLogOptions } from './options.js';
import type { SegmentSet } from './segments.js';
import type { AppendResult } from './types.js';

/** The log state the writer advances. */
export interface WriterHost {
  readonly opts: ResolvedLogOptions;
  readonly segments: SegmentSet;
  /** Sequence the next record gets. */
  nextSeq: number;
  /** Timestamp of the last record (timestamps never go backwards). */
  lastTimestamp: number;
  /** Records became visible (acknowledged). */
  committed(): void;
}

interface AppendJob {
  readonly kind: 'append';
  readonly records: Buffer[];
  readonly bytes: number;
  readonly resolve: (r: AppendResult[]) => void;
  readonly reject: (e: unknown) => void;
  readonly signal: AbortSignal | undefined;
  detach: (() => void) | undefined;
}

interface OpJob {
  readonly kind: 'op';
  readonly run: () => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

type Job = AppendJob | OpJob;

/** Writer counters (see `LogStats`). */
export interface WriterCounters {
  appends: number;
  batches: number;
  fsyncs: number;
  bytes: number;
  writeFailures: number;
  fsyncFailures: number;
  rolls: number;
}

/** The queue and loop described above. */
export class Writer {
  readonly counters: WriterCounters = { appends: 0, batches: 0, fsyncs: 0, bytes: 0, writeFailures: 0, fsyncFailures: 0, rolls: 0 };
  private queue: Job[] = [];
  private running = false;
  /** Written but not yet fsynced (interval mode). */
  private dirty = false;
  private syncDue = false;
  private syncError: PlexusError | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly host: WriterHost) {
    const f = host.opts.fsync;
    if (f !== 'always') {
      this.timer = setInterval(() => {
        if (this.dirty) {
          this.syncDue = true;
          this.kick();
        }
      }, f.intervalMs);
      this.timer.unref();
    }
  }

  /** Queue encoded records to be written as one unit; resolves when acknowledged. */
  append(records: Buffer[], bytes: number, signal: AbortSignal | undefined): Promise<AppendResult[]> {
    return new Promise<AppendResult[]>((resolve, reject) => {
      const job: AppendJob = { kind: 'append', records, bytes, resolve, reject, signal, detach: undefined };
      if (signal !== undefined) {
        // Only a job still waiting in the queue can be withdrawn; once written it stands.
        const onAbort = (): void => {
          const i = this.queue.indexOf(job);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(signal.reason);
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
        job.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(job);
      this.kick();
    });
  }

  /** Run `fn` between batches, with no write in progress. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind: 'op', run: fn, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** Inside the loop: fsync what was written (interval mode); report an earlier failed interval fsync. */
  async flush(): Promise<void> {
    await this.syncNow();
    const err = this.syncError;
    this.syncError = undefined;
    if (err !== undefined) throw err;
  }

  /**
   * Inside the loop: seal the active segment and start a new one at `nextSeq`. Makes
   * the active segment's data durable first.
   */
  async rollNow(): Promise<void> {
    const { fs } = this.host.opts;
    const seg = this.host.segments.active;
    if (this.dirty) {
      await fs.fdatasync(seg.fd);
      this.counters.fsyncs++;
      this.dirty = false;
    }
    if (seg.needsTruncate) {
      await fs.ftruncate(seg.fd, seg.size);
      seg.needsTruncate = false;
    }
    await this.host.segments.roll(this.host.nextSeq);
    this.counters.rolls++;
  }

  /** Stop the interval timer (the log is closing; the caller flushes through the loop). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // A microtask, so appends issued in the same tick form one batch.
    queueMicrotask(() => void this.run());
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.syncDue) await this.syncNow();
      const job = this.queue[0];
      if (job === undefined) break;
      if (job.kind === 'op') {
        this.queue.shift();
        try {
          job.resolve(await job.run());
        } catch (err) {
          job.reject(err);
        }
        continue;
      }
      try {
        await this.writeBatch();
      } catch (err) {
        // Not an I/O failure (those are handled inside): never let the loop die with work queued.
        if (this.queue[0]?.kind === 'append') this.failHead(err);
      }
    }
    this.running = false;
  }

  private async syncNow(): Promise<void> {
    this.syncDue = false;
    if (!this.dirty) return;
    this.dirty = false;
    const seg = this.host.segments.active;
    try {
      await this.host.opts.fs.fdatasync(seg.fd);
      this.counters.fsyncs++;
    } catch (err) {
      this.counters.fsyncFailures++;
      this.syncError = writeFailed(err, seg.name, 'interval fsync');
    }
  }

  /** Remove the append job at the head of the queue and reject it. */
  private failHead(err: unknown): void {
    const job = this.queue.shift() as AppendJob;
    job.detach?.();
    this.counters.writeFailures++;
    job.reject(err);
  }

  private async writeBatch(): Promise<void> {
    const { opts, segments } = this.host;
    const { fs } = opts;
    let seg = segments.active;
    const first = this.queue[0] as AppendJob;
    if (seg.count > 0 && seg.size + first.bytes > opts.segmentBytes) {
      try {
        await this.rollNow();
      } catch (err) {
        this.failHead(writeFailed(err, seg.name, 'segment roll'));
        return;
      }
      seg = segments.active;
    }
    if (seg.needsTruncate) {
      try {
        await fs.ftruncate(seg.fd, seg.size);
        seg.needsTruncate = false;
      } catch (err) {
        this.failHead(writeFailed(err, seg.name, 'truncating a failed write'));
        return;
      }
    }

    // Gather every append queued now, up to the batch and segment limits.
    const jobs: AppendJob[] = [];
    let bytes = 0;
    let taken = 0;
    for (const job of this.queue) {
      if (job.kind !== 'append') break;
      if (jobs.length > 0 && (bytes + job.bytes > opts.maxBatchBytes || seg.size + bytes + job.bytes > opts.segmentBytes)) break;
      taken++;
      job.detach?.();
      jobs.push(job);
      bytes += job.bytes;
    }
    this.queue.splice(0, taken);

    const firstSeq = this.host.nextSeq;
    const timestamp = Math.max(Date.now(), this.host.lastTimestamp);
    const buffers: Buffer[] = [];
    let seq = firstSeq;
    for (const job of jobs) {
      for (const b of job.records) {
        stampRecord(b, seq++, timestamp);
        buffers.push(b);
      }
    }
    const start = seg.size;
    try {
      await writeFully(fs, seg.fd, buffers, start);
      if (opts.fsync === 'always') {
        await fs.fdatasync(seg.fd);
        this.counters.fsyncs++;
      } else {
        this.dirty = true;
      }
    } catch (err) {
      this.counters.writeFailures++;
      try {
        await fs.ftruncate(seg.fd, start);
      } catch {
        seg.needsTruncate = true; // Retried before the next write; reads stop at `size` anyway.
      }
      const e = writeFailed(err, seg.name, 'append');
      for (const job of jobs) job.reject(e);
      return;
    }

    // Commit: the records become visible and are acknowledged.
    let pos = start;
    seq = firstSeq;
    for (const b of buffers) {
      seg.noteRecord(pos, seq++, timestamp);
      pos += b.length;
    }
    seg.size = pos;
    this.host.nextSeq = seq;
    this.host.lastTimestamp = timestamp;
    this.counters.appends += buffers.length;
    this.counters.batches++;
    this.counters.bytes += bytes;
    seq = firstSeq;
    for (const job of jobs) {
      const results: AppendResult[] = [];
      for (let i = 0; i < job.records.length; i++) results.push({ seq: seq++, timestamp });
      job.resolve(results);
    }
    this.host.committed();
  }
}
