/**
 * The reading end of a `fifo://` feed: opens (or creates) the FIFO, reassembles each
 * writer's messages and hands them out as an async iterable with a bounded queue.
 */
import { constants as fsc, closeSync, fstatSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { waitForWake } from './wait-wake.js';
import { assertFifo, ensureFifo, fifoPath } from './fifo.js';
import {
  FifoRecordDecoder,
  type FifoDecoderOptions,
  type FifoDecoderStats,
  type FifoMessage,
  type FifoWriterIdentity,
} from './fifo-record.js';

/** Options for openFifoReader. */
export interface FifoReaderOptions extends FifoDecoderOptions {
  /** Create the FIFO when it does not exist. @default true */
  readonly create?: boolean;
  /** Mode of a FIFO this reader creates. @default 0o600 */
  readonly mode?: number;
  /**
   * Hold a write end open too, so the feed never reaches EOF and the reader runs until
   * `close()` (a long-lived collector). Off, the iteration ends when the last writer
   * closes — after at least one writer was there. @default false
   */
  readonly keepOpen?: boolean;
  /** Remove the FIFO from the file system on close. @default false */
  readonly unlinkOnClose?: boolean;
  /** Messages queued before the reader stops reading the pipe (writers then wait). @default 1024 */
  readonly highWaterMessages?: number;
  /** A writer said HELLO (`joined`), said BYE or was dropped at EOF (`left`). */
  readonly onWriter?: (event: 'joined' | 'left', writer: FifoWriterIdentity) => void;
}

/**
 * Reads one FIFO. Iterate it (`for await (const m of reader)`): each message comes with
 * its writer's pid, id and name. The iteration ends at EOF (every writer closed) unless
 * `keepOpen`, and throws PLEXUS_ERR_MALFORMED_FRAME if something that is not a Plexus fifo
 * writer wrote into the pipe. Breaking out of the loop closes the reader.
 */
export class FifoReader implements AsyncIterable<FifoMessage> {
  private readonly decoder: FifoRecordDecoder;
  private readonly queue: FifoMessage[] = [];
  /** Pending next() calls (several may wait at once); each re-checks when woken. */
  private readonly waiters = new Set<() => void>();
  private done = false;
  private failure: Error | undefined;
  private paused = false;
  private readonly highWater: number;

  private constructor(
    readonly path: string,
    private readonly socket: Socket,
    private readonly holdFd: number | undefined,
    private readonly options: FifoReaderOptions,
  ) {
    this.highWater = options.highWaterMessages ?? 1024;
    this.decoder = new FifoRecordDecoder(
      {
        message: (m) => {
          this.queue.push(m);
          if (this.queue.length >= this.highWater && !this.paused) {
            this.paused = true;
            socket.pause();
          }
          this.wake();
        },
        writerJoined: (w) => options.onWriter?.('joined', w),
        writerLeft: (w) => options.onWriter?.('left', w),
      },
      options,
    );
    socket.on('data', (chunk: Buffer) => {
      if (this.done) return;
      try {
        this.decoder.push(chunk);
      } catch (err) {
        this.finish(err as Error);
      }
    });
    socket.on('end', () => {
      this.decoder.end();
      this.finish(undefined);
    });
    socket.on('error', (err) => this.finish(new PlexusError(ErrorCode.CONNECTION_LOST, `reading ${path} failed: ${err.message}`, { cause: err })));
  }

  /** Open `fifo:///path` (or a path) for reading. Never blocks, even with no writer yet. */
  static async open(address: string, options: FifoReaderOptions = {}): Promise<FifoReader> {
    const path = fifoPath(address);
    if (options.create ?? true) await ensureFifo(path, options.mode ?? 0o600);
    else assertFifo(path, lstatSync(path));
    // O_NONBLOCK: open returns at once; the socket (libuv, epoll) then only wakes on data
    // or on the last writer leaving, so no event-loop thread or pool thread is held.
    const fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
    let holdFd: number | undefined;
    try {
      assertFifo(path, fstatSync(fd));
      if (options.keepOpen) holdFd = openSync(path, fsc.O_WRONLY | fsc.O_NONBLOCK);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new FifoReader(path, new Socket({ fd, readable: true, writable: false }), holdFd, options);
  }

  /** What the decoder counted: messages, writers seen, incomplete and oversized messages. */
  get stats(): Readonly<FifoDecoderStats> {
    return this.decoder.stats;
  }

  /** The next message, or null at the end. Rejects if the reader failed. */
  async next(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<FifoMessage | null> {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) throw signal.reason;
    // One deadline for the whole call: a wake-up that finds the queue empty again (another
    // next() took the message) does not restart the clock.
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        if (this.paused && this.queue.length < this.highWater / 2) {
          this.paused = false;
          this.socket.resume();
        }
        return m;
      }
      if (this.failure) throw this.failure;
      if (this.done) return null;
      await waitForWake(this.waiters, deadline, signal, () => new PlexusError(ErrorCode.TIMEOUT, `no message on ${this.path} within ${timeoutMs} ms`));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<FifoMessage> {
    try {
      for (;;) {
        const m = await this.next();
        if (m === null) return;
        yield m;
      }
    } finally {
      this.close();
    }
  }

  /** Stop reading and close the descriptor(s). Messages still queued can be read with next(). */
  close(): void {
    this.finish(undefined);
  }

  private finish(err: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.failure = err;
    this.socket.destroy();
    if (this.holdFd !== undefined) closeSync(this.holdFd);
    if (this.options.unlinkOnClose) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Shorthand for FifoReader.open. */
export function openFifoReader(address: string, options?: FifoReaderOptions): Promise<FifoReader> {
  return FifoReader.open(address, options);
}
