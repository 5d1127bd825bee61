/** What every process of the example agrees on. */
import type { QueueOptions } from '../../src/index.js';

/** The queue is created by whoever uses it first, with these settings. */
export const QUEUE_OPTIONS: QueueOptions = {
  /** A message not acknowledged within 2 s goes to another worker (RabbitMQ waits for the channel to close). */
  ackWaitMs: 2000,
  maxDeliver: 5,
};
