/**
 * The parts the SPSC and MPSC rings share: views over the header and data area, the
 * whole consumer side (records, skips, batching of `head`), the producer-side API on top
 * of the subclasses' reservation, and the spin-then-sleep waits. See ring.ts.
 */
import { ErrorCode, plexusError } from '../errors/index.js';
import { fastCopyView, type LoadShmOptions } from './addon.js';
import { idleWait, idleWaitSync, resolveIdleOptions, wakeSleepers, type IdleOptions, type ResolvedIdleOptions, type WaitOptions } from './idle.js';
import {
  I_HEAD,
  I_READER_SLEEP,
  I_STATE,
  I_TAIL,
  I_WRITER_SLEEP,
  RECORD_HEADER_BYTES,
  RING_CONTROL_BYTES,
  RingKind,
  STATE_READ_CLOSED,
  STATE_WRITE_CLOSED,
  align8,
  type RingLayout,
} from './ring-layout.js';
import { waiterFor, type Waiter } from './waiter.js';

/** Options for attaching to a ring (either end). */
export interface RingOptions extends IdleOptions {
  /** Where to load the addon from when the ring wakes by futex. */
  readonly addon?: LoadShmOptions;
  /**
   * Copy records in and out through a non-shared alias of the memory (plain memcpy; V8
   * copies into shared memory about three times slower). Used when the addon is there.
   * @default true
   */
  readonly fastCopy?: boolean;
}

/** Called by {@link SpscRing.poll} for each record; `view` is valid only during the call. */
export type RecordHandler = (view: Uint8Array, tag: number) => void;

/** Called by {@link SpscRing.pollRange}: the record is `bytes[start..end)`, valid only during the call. */
export type RangeHandler = (bytes: Uint8Array, start: number, end: number, tag: number) => void;

/** What the rings share: header, views, the consumer side and the waits. */
export abstract class RingBase {
  /** Geometry read from the ring's header. */
  readonly layout: RingLayout;
  /** Tag of the record most recently returned by `tryRead`/`read`/`readSync`. */
  lastTag = 0;

  protected readonly ctl: Int32Array;
  protected readonly u8: Uint8Array;
  /** The data area for bulk copies: a non-shared alias when available, else {@link u8}. */
  protected readonly copy: Uint8Array;
  protected readonly i32: Int32Array;
  protected readonly capacity: number;
  protected readonly mask: number;
  protected readonly maxRecord: number;
  protected readonly waiter: Waiter;
  protected readonly idle: ResolvedIdleOptions;
  /** Consumer position (only the consumer writes it). */
  protected head: number;
  /** Consumer position last published to the producers. */
  private headPublished: number;
  /** Producer position as last seen by the consumer. */
  private tailSeen: number;
  /** Data index of a record handed out by `peek`/`poll` and not yet released, or -1. */
  private held = -1;
  private readonly mpsc: boolean;

  protected constructor(buffer: SharedArrayBuffer, layout: RingLayout, options: RingOptions) {
    this.layout = layout;
    this.ctl = new Int32Array(buffer, layout.byteOffset, RING_CONTROL_BYTES / 4);
    const dataOffset = layout.byteOffset + RING_CONTROL_BYTES;
    this.u8 = new Uint8Array(buffer, dataOffset, layout.capacity);
    this.copy = (options.fastCopy ?? true) ? (fastCopyView(buffer, dataOffset, layout.capacity, options.addon) ?? this.u8) : this.u8;
    this.i32 = new Int32Array(buffer, dataOffset, layout.capacity / 4);
    this.capacity = layout.capacity;
    this.mask = layout.capacity - 1;
    this.maxRecord = layout.maxRecordBytes;
    this.mpsc = layout.kind === RingKind.MPSC;
    this.waiter = waiterFor(layout.wake, options.addon);
    this.idle = resolveIdleOptions(options);
    this.head = Atomics.load(this.ctl, I_HEAD);
    this.headPublished = this.head;
    this.tailSeen = Atomics.load(this.ctl, I_TAIL);
  }

