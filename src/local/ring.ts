/**
 * Lock-free rings of variable-length records over a SharedArrayBuffer region: between
 * worker threads over a plain `new SharedArrayBuffer` (no addon), or between processes
 * over a {@link SharedSegment} (wake mode `futex`, needs the addon).
 *
 * - {@link SpscRing}: one producer, one consumer. The producer owns `tail`, the consumer
 *   owns `head`; each publishes its position with one atomic store per record and caches
 *   the other's, so the data path is plain memory traffic: no locks, no system calls.
 * - {@link MpscRing}: many producers, one consumer. Producers reserve space with a CAS on
 *   `tail` and commit each record by storing its commit word last; the consumer stops at
 *   the first uncommitted record and zeroes what it consumed, so a stale header can never
 *   look committed.
 *
 * Both have non-blocking `tryWrite`/`tryRead`, zero-copy `tryReserve`/`commit` and
 * `poll`, and blocking (`writeSync`/`readSync`, for workers) and async (`write`/`read`,
 * for the main thread) forms that spin briefly and then sleep (see idle.ts). The layout is
 * documented in ring-layout.ts.
 */
import { wakeSleepers } from './idle.js';
import { RingBase, type RingOptions } from './ring-base.js';
import { I_HEAD, I_READER_SLEEP, I_TAIL, RECORD_HEADER_BYTES, RingKind, align8, initRing, readRingLayout, type RingInitOptions, type RingLayout } from './ring-layout.js';

export type { RangeHandler, RecordHandler, RingOptions } from './ring-base.js';

/**
 * Single-producer/single-consumer ring. Exactly one thread or process may write and one
 * may read (each attaches its own `SpscRing` to the same memory).
 */
export class SpscRing extends RingBase {
  /** Producer position (only the producer writes it). */
  private tail: number;
  /** Producer position last published to the consumer. */
  private tailPublished: number;
  /** Consumer position as last seen by the producer. */
  private headSeen: number;
  private constructor(buffer: SharedArrayBuffer, layout: RingLayout, options: RingOptions) {
    super(buffer, layout, options);
    this.tail = Atomics.load(this.ctl, I_TAIL);
    this.tailPublished = this.tail;
    this.headSeen = Atomics.load(this.ctl, I_HEAD);
  }

  /** Lays out a new ring in `buffer` and attaches to it. */
  static create(buffer: SharedArrayBuffer, options: RingInitOptions & RingOptions = {}): SpscRing {
    return new SpscRing(buffer, initRing(buffer, RingKind.SPSC, options), options);
  }

  /** Attaches to a ring another thread or process created. */
  static attach(buffer: SharedArrayBuffer, byteOffset = 0, options: RingOptions = {}): SpscRing {
    return new SpscRing(buffer, readRingLayout(buffer, RingKind.SPSC, byteOffset), options);
  }

  /** Whether `need` bytes are free after the tail (refreshing the cached head only if not). */
  private fits(need: number): boolean {
    if (this.capacity - ((this.tail - this.headSeen) | 0) >= need) return true;
    this.headSeen = Atomics.load(this.ctl, I_HEAD);
    return this.capacity - ((this.tail - this.headSeen) | 0) >= need;
  }

  protected writable(length: number): boolean {
    const size = align8(RECORD_HEADER_BYTES + length);
    const toEnd = this.capacity - (this.tail & this.mask);
    return this.fits(size > toEnd ? toEnd : size);
  }

  protected reserveIndex(length: number): number {
    const size = align8(RECORD_HEADER_BYTES + length);
    let idx = this.tail & this.mask;
    const toEnd = this.capacity - idx;
    if (size > toEnd) {
      // Does not fit before the end: a skip record over the rest, go on at 0.
      if (!this.fits(toEnd)) return -1;
      this.i32[idx >> 2] = -toEnd;
      this.tail = (this.tail + toEnd) | 0;
      idx = 0;
    }
    if (!this.fits(size)) return -1;
    this.reservedAt = idx;
    this.reservedLength = length;
    return idx + RECORD_HEADER_BYTES;
  }

