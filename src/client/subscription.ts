import { ErrorCode, PlexusError } from '../errors/index.js';
import type { Message } from './message.js';

/** What happens when a subscription's queue is full. */
export type OverflowPolicy = 'block' | 'drop-oldest' | 'drop-newest' | 'error';

/** Options for `subscribe`. */
export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  readonly queue?: string;
  /**
   * Content-based filter, applied by the broker: only messages whose headers carry every
   * listed key with the listed value (`*` = any value) are delivered.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Handle each message in a callback instead of iterating (no queue at all). */
  readonly callback?: (msg: Message) => void;
  /** Unsubscribe automatically after this many messages. */
  readonly max?: number;
  /** Queue bound in messages. @default 65536 */
  readonly maxPending?: number;
  /** Queue bound in payload bytes. @default 67108864 (64 MiB) */
  readonly maxPendingBytes?: number;
  /**
   * When the queue is full: `block` (default) stops reading from the broker until the
   * iterator catches up — nothing is lost, the broker holds back the publishers, and a
   * consumer stalled past the broker's write deadline is disconnected; `drop-oldest` /
   * `drop-newest` discard and count (`dropped`); `error` ends the iteration with
   * PLEXUS_ERR_SUBSCRIPTION_OVERFLOW.
   */
  readonly overflow?: OverflowPolicy;
  readonly signal?: AbortSignal;
}

/** What a subscription needs from its connection. */
export interface SubscriptionHost {
  unsubscribe(sub: Subscription): void;
  /** Stop / restart reading from the broker on this subscription's behalf. */
  setBlocked(sub: Subscription, blocked: boolean): void;
}

/**
 * A subscription: an `AsyncIterable<Message>` with a bounded queue (or a callback).
 * `break` out of the loop (or call `unsubscribe()`) to stop it.
 */
export class Subscription implements AsyncIterable<Message> {
  /** Messages received so far. */
  received = 0;
  /** Messages discarded by the overflow policy. */
  dropped = 0;
  private readonly queue: Message[] = [];
  private head = 0;
  private queuedBytes = 0;
  private waiter: ((r: IteratorResult<Message>) => void) | undefined;
  private waiterReject: ((e: unknown) => void) | undefined;
  private ended = false;
  private failure: unknown;
  private blocked = false;
  private readonly maxPending: number;
  private readonly maxPendingBytes: number;
  private readonly overflow: OverflowPolicy;
  private readonly callback: ((msg: Message) => void) | undefined;
  private readonly max: number;
  private readonly onAbort: (() => void) | undefined;
  private resolveClosed!: () => void;
  /** Settles when the subscription has ended (unsubscribed, max reached, closed). */
  readonly closed: Promise<void> = new Promise((r) => (this.resolveClosed = r));

  constructor(
    private readonly host: SubscriptionHost,
    readonly sid: number,
    readonly subject: string,
    readonly options: SubscribeOptions,
  ) {
    this.maxPending = options.maxPending ?? 65536;
    this.maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.overflow = options.overflow ?? 'block';
    this.callback = options.callback;
    this.max = options.max ?? Infinity;
    if (options.signal) {
      this.onAbort = () => this.unsubscribe();
      options.signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  get queueName(): string {
    return this.options.queue ?? '';
  }

  /** Messages waiting to be iterated. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Called by the connection for each message. */
  push(msg: Message): void {
    if (this.ended) return;
    this.received++;
    if (this.received >= this.max) this.host.unsubscribe(this);
    if (this.callback) {
      try {
        this.callback(msg);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
      if (this.received >= this.max) this.end();
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.waiterReject = undefined;
      w({ value: msg, done: false });
      if (this.received >= this.max) this.end();
      return;
    }
    if (this.pending >= this.maxPending || this.queuedBytes + msg.data.length > this.maxPendingBytes) {
      switch (this.overflow) {
        case 'drop-newest':
          this.dropped++;
          return;
        case 'drop-oldest':
          // Discard from the head until the new message fits. The old code dropped one
          // message unconditionally: into an empty queue (a message larger than
          // maxPendingBytes) that read `undefined.data` and threw inside the socket's data
          // handler, and it left dropped messages in the array, which grew without bound.
          while (this.pending > 0 && (this.pending >= this.maxPending || this.queuedBytes + msg.data.length > this.maxPendingBytes)) {
            this.shift();
            this.dropped++;
          }
          break;
        case 'error':
          this.fail(new PlexusError(ErrorCode.SUBSCRIPTION_OVERFLOW, `subscription to ${this.subject} overflowed (${this.pending} queued)`));
          this.host.unsubscribe(this);
          return;
        case 'block':
          break; // keep it: reading is paused below, so at most one socket chunk more arrives
      }
    }
    this.queue.push(msg);
    this.queuedBytes += msg.data.length;
    if (this.overflow === 'block' && !this.blocked && (this.pending >= this.maxPending || this.queuedBytes >= this.maxPendingBytes)) {
      this.blocked = true;
      this.host.setBlocked(this, true);
    }
    if (this.received >= this.max) this.end();
  }

  /** Stop receiving. Messages already queued can still be iterated. */
  unsubscribe(): void {
    if (this.ended) return;
    this.host.unsubscribe(this);
    this.end();
  }

  /** End iteration with an error (e.g. permission denied). */
  fail(err: unknown): void {
    if (this.ended) return;
    this.failure = err;
    this.end();
  }

  /** Mark ended; the iterator finishes after the queued messages. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.onAbort) this.options.signal?.removeEventListener('abort', this.onAbort);
    if (this.blocked) {
      this.blocked = false;
      this.host.setBlocked(this, false);
    }
    if (this.waiter) {
      const w = this.waiter;
      const rej = this.waiterReject!;
      this.waiter = this.waiterReject = undefined;
      if (this.failure !== undefined) rej(this.failure);
      else w({ value: undefined, done: true });
    }
    this.resolveClosed();
  }

  /** Remove the oldest queued message (the queue must not be empty). */
  private shift(): Message {
    const msg = this.queue[this.head]!;
    this.queue[this.head] = undefined as unknown as Message;
    this.head++;
    this.queuedBytes -= msg.data.length;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return msg;
  }

  private take(): Message | undefined {
    if (this.head >= this.queue.length) return undefined;
    const msg = this.shift();
    if (this.blocked && this.pending <= this.maxPending / 2 && this.queuedBytes <= this.maxPendingBytes / 2) {
      this.blocked = false;
      this.host.setBlocked(this, false);
    }
    return msg;
  }

  /** Next message, or done. */
  next(): Promise<IteratorResult<Message>> {
    const msg = this.take();
    if (msg) return Promise.resolve({ value: msg, done: false });
    if (this.ended) {
      if (this.failure !== undefined) {
        const f = this.failure;
        this.failure = undefined;
        return Promise.reject(f);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.callback) return Promise.reject(new PlexusError(ErrorCode.INVALID_ARGUMENT, 'a callback subscription cannot be iterated'));
    if (this.waiter) return Promise.reject(new PlexusError(ErrorCode.INVALID_ARGUMENT, 'one reader at a time'));
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.waiterReject = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return {
      next: () => this.next(),
      return: async () => {
        this.unsubscribe();
        return { value: undefined, done: true };
      },
    };
  }
}