  /** The largest payload one record may carry. */
  get maxRecordBytes(): number {
    return this.maxRecord;
  }

  /** True once the producer side called {@link closeWrite}: no more records will come. */
  get writeClosed(): boolean {
    return (Atomics.load(this.ctl, I_STATE) & STATE_WRITE_CLOSED) !== 0;
  }

  /** True once the consumer side called {@link closeRead}: writes fail from now on. */
  get readClosed(): boolean {
    return (Atomics.load(this.ctl, I_STATE) & STATE_READ_CLOSED) !== 0;
  }

  /** Bytes between the consumer and the producer (records, headers and padding). */
  get usedBytes(): number {
    return (Atomics.load(this.ctl, I_TAIL) - Atomics.load(this.ctl, I_HEAD)) | 0;
  }

  /** Producer side: no more records; the consumer drains what is there, then sees the end. */
  closeWrite(): void {
    Atomics.or(this.ctl, I_STATE, STATE_WRITE_CLOSED);
    this.waiter.wake(this.ctl, I_READER_SLEEP, Infinity);
  }

  /** Consumer side: stop; producers get `PLEXUS_ERR_CONNECTION_CLOSED` (blocked ones at once). */
  closeRead(): void {
    Atomics.or(this.ctl, I_STATE, STATE_READ_CLOSED);
    this.waiter.wake(this.ctl, I_WRITER_SLEEP, Infinity);
  }

  // ---- consumer ------------------------------------------------------------------------

  /**
   * Data index of the next committed record's header, or -1 when there is none yet.
   * Skips padding on the way.
   */
  private next(): number {
    const { i32, mask, capacity } = this;
    for (;;) {
      const head = this.head;
      if (!this.mpsc && head === this.tailSeen) {
        this.tailSeen = Atomics.load(this.ctl, I_TAIL);
        if (head === this.tailSeen) return this.nothing();
      }
      const idx = head & mask;
      // MPSC: the commit word is the only thing ordering a record; SPSC: the tail is.
      const w = this.mpsc ? Atomics.load(i32, idx >> 2) : i32[idx >> 2]!;
      if (w > 0) {
        if (w - 1 > this.maxRecord || idx + RECORD_HEADER_BYTES + w - 1 > capacity) throw this.corrupt(`record length ${w - 1}`, head);
        return idx;
      }
      if (w === 0) {
        if (this.mpsc) return this.nothing();
        throw this.corrupt('uncommitted record below the published tail', head);
      }
      const skip = -w;
      if ((skip & 7) !== 0 || idx + skip > capacity) throw this.corrupt(`skip of ${skip} bytes`, head);
      this.advance(idx, skip);
    }
  }

  /**
   * No record ready: skip records passed on the way must reach the producer before this
   * side goes to sleep, or a producer waiting for the space behind a skip never gets it.
   */
  private nothing(): -1 {
    this.publishHead();
    return -1;
  }

  /** Moves past a consumed record; the producers see it at the next {@link publishHead}. */
  private advance(idx: number, size: number): void {
    // MPSC: zero what was consumed so the next lap's headers start uncommitted.
    if (this.mpsc) this.copy.fill(0, idx, idx + size);
    this.head = (this.head + size) | 0;
  }

  /** Hands consumed space back to the producers (one atomic store for a whole batch). */
  private publishHead(): void {
    if (this.head === this.headPublished) return;
    this.headPublished = this.head;
    Atomics.store(this.ctl, I_HEAD, this.head);
    wakeSleepers(this.ctl, I_WRITER_SLEEP, this.waiter);
  }

  private corrupt(what: string, position: number): Error {
    return plexusError(ErrorCode.RING_CORRUPT, `ring corrupt at position ${position >>> 0}: ${what}`, { details: { position: position >>> 0 } });
  }

  /** True when a record can be read now, or the producer closed (read returns null then). */
  protected readable(): boolean {
    if (this.mpsc) {
      if (Atomics.load(this.i32, (this.head & this.mask) >> 2) !== 0) return true;
    } else if (Atomics.load(this.ctl, I_TAIL) !== this.head) {
      return true;
    }
    return this.writeClosed;
  }

