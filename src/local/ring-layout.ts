/**
 * Memory layout shared by the SPSC and MPSC rings. Both ends (threads or processes) read
 * the same header, so everything here is part of the on-memory format: change it only with
 * a new {@link RING_VERSION}.
 *
 * ```
 * byteOffset ─┬─ control block (320 B, each hot word on its own 64 B cache line)
 *             │    +0   magic 'PXRG'   +4 version  +8 capacity  +12 max record bytes
 *             │    +16  flags (bit0 MPSC, bit1 futex wake)      +20 state (closed bits)
 *             │    +64  head  (consumer position, int32 mod 2^32)
 *             │    +128 tail  (producer position / reservation, int32 mod 2^32)
 *             │    +192 reader-sleeping word (futex/Atomics.wait word)
 *             │    +256 writer-sleeping word
 *             └─ data: `capacity` bytes (a power of two), records 8-byte aligned:
 *                  +0 commit word: 0 = not committed, n > 0 = payload of n-1 bytes,
 *                     n < 0 = skip -n bytes (padding before a wrap, or an unused tail)
 *                  +4 tag (a 32-bit value for the caller)   +8 payload
 * ```
 *
 * Positions are free-running 32-bit counters compared with wrapping arithmetic, so no
 * BigInt is needed on the hot path; a capacity of at most 2^30 keeps `tail - head`
 * unambiguous.
 */
import { ErrorCode, plexusError } from '../errors/index.js';

/** 'PXRG' little-endian. */
export const RING_MAGIC = 0x47525850;
/** Layout version; a ring with another version is refused. */
export const RING_VERSION = 1;
/** Bytes before the data area. */
export const RING_CONTROL_BYTES = 320;
/** Bytes of a record header (commit word + tag). */
export const RECORD_HEADER_BYTES = 8;
/** Smallest and largest data capacity. */
export const MIN_RING_CAPACITY = 64;
export const MAX_RING_CAPACITY = 2 ** 30;

// Int32 indexes inside the control block.
export const I_MAGIC = 0;
export const I_VERSION = 1;
export const I_CAPACITY = 2;
export const I_MAX_RECORD = 3;
export const I_FLAGS = 4;
export const I_STATE = 5;
export const I_HEAD = 16;
export const I_TAIL = 32;
export const I_READER_SLEEP = 48;
export const I_WRITER_SLEEP = 64;

export const FLAG_MPSC = 1;
export const FLAG_FUTEX = 2;
/** State bits: the writer side closed (end of data), the reader side closed (stop writing). */
export const STATE_WRITE_CLOSED = 1;
export const STATE_READ_CLOSED = 2;

/** Which kind of ring a header describes. */
export const RingKind = { SPSC: 'spsc', MPSC: 'mpsc' } as const;
export type RingKind = (typeof RingKind)[keyof typeof RingKind];

/** How the sides of a ring sleep and wake: in-process `Atomics`, or the addon's futex across processes. */
export const WakeMode = { ATOMICS: 'atomics', FUTEX: 'futex' } as const;
export type WakeMode = (typeof WakeMode)[keyof typeof WakeMode];

/** Options for laying out a new ring. */
export interface RingInitOptions {
  /** Byte offset of the ring in the buffer; a multiple of 8. @default 0 */
  readonly byteOffset?: number;
  /** Data bytes; a power of two from 64 to 2^30. @default the largest power of two that fits */
  readonly capacity?: number;
  /** Largest payload a record may carry. @default capacity / 4 (at most capacity - 8) */
  readonly maxRecordBytes?: number;
  /** `futex` for rings between processes (needs the addon), `atomics` between threads. @default 'atomics' */
  readonly wake?: WakeMode;
}

/** A ring's geometry as read from (or written to) its header. */
export interface RingLayout {
  readonly kind: RingKind;
  readonly byteOffset: number;
  readonly capacity: number;
  readonly maxRecordBytes: number;
  readonly wake: WakeMode;
  /** Total bytes the ring occupies (control block + data). */
  readonly byteLength: number;
}

/** Bytes a ring with `capacity` data bytes occupies. */
export function ringByteLength(capacity: number): number {
  return RING_CONTROL_BYTES + capacity;
}

/** Round `n` up to a multiple of 8. */
export function align8(n: number): number {
  return (n + 7) & ~7;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function invalid(message: string): Error {
  return plexusError(ErrorCode.INVALID_ARGUMENT, message);
}

function checkBuffer(buffer: SharedArrayBuffer, byteOffset: number): void {
  if (!(buffer instanceof SharedArrayBuffer)) throw invalid('a ring needs a SharedArrayBuffer');
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
    throw invalid(`ring byteOffset must be a non-negative multiple of 8, got ${byteOffset}`);
  }
  if (byteOffset + RING_CONTROL_BYTES + MIN_RING_CAPACITY > buffer.byteLength) {
    throw plexusError(ErrorCode.SHM_INCOMPATIBLE, `no room for a ring at offset ${byteOffset} of a ${buffer.byteLength}-byte buffer`);
  }
}

