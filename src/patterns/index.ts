/**
 * Patterns over the durable service, each a thin typed layer (issue 3 §3): free
 * functions taking the connection, e.g. `kv(bus, 'sessions')`, `lock(bus, 'orders')`.
 */
export { kv, type KvBucket, type KvChange, type KvDeleteOptions, type KvEntry, type KvOptions, type KvWatchOptions, type KvWriteOptions } from './kv.js';
export { lock, type Lock, type LockInfo, type LockOptions, type Lease, type AcquireOptions } from './lock.js';
export { semaphore, type Semaphore, type SemaphoreInfo, type SemaphoreOptions } from './semaphore.js';
export { barrier, type Barrier, type BarrierOptions, type BarrierWaitOptions } from './barrier.js';
export { condvar, type CondVar, type CondWaitOptions } from './condvar.js';
export { queue, listQueues, QUEUE_CONSUMER, QUEUE_STREAM_PREFIX, QUEUE_SUBJECT_PREFIX, type Queue } from './queue.js';
export { mailbox, MAILBOX_CONSUMER, type Mailbox } from './mailbox.js';
export type {
  QueueOptions,
  SendOptions,
  SendResult,
  QueueConsumeOptions,
  QueueMessage,
  QueueConsumer,
  DeadLetter,
  DeadLetters,
  QueueStat,
} from './queue-core.js';
export { PATTERN_PROVIDER, type PatternProvider, type PatternBus } from './provider.js';