  /** The next record as a copy, or undefined when none is ready (see {@link writeClosed} for the end). */
  tryRead(): Uint8Array | undefined {
    this.checkNotHeld();
    const idx = this.next();
    if (idx < 0) return undefined;
    const len = this.i32[idx >> 2]! - 1;
    this.lastTag = this.i32[(idx >> 2) + 1]!;
    const start = idx + RECORD_HEADER_BYTES;
    const out = this.copy.slice(start, start + len);
    this.advance(idx, align8(RECORD_HEADER_BYTES + len));
    this.publishHead();
    return out;
  }

  /**
   * Every record ready now (up to about `maxBytes` of payload, but always at least one),
   * copied back to back into one fresh buffer, and their space handed back to the
   * producer with one store. For byte streams, where record boundaries carry no meaning:
   * one delivery and one allocation per batch instead of per record. Tags are not kept.
   * Undefined when no record is ready (see {@link writeClosed} for the end).
   */
  tryReadBatch(maxBytes = 256 * 1024): Uint8Array | undefined {
    this.checkNotHeld();
    // Payload ready now is at most the bytes between head and tail (headers included).
    // Not zero-filled: every byte handed out is copied in first.
    let out: Uint8Array = Buffer.allocUnsafe(Math.max(0, Math.min(this.usedBytes, maxBytes)));
    let off = 0;
    let records = 0;
    for (;;) {
      // next() publishes the head when nothing is left, so copy each record before asking again.
      const idx = this.next();
      if (idx < 0) break;
      const len = this.i32[idx >> 2]! - 1;
      if (off + len > out.length) {
        if (off > 0) break; // the rest waits for the next batch
        out = Buffer.allocUnsafe(len); // a single record larger than the bound
      }
      const start = idx + RECORD_HEADER_BYTES;
      out.set(this.copy.subarray(start, start + len), off);
      off += len;
      records++;
      this.advance(idx, align8(RECORD_HEADER_BYTES + len));
    }
    this.publishHead();
    return records === 0 ? undefined : out.subarray(0, off);
  }

  /**
   * Zero-copy read: a view of the next record's payload, valid until {@link release}.
   * The producer cannot reuse that space until then.
   */
  peek(): Uint8Array | undefined {
    this.checkNotHeld();
    const idx = this.next();
    if (idx < 0) return undefined;
    this.held = idx;
    this.lastTag = this.i32[(idx >> 2) + 1]!;
    const start = idx + RECORD_HEADER_BYTES;
    return this.u8.subarray(start, start + this.i32[idx >> 2]! - 1);
  }

  /** Frees the record returned by {@link peek}. */
  release(): void {
    if (this.held < 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, 'release() without a peeked record');
    const idx = this.held;
    this.held = -1;
    this.advance(idx, align8(RECORD_HEADER_BYTES + this.i32[idx >> 2]! - 1));
    this.publishHead();
  }

  private checkNotHeld(): void {
    if (this.held >= 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, 'release() the peeked record first');
  }

  /**
   * Zero-copy batch read: calls `handler(view, tag)` for up to `max` ready records (the
   * view is valid only during the call). Consumed space is handed back to the producer
   * once per batch (and every quarter ring), not per record. Returns how many were
   * handled (0: none ready). A record whose handler throws counts as consumed.
   */
  poll(handler: RecordHandler, max = Infinity): number {
    return this.pollRange((bytes, start, end, tag) => handler(bytes.subarray(start, end), tag), max);
  }

  /**
   * {@link poll} without allocating a view per record: `handler(bytes, start, end, tag)`
   * gets the ring's whole data area and the record's range in it. The fastest read.
   */
  pollRange(handler: RangeHandler, max = Infinity): number {
    this.checkNotHeld();
    const quarter = this.capacity >> 2;
    const { i32, u8 } = this;
    let n = 0;
    try {
      while (n < max) {
        const idx = this.next();
        if (idx < 0) break;
        const w = idx >> 2;
        const start = idx + RECORD_HEADER_BYTES;
        this.held = idx;
        handler(u8, start, start + i32[w]! - 1, i32[w + 1]!);
        this.held = -1;
        this.advance(idx, align8(RECORD_HEADER_BYTES + i32[w]! - 1));
        n++;
        if (((this.head - this.headPublished) | 0) >= quarter) this.publishHead();
      }
    } finally {
      const idx = this.held;
      if (idx >= 0) {
        this.held = -1;
        this.advance(idx, align8(RECORD_HEADER_BYTES + i32[idx >> 2]! - 1));
      }
      this.publishHead();
    }
    return n;
  }

