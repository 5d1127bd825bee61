/**
 * The local fast path: shared memory between threads and processes on one host.
 *
 * - {@link SharedSegment}: a named POSIX shared-memory segment as a SharedArrayBuffer in
 *   every process that maps it (needs the native addon).
 * - {@link SpscRing} / {@link MpscRing}: lock-free rings of records over any
 *   SharedArrayBuffer region (a plain one between workers, a segment between processes).
 * - {@link futexWaiter} / {@link atomicsWaiter}: cross-process and in-process sleep/wake.
 * - {@link Mutex} (robust: reports a dead owner), {@link Semaphore},
 *   {@link ConditionVariable}, {@link Barrier}, {@link RWLock}: synchronization
 *   primitives in 64 bytes of any SharedArrayBuffer region.
 *
 * See docs/local.md.
 */
export { loadShm, shmAvailability, peerCredentials, type LoadShmOptions, type ShmAddon, type ShmAvailability, type FutexWaitResult } from './addon.js';
export {
  SharedSegment,
  SEGMENT_HEADER_BYTES,
  SEGMENT_SLOTS,
  MAX_SEGMENT_DATA_BYTES,
  type CreateSegmentOptions,
  type OpenSegmentOptions,
  type SegmentOptions,
  type SegmentPeer,
} from './segment.js';
export { SpscRing, MpscRing, type RingOptions, type RecordHandler, type RangeHandler } from './ring.js';
export {
  initRing,
  readRingLayout,
  ringByteLength,
  RingKind,
  WakeMode,
  RING_CONTROL_BYTES,
  RECORD_HEADER_BYTES,
  MIN_RING_CAPACITY,
  MAX_RING_CAPACITY,
  type RingInitOptions,
  type RingLayout,
} from './ring-layout.js';
export { atomicsWaiter, futexWaiter, waiterFor, type Waiter, type WaitResult } from './waiter.js';
export { type IdleOptions, type WaitOptions } from './idle.js';
export { isProcessAlive, processStartTime } from './liveness.js';
export { Mutex, type LockResult, type MutexLockOptions } from './sync/mutex.js';
export { Semaphore, type SemaphoreCreateOptions } from './sync/semaphore.js';
export { ConditionVariable } from './sync/condition-variable.js';
export { Barrier, type BarrierResult, type BarrierCreateOptions } from './sync/barrier.js';
export { RWLock, type RWLockCreateOptions } from './sync/rwlock.js';
export { SYNC_PRIMITIVE_BYTES, type SyncWake, type SyncCreateOptions, type SyncAttachOptions, type SyncWaitOptions } from './sync/common.js';