  protected commitReserved(len: number, tag: number): void {
    const w = this.reservedAt >> 2;
    this.reservedAt = -1;
    this.i32[w + 1] = tag;
    this.i32[w] = len + 1;
    this.tail = (this.tail + align8(RECORD_HEADER_BYTES + len)) | 0;
  }

  protected publishTail(): void {
    if (this.tail === this.tailPublished) return;
    // One atomic store publishes every header and payload written before it.
    this.tailPublished = this.tail;
    Atomics.store(this.ctl, I_TAIL, this.tail);
  }
}

/**
 * Multi-producer/single-consumer ring. Any number of threads or processes may write
 * (each through its own attached `MpscRing`), one may read. Per-producer order is kept;
 * records of different producers interleave in reservation order.
 *
 * A producer that dies between reserving and committing stalls the consumer at its
 * record; pair the ring with a liveness check (`checkPeer`) to notice. `closeWrite()`
 * ends the stream for everyone: call it once all producers are done.
 */
export class MpscRing extends RingBase {
  private headSeen: number;
  private reservedSize = 0;

  private constructor(buffer: SharedArrayBuffer, layout: RingLayout, options: RingOptions) {
    super(buffer, layout, options);
    this.headSeen = Atomics.load(this.ctl, I_HEAD);
  }

  /** Lays out a new ring in `buffer` and attaches to it. */
  static create(buffer: SharedArrayBuffer, options: RingInitOptions & RingOptions = {}): MpscRing {
    return new MpscRing(buffer, initRing(buffer, RingKind.MPSC, options), options);
  }

  /** Attaches to a ring another thread or process created. */
  static attach(buffer: SharedArrayBuffer, byteOffset = 0, options: RingOptions = {}): MpscRing {
    return new MpscRing(buffer, readRingLayout(buffer, RingKind.MPSC, byteOffset), options);
  }

  /** Whether `need` bytes are free after `tail` (refreshing the cached head if not). */
  private fits(tail: number, need: number): boolean {
    if (this.capacity - ((tail - this.headSeen) | 0) >= need) return true;
    this.headSeen = Atomics.load(this.ctl, I_HEAD);
    return this.capacity - ((tail - this.headSeen) | 0) >= need;
  }

  protected writable(length: number): boolean {
    const size = align8(RECORD_HEADER_BYTES + length);
    const tail = Atomics.load(this.ctl, I_TAIL);
    const toEnd = this.capacity - (tail & this.mask);
    return this.fits(tail, size > toEnd ? toEnd : size);
  }

  protected reserveIndex(length: number): number {
    const size = align8(RECORD_HEADER_BYTES + length);
    for (;;) {
      const tail = Atomics.load(this.ctl, I_TAIL);
      const idx = tail & this.mask;
      const toEnd = this.capacity - idx;
      const need = size > toEnd ? toEnd : size;
      if (!this.fits(tail, need)) return -1;
      if (Atomics.compareExchange(this.ctl, I_TAIL, tail, (tail + need) | 0) !== tail) continue;
      if (need !== size) {
        // We own [idx, end): turn it into a skip record and reserve again from 0.
        Atomics.store(this.i32, idx >> 2, -toEnd);
        wakeSleepers(this.ctl, I_READER_SLEEP, this.waiter);
        continue;
      }
      this.reservedAt = idx;
      this.reservedSize = size;
      this.reservedLength = length;
      return idx + RECORD_HEADER_BYTES;
    }
  }

  protected commitReserved(len: number, tag: number): void {
    const idx = this.reservedAt;
    this.reservedAt = -1;
    const used = align8(RECORD_HEADER_BYTES + len);
    // A shorter record leaves the rest of the reservation as a skip record, committed
    // before the record itself so the consumer never reaches an uncommitted gap.
    if (used < this.reservedSize) Atomics.store(this.i32, (idx + used) >> 2, -(this.reservedSize - used));
    this.i32[(idx >> 2) + 1] = tag;
    Atomics.store(this.i32, idx >> 2, len + 1);
  }

  protected publishTail(): void {
    // Each MPSC record is visible once its commit word is stored; nothing to add.
  }
}