  /**
   * Blocks until a record is ready (true) or the producer closed and everything was read
   * (false). For worker threads.
   */
  waitReadableSync(opts?: WaitOptions): boolean {
    for (;;) {
      const r = this.readyOrEnd();
      if (r !== undefined) return r;
      idleWaitSync(this.ctl, I_READER_SLEEP, () => this.readable(), this.waiter, this.idle, 'ring read', opts);
    }
  }

  /** Async {@link waitReadableSync}: never blocks the event loop after the short spin. */
  async waitReadable(opts?: WaitOptions): Promise<boolean> {
    for (;;) {
      const r = this.readyOrEnd();
      if (r !== undefined) return r;
      await idleWait(this.ctl, I_READER_SLEEP, () => this.readable(), this.waiter, this.idle, 'ring read', opts);
    }
  }

  /** true: a record is ready; false: closed and fully read; undefined: keep waiting. */
  private readyOrEnd(): boolean | undefined {
    if (this.next() >= 0) return true;
    if (!this.writeClosed) return undefined;
    // Closed: records committed before the close are still delivered; the end is when
    // nothing is left (an MPSC reservation still being filled keeps us waiting).
    if (this.next() >= 0) return true;
    return Atomics.load(this.ctl, I_TAIL) === this.head ? false : undefined;
  }

  /** The next record (a copy), waiting for one; null once the producer closed and all was read. */
  readSync(opts?: WaitOptions): Uint8Array | null {
    for (;;) {
      const r = this.tryRead();
      if (r !== undefined) return r;
      if (!this.waitReadableSync(opts)) return null;
    }
  }

  /** Async {@link readSync}. */
  async read(opts?: WaitOptions): Promise<Uint8Array | null> {
    for (;;) {
      const r = this.tryRead();
      if (r !== undefined) return r;
      if (!(await this.waitReadable(opts))) return null;
    }
  }

  // ---- producer (shared parts) -----------------------------------------------------------

  /** Space reservation: payload index into the data area, or -1 when there is no room now. */
  protected abstract reserveIndex(length: number): number;
  /** True when {@link reserveIndex} would make progress for `length` (or writing must fail). */
  protected abstract writable(length: number): boolean;
  /**
   * Finishes the reserved record with `length` (checked: at most the reserved length);
   * visible to the consumer at the next {@link publish} for SPSC.
   */
  protected abstract commitReserved(length: number, tag: number): void;
  /** Makes committed records visible to the consumer (SPSC: stores the tail). */
  protected abstract publishTail(): void;

  /** Header index of the outstanding reservation, or -1. */
  protected reservedAt = -1;
  /** Payload length of the outstanding reservation. */
  protected reservedLength = 0;

  /** The cheap checks of every write; {@link refuse} says what is wrong. */
  private checkLength(length: number): void {
    // A plain read of the state: a close is rare and only needs to be seen eventually;
    // the waits re-check it atomically.
    if (length <= this.maxRecord && this.ctl[I_STATE] === 0 && this.reservedAt < 0) return;
    this.refuse(length);
  }

  private refuse(length: number): never {
    if (length > this.maxRecord) {
      throw plexusError(ErrorCode.PAYLOAD_TOO_LARGE, `record of ${length} bytes exceeds the ring's limit of ${this.maxRecord}`, {
        details: { length, maxRecordBytes: this.maxRecord },
      });
    }
    const state = Atomics.load(this.ctl, I_STATE);
    if (state !== 0) {
      const by = (state & STATE_READ_CLOSED) !== 0 ? 'by its reader' : 'for writing';
      throw plexusError(ErrorCode.CONNECTION_CLOSED, `the ring was closed ${by}`);
    }
    throw plexusError(ErrorCode.INVALID_ARGUMENT, 'commit() the outstanding reservation first');
  }

