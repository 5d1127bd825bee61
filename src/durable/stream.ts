/**
 * One durable stream inside the service: its log, publisher dedup, the wake-up list for
 * waiting fetches, and its consumers with their persisted state.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openLog, type Log, type StoredRecord } from '../store/index.js';
import { FROM_HEADER, decodeHeaders, encodeHeaders, subjectMatches } from '../wire/index.js';
import { MSG_ID_HEADER, type ConsumerConfig, type ConsumerInfo, type StreamConfig, type StreamInfo } from './config.js';
import { CoalescingWriter, writeFileAtomic } from './files.js';
import { SlotWriter } from './state-slots.js';

/** Most records scanned on open to rebuild the dedup table. */
const DEDUP_SCAN_RECORDS = 200_000;
/** Most ids kept in the dedup table (oldest dropped first). */
const DEDUP_MAX_IDS = 1_000_000;

/** A message delivered and not yet acknowledged. */
export interface PendingEntry {
  /** Deliveries so far. */
  count: number;
  /** When it may be delivered again (epoch ms). */
  deadline: number;
}

/** A simple FIFO mutex. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

/** A durable consumer: a cursor plus the pending set, saved to `<stream>/consumers/<name>.json`. */
export class Consumer {
  /** Highest stream sequence handed out or skipped. */
  cursor: number;
  /**
   * Delivered, not yet acknowledged messages; and delayed ones read past the cursor but
   * not yet due (`count` 0, `deadline` = their deliver-at).
   */
  readonly pending = new Map<number, PendingEntry>();
  /** Entries of `pending` with `count` 0 (delayed, never delivered). */
  scheduled = 0;
  readonly lock = new Mutex();
  readonly writer: CoalescingWriter;

  /**
   * `file` (`<name>.json`) is written once at creation; later saves go to its two slot
   * files (src/durable/state-slots.ts), the newest being at `generation`.
   */
  constructor(
    readonly config: ConsumerConfig,
    readonly file: string,
    cursor: number,
    generation = 0,
  ) {
    this.cursor = cursor;
    this.writer = new CoalescingWriter(file, () => this.snapshot(), new SlotWriter(file, generation).write);
  }

  /** Write the consumer's file (its config and state) when it is created. */
  create(): Promise<void> {
    return writeFileAtomic(this.file, this.snapshot());
  }

  private snapshot(): string {
    return JSON.stringify({
      config: this.config,
      cursor: this.cursor,
      // A delayed entry keeps its due time: it must not come out early after a restart.
      pending: [...this.pending].map(([s, p]) => (p.count === 0 ? [s, 0, p.deadline] : [s, p.count])),
    });
  }

  /** Delivered and not yet acknowledged (what `maxAckPending` limits). */
  get outstanding(): number {
    return this.pending.size - this.scheduled;
  }

  /** Hold back a delayed message until `at`. */
  schedule(seq: number, at: number): void {
    if (this.pending.has(seq)) return;
    this.pending.set(seq, { count: 0, deadline: at });
    this.scheduled++;
  }

  /** Count one more delivery of `p`, due back after the ack wait. */
  deliver(p: PendingEntry, now: number): void {
    if (p.count === 0) this.scheduled--;
    p.count++;
    p.deadline = now + this.config.ackWaitMs;
  }

  /** Forget a pending entry (acked, terminated, expired, dead-lettered or gone). */
  remove(seq: number): void {
    const p = this.pending.get(seq);
    if (!p) return;
    if (p.count === 0) this.scheduled--;
    this.pending.delete(seq);
  }

  /** Every sequence at or below this is acknowledged, terminated or filtered out. */
  get ackFloor(): number {
    let min = Infinity;
    for (const s of this.pending.keys()) if (s < min) min = s;
    return min === Infinity ? this.cursor : min - 1;
  }

  /**
   * When the next pending entry can be handed out (epoch ms), or `Infinity`. Entries that
   * used up maxDeliver wait for the dead-letter sweep, not for a fetch: waking for them
   * would spin.
   */
  nextDue(): number {
    let due = Infinity;
    for (const p of this.pending.values()) if (p.deadline < due && p.count < this.config.maxDeliver) due = p.deadline;
    return due;
  }

  matches(subject: string): boolean {
    return this.config.filterSubject === undefined || subjectMatches(this.config.filterSubject, subject);
  }

  info(): ConsumerInfo {
    return {
      config: this.config,
      state: { delivered: this.cursor, ackFloor: this.ackFloor, pending: this.outstanding, scheduled: this.scheduled },
    };
  }
}

/** A stream: its config, its log, and its consumers. */
export class DurableStream {
  readonly consumers = new Map<string, Consumer>();
  private readonly dedup = new Map<string, { seq: number; at: number }>();
  private readonly inflight = new Map<string, Promise<number>>();
  private waiters = new Set<() => void>();
  /** The work-queue truncation running, and the one queued behind it (see applyWorkqueue). */
  private truncating: Promise<void> | undefined;
  private truncateNext: Promise<void> | undefined;

  private constructor(
    readonly config: StreamConfig,
    readonly dir: string,
    readonly log: Log,
  ) {}

  static async open(config: StreamConfig, dir: string): Promise<DurableStream> {
    await mkdir(join(dir, 'consumers'), { recursive: true });
    const log = await openLog(join(dir, 'log'), {
      fsync: config.fsync,
      ...(config.maxMessages !== undefined ? { maxMessages: config.maxMessages } : {}),
      ...(config.maxBytes !== undefined ? { maxBytes: config.maxBytes } : {}),
      ...(config.maxAgeMs !== undefined ? { maxAgeMs: config.maxAgeMs } : {}),
    });
    const s = new DurableStream(config, dir, log);
    try {
      await s.rebuildDedup();
    } catch (err) {
      await log.close();
      throw err;
    }
    return s;
  }