/**
 * Writes a fresh ring header into `buffer` (whose ring area must not be in use) and
 * returns its layout. The magic is stored last, so a peer attaching concurrently either
 * sees no ring yet or a complete header.
 */
export function initRing(buffer: SharedArrayBuffer, kind: RingKind, options: RingInitOptions = {}): RingLayout {
  const byteOffset = options.byteOffset ?? 0;
  checkBuffer(buffer, byteOffset);
  const room = buffer.byteLength - byteOffset - RING_CONTROL_BYTES;
  const capacity = options.capacity ?? 2 ** Math.min(30, Math.floor(Math.log2(room)));
  if (!isPowerOfTwo(capacity) || capacity < MIN_RING_CAPACITY || capacity > MAX_RING_CAPACITY) {
    throw invalid(`ring capacity must be a power of two from ${MIN_RING_CAPACITY} to 2^30, got ${capacity}`);
  }
  if (capacity > room) {
    throw plexusError(ErrorCode.SHM_INCOMPATIBLE, `a ring of ${capacity} data bytes does not fit at offset ${byteOffset} of a ${buffer.byteLength}-byte buffer`);
  }
  const maxRecordBytes = options.maxRecordBytes ?? capacity / 4;
  if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 0 || align8(maxRecordBytes + RECORD_HEADER_BYTES) > capacity) {
    throw invalid(`ring maxRecordBytes must be 0..${capacity - RECORD_HEADER_BYTES} for capacity ${capacity}, got ${maxRecordBytes}`);
  }
  const wake = options.wake ?? WakeMode.ATOMICS;
  if (wake !== WakeMode.ATOMICS && wake !== WakeMode.FUTEX) throw invalid(`ring wake must be 'atomics' or 'futex', got ${String(wake)}`);

  const ctl = new Int32Array(buffer, byteOffset, RING_CONTROL_BYTES / 4);
  new Uint8Array(buffer, byteOffset, RING_CONTROL_BYTES + capacity).fill(0);
  ctl[I_VERSION] = RING_VERSION;
  ctl[I_CAPACITY] = capacity;
  ctl[I_MAX_RECORD] = maxRecordBytes;
  ctl[I_FLAGS] = (kind === RingKind.MPSC ? FLAG_MPSC : 0) | (wake === WakeMode.FUTEX ? FLAG_FUTEX : 0);
  Atomics.store(ctl, I_MAGIC, RING_MAGIC);
  return { kind, byteOffset, capacity, maxRecordBytes, wake, byteLength: ringByteLength(capacity) };
}

/**
 * Reads and checks an existing ring's header.
 * @throws PlexusError `PLEXUS_ERR_SHM_INCOMPATIBLE` when there is no ring of `kind` at `byteOffset`.
 */
export function readRingLayout(buffer: SharedArrayBuffer, kind: RingKind, byteOffset = 0): RingLayout {
  checkBuffer(buffer, byteOffset);
  const ctl = new Int32Array(buffer, byteOffset, RING_CONTROL_BYTES / 4);
  const bad = (why: string): Error => plexusError(ErrorCode.SHM_INCOMPATIBLE, `no usable ${kind} ring at offset ${byteOffset}: ${why}`);
  if (Atomics.load(ctl, I_MAGIC) !== RING_MAGIC) throw bad('bad magic (not initialised?)');
  const version = ctl[I_VERSION]!;
  if (version !== RING_VERSION) throw bad(`layout version ${version}, this code reads ${RING_VERSION}`);
  const capacity = ctl[I_CAPACITY]!;
  const maxRecordBytes = ctl[I_MAX_RECORD]!;
  const flags = ctl[I_FLAGS]!;
  if (!isPowerOfTwo(capacity) || capacity < MIN_RING_CAPACITY || capacity > MAX_RING_CAPACITY) throw bad(`capacity ${capacity}`);
  if (byteOffset + RING_CONTROL_BYTES + capacity > buffer.byteLength) throw bad(`capacity ${capacity} runs past the buffer`);
  if (maxRecordBytes < 0 || align8(maxRecordBytes + RECORD_HEADER_BYTES) > capacity) throw bad(`max record ${maxRecordBytes}`);
  const isMpsc = (flags & FLAG_MPSC) !== 0;
  if (isMpsc !== (kind === RingKind.MPSC)) throw bad(`it is an ${isMpsc ? 'mpsc' : 'spsc'} ring`);
  return {
    kind,
    byteOffset,
    capacity,
    maxRecordBytes,
    wake: (flags & FLAG_FUTEX) !== 0 ? WakeMode.FUTEX : WakeMode.ATOMICS,
    byteLength: ringByteLength(capacity),
  };
}