  /**
   * Zero-copy write: a view of `length` bytes inside the ring to fill, then {@link commit}.
   * Undefined when there is no room now.
   * @throws PlexusError `PLEXUS_ERR_PAYLOAD_TOO_LARGE` over the record limit, `PLEXUS_ERR_CONNECTION_CLOSED` after a close.
   */
  tryReserve(length: number): Uint8Array | undefined {
    if (!Number.isInteger(length) || length < 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, `record length must be a non-negative integer, got ${length}`);
    this.checkLength(length);
    const at = this.reserveIndex(length);
    if (at < 0) {
      this.publish(); // let the consumer see (and free) what is already there
      return undefined;
    }
    return this.u8.subarray(at, at + length);
  }

  /**
   * Finishes the reserved record; `length` may be less than reserved (the rest is
   * skipped). With `publish: false` the consumer sees it at the next {@link publish}
   * (batching: one atomic store and wake check for many records).
   */
  commit(length?: number, tag = 0, publish = true): void {
    if (this.reservedAt < 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, 'commit() without a reservation');
    const len = length ?? this.reservedLength;
    if (!Number.isInteger(len) || len < 0 || len > this.reservedLength) {
      throw plexusError(ErrorCode.INVALID_ARGUMENT, `commit length must be an integer from 0 to the ${this.reservedLength} bytes reserved, got ${len}`);
    }
    this.commitReserved(len, tag | 0);
    if (publish) this.publish();
  }

  /**
   * Copies `bytes` in as one record; false when there is no room now (records written
   * with `publish: false` are then published, so the consumer can make room).
   */
  tryWrite(bytes: Uint8Array, tag = 0, publish = true): boolean {
    const length = bytes.length;
    this.checkLength(length);
    const at = this.reserveIndex(length);
    if (at < 0) {
      this.publish();
      return false;
    }
    this.copy.set(bytes, at);
    this.commitReserved(length, tag | 0);
    if (publish) this.publish();
    return true;
  }

  /** Makes records written with `publish: false` visible and wakes a sleeping consumer. */
  publish(): void {
    this.publishTail();
    wakeSleepers(this.ctl, I_READER_SLEEP, this.waiter);
  }

  private writableOrClosed(length: number): boolean {
    return this.writable(length) || (Atomics.load(this.ctl, I_STATE) & (STATE_READ_CLOSED | STATE_WRITE_CLOSED)) !== 0;
  }

  /** Waits for room, then writes (for workers; blocks the thread). */
  writeSync(bytes: Uint8Array, tag = 0, opts?: WaitOptions): void {
    while (!this.tryWrite(bytes, tag)) {
      idleWaitSync(this.ctl, I_WRITER_SLEEP, () => this.writableOrClosed(bytes.length), this.waiter, this.idle, 'ring write', opts);
    }
  }

  /** Async {@link writeSync}. */
  async write(bytes: Uint8Array, tag = 0, opts?: WaitOptions): Promise<void> {
    while (!this.tryWrite(bytes, tag)) {
      await idleWait(this.ctl, I_WRITER_SLEEP, () => this.writableOrClosed(bytes.length), this.waiter, this.idle, 'ring write', opts);
    }
  }

  /** Waits until a record of `length` bytes can be reserved (for workers). */
  waitWritableSync(length: number, opts?: WaitOptions): void {
    this.publish();
    idleWaitSync(this.ctl, I_WRITER_SLEEP, () => this.writableOrClosed(length), this.waiter, this.idle, 'ring write', opts);
  }

  /** Async {@link waitWritableSync}. */
  async waitWritable(length: number, opts?: WaitOptions): Promise<void> {
    this.publish();
    await idleWait(this.ctl, I_WRITER_SLEEP, () => this.writableOrClosed(length), this.waiter, this.idle, 'ring write', opts);
  }
}