  /** Record message ids of the last dedup window from the log (after a restart). */
  private async rebuildDedup(): Promise<void> {
    const window = this.config.dedupWindowMs;
    if (window <= 0) return;
    const since = Date.now() - window;
    let from = Math.max(this.log.firstSeq, this.log.lastSeq - DEDUP_SCAN_RECORDS + 1);
    while (from <= this.log.lastSeq) {
      let batch: StoredRecord[];
      try {
        batch = await this.log.readRange(from, { maxRecords: 1024 });
      } catch {
        // A corrupt range: its ids are unknown; skip past the record we failed on.
        from++;
        continue;
      }
      if (batch.length === 0) break;
      for (const r of batch) {
        if (r.timestamp < since || !r.headers) continue;
        const id = decodeHeaders(r.headers)?.[MSG_ID_HEADER];
        if (id !== undefined) this.dedup.set(id, { seq: r.seq, at: r.timestamp });
      }
      from = batch[batch.length - 1]!.seq + 1;
    }
  }

  /**
   * Append a captured message durably. With a `msg-id` seen within the dedup window, no
   * second copy is stored and the original sequence is returned with `duplicate`.
   */
  async store(subject: string, headers: Record<string, string>, from: string, payload: Uint8Array): Promise<{ seq: number; duplicate: boolean }> {
    const id = this.config.dedupWindowMs > 0 ? headers[MSG_ID_HEADER] : undefined;
    if (id !== undefined) {
      const now = Date.now();
      const hit = this.dedup.get(id);
      if (hit && hit.at >= now - this.config.dedupWindowMs) return { seq: hit.seq, duplicate: true };
      const running = this.inflight.get(id);
      if (running) return { seq: await running, duplicate: true };
    }
    const block = encodeHeaders({ ...headers, [FROM_HEADER]: from });
    const p = this.log.append({ subject, headers: block, payload }).then((r) => r.seq);
    if (id !== undefined) this.inflight.set(id, p);
    try {
      const seq = await p;
      if (id !== undefined) this.remember(id, seq);
      this.wake();
      return { seq, duplicate: false };
    } finally {
      if (id !== undefined && this.inflight.get(id) === p) this.inflight.delete(id);
    }
  }

  private remember(id: string, seq: number): void {
    const now = Date.now();
    this.dedup.delete(id);
    this.dedup.set(id, { seq, at: now });
    const oldest = now - this.config.dedupWindowMs;
    for (const [k, v] of this.dedup) {
      if (v.at >= oldest && this.dedup.size <= DEDUP_MAX_IDS) break;
      this.dedup.delete(k);
    }
  }

  /** Append a record as it is (headers already encoded), e.g. into a DLQ. */
  async appendRaw(subject: string, headers: Uint8Array | undefined, payload: Uint8Array): Promise<number> {
    const { seq } = await this.log.append({ subject, headers, payload });
    this.wake();
    return seq;
  }

  /** Wake fetches waiting for messages (a new record, a nak, a restart of a delay). */
  wake(): void {
    const w = this.waiters;
    if (w.size === 0) return;
    this.waiters = new Set();
    for (const fn of w) fn();
  }

  /** Resolve on the next wake-up or after `ms`. */
  waitForWork(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.waiters.add(done);
    });
  }


  /**
   * Work-queue retention: drop everything every consumer has acknowledged. Acks wait for
   * it (a queue's `stat()` right after an ack no longer counts the message). Coalesced: it
   * holds appends while it runs, so a burst of acks runs at most the trim in progress
   * plus one more, which uses the floor as it is when it starts and so covers every ack
   * made before this call. The cut is not made durable (the store saves it at close): a
   * crash can undo it, and the service trims again when it opens the stream.
   */
  applyWorkqueue(): Promise<void> {
    if (this.workqueueFloor() + 1 <= this.log.firstSeq) return Promise.resolve();
    if (!this.truncating) return this.startTruncate();
    this.truncateNext ??= this.truncating.then(
      () => this.startTruncate(),
      () => this.startTruncate(),
    );
    return this.truncateNext;
  }

  /** The highest sequence every consumer has settled, or 0 when nothing can be dropped. */
  private workqueueFloor(): number {
    if (this.config.retention !== 'workqueue' || this.consumers.size === 0) return 0;
    let floor = Infinity;
    for (const c of this.consumers.values()) floor = Math.min(floor, c.ackFloor);
    return floor;
  }

  private startTruncate(): Promise<void> {
    this.truncateNext = undefined;
    const floor = this.workqueueFloor();
    // Not durable: the acks are in the consumer state, and a cut a crash undoes is redone
    // when the service opens the stream.
    const run = floor + 1 > this.log.firstSeq ? this.log.truncateBefore(floor + 1, { durable: false }).then(() => undefined) : Promise.resolve();
    const p = run.finally(() => {
      if (this.truncating === p) this.truncating = undefined;
    });
    this.truncating = p;
    return p;
  }

  info(): StreamInfo {
    const st = this.log.stats();
    return {
      config: this.config,
      state: { messages: st.records, bytes: st.storedBytes, firstSeq: st.firstSeq, lastSeq: st.lastSeq, consumers: this.consumers.size },
    };
  }

  async close(): Promise<void> {
    this.wake();
    for (const c of this.consumers.values()) await c.writer.idle();
    while (this.truncating || this.truncateNext) await (this.truncateNext ?? this.truncating)?.catch(() => undefined);
    await this.log.close();
  }
}
